// safetensors reader: a round trip of written files, the real stories260K weights, sharded
// folders, and hostile inputs (truncated at every offset, flipped bytes, crafted headers) that
// must end in an error naming the file and the field, never a crash.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "format/safetensors.h"
#include "safetensors_test_util.h"
#include "test_support.h"

namespace shuo::format {
namespace {

using shuo::testing::f32_bytes;
using shuo::testing::safetensors_bytes;
using shuo::testing::StTensor;
namespace fs = std::filesystem;

std::vector<StTensor> sample() {
  return {{"a.weight", "F32", {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6})},
          {"b.bias", "F16", {4}, std::vector<uint8_t>(8, 0x3c)},
          {"c", "I64", {1}, std::vector<uint8_t>(8, 0)}};
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  auto r = SafetensorsFile::parse(bytes, "t.safetensors");
  return r.ok() ? std::string("ok") : r.error().to_string();
}

// A header given as text, with `data` bytes after it.
std::vector<uint8_t> raw(const std::string& header, size_t data = 0) {
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
  for (char ch : header) out.push_back(uint8_t(ch));
  out.resize(out.size() + data);
  return out;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("shuo_st_test_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Safetensors, ParsesTensorsMetadataAndTypes) {
  auto bytes = safetensors_bytes(sample(), {{"__metadata__", {{"format", "pt"}}}});
  auto f = SafetensorsFile::parse(bytes, "t.safetensors");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  ASSERT_EQ(f->tensors().size(), 3u);
  const auto* a = f->find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, GgmlType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->n_bytes, 24u);
  EXPECT_EQ(reinterpret_cast<const float*>(a->data)[5], 6.0f);
  EXPECT_EQ(f->find("b.bias")->type, GgmlType::F16);
  EXPECT_FALSE(f->find("c")->type.has_value());  // I64: readable, but not a weight type
  EXPECT_EQ(f->find("c")->dtype, "I64");
  EXPECT_EQ(f->find("missing"), nullptr);
  ASSERT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->metadata()[0], (std::pair<std::string, std::string>{"format", "pt"}));
}

TEST(Safetensors, EveryTruncationIsAnError) {
  const auto bytes = safetensors_bytes(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    auto r = SafetensorsFile::parse(cut, "t.safetensors");
    ASSERT_FALSE(r.ok()) << "truncated to " << n << " bytes parsed";
    EXPECT_EQ(r.error().where, "t.safetensors");
  }
}

TEST(Safetensors, FlippedBytesNeverCrash) {
  const auto bytes = safetensors_bytes(sample());
  int errors = 0;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (uint8_t x : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      auto b = bytes;
      b[i] ^= x;
      auto r = SafetensorsFile::parse(b, "t.safetensors");
      if (!r.ok()) ++errors;
      else  // whatever parsed is inside the buffer
        for (const auto& t : r->tensors()) ASSERT_LE(t.data + t.n_bytes, b.data() + b.size());
    }
  EXPECT_GT(errors, 0);
}

TEST(Safetensors, CraftedHeadersNameTheField) {
  auto has = [](const std::string& err, const std::string& part) {
    return err.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                               : ::testing::AssertionFailure() << err << "\n  lacks: " << part;
  };
  EXPECT_TRUE(has(error_of({1, 2, 3}), "header length (offset 0): needs 8 bytes"));
  EXPECT_EQ(error_of(raw("{}")), "ok");  // no tensors at all is a valid file
  auto huge = raw("{}");
  huge[6] = 1;  // 2^48 + 2 bytes of header
  EXPECT_TRUE(has(error_of(huge), "exceeds the limit"));
  auto past = raw("{}");
  past[0] = 200;
  EXPECT_TRUE(has(error_of(past), "runs past the end of the file"));
  EXPECT_TRUE(has(error_of(raw("[1,2]")), "header (offset 8): is not a JSON object"));
  EXPECT_TRUE(has(error_of(raw("{\"a\":")), "is not valid JSON"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1)), "x.dtype: unknown dtype 'Q4'"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)), "x.shape: dimensions must be non-negative"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8)), "x.data_offsets: span of 4 bytes, but F32 [2] needs 8"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4)), "x.data_offsets: begin 4 > end 0"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 2)), "needs more bytes than the data section"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":"0"}})", 4)), "x.data_offsets: must be [begin, end]"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8)), "4 bytes after the last tensor belong to none"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)), "x.data_offsets: leaves a gap of 4 bytes"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                  "y.data_offsets: overlaps x"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                  "x: tensor name appears twice"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", 4)), "x.extra: unknown field"));
  EXPECT_TRUE(has(error_of(raw(R"({"__metadata__":{"format":1}})")), "__metadata__.format: must be a string"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4)),
                  "needs more bytes than the data section"));
  EXPECT_TRUE(has(error_of(raw(R"({"x":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4)), "9 dimensions exceed the limit"));
  EXPECT_TRUE(has(error_of(raw("{\"\xff\":1}")), "is not valid JSON"));  // invalid UTF-8
}

TEST(Safetensors, OpensStories260K) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  auto f = SafetensorsFile::open((shuo::testing::testdata_dir() / "stories260K/model.safetensors").string());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->tensors().size(), 48u);
  const auto* q = f->find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(q->type, GgmlType::F32);
  ASSERT_NE(f->mapping(), nullptr);
  EXPECT_TRUE(f->mapping()->contains(q->data, q->n_bytes));
}

TEST(SafetensorsModel, OpensAShardedFolderThroughItsIndex) {
  TempDir d;
  shuo::testing::write_bytes(d.path / "model-00001-of-00002.safetensors",
                             safetensors_bytes({{"a", "F32", {2}, f32_bytes({1, 2})}, {"b", "F32", {1}, f32_bytes({3})}}));
  shuo::testing::write_bytes(d.path / "model-00002-of-00002.safetensors", safetensors_bytes({{"c", "F32", {1}, f32_bytes({4})}}));
  const nlohmann::json index = {{"metadata", {{"total_size", 16}}},
                                {"weight_map",
                                 {{"a", "model-00001-of-00002.safetensors"},
                                  {"b", "model-00001-of-00002.safetensors"},
                                  {"c", "model-00002-of-00002.safetensors"}}}};
  std::ofstream(d.path / "model.safetensors.index.json") << index.dump();
  auto m = SafetensorsModel::open_dir(d.path.string());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->files().size(), 2u);
  EXPECT_EQ(m->names(), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_NE(m->find("c"), nullptr);
  EXPECT_EQ(reinterpret_cast<const float*>(m->find("c")->data)[0], 4.0f);
  auto moved = std::move(*m);  // the index survives a move
  EXPECT_EQ(reinterpret_cast<const float*>(moved.find("a")->data)[1], 2.0f);

  auto error_with = [&](nlohmann::json idx) {
    std::ofstream(d.path / "model.safetensors.index.json") << idx.dump();
    auto r = SafetensorsModel::open_dir(d.path.string());
    return r.ok() ? std::string("ok") : r.error().to_string();
  };
  auto wrong = index;
  wrong["weight_map"]["a"] = "model-00002-of-00002.safetensors";
  EXPECT_NE(error_with(wrong).find("weight_map.a: names model-00002-of-00002.safetensors, but the tensor is in model-00001"),
            std::string::npos) << error_with(wrong);
  auto unopened = index;  // shard 2 is named nowhere, so c is looked for in shard 1
  unopened["weight_map"]["c"] = "model-00001-of-00002.safetensors";
  EXPECT_NE(error_with(unopened).find("weight_map.c: tensor is not in model-00001-of-00002.safetensors"), std::string::npos);
  auto escape = index;
  escape["weight_map"]["c"] = "../model-00002-of-00002.safetensors";
  EXPECT_NE(error_with(escape).find("weight_map.c: must be a file name in the folder"), std::string::npos);
  auto extra = index;
  extra["weight_map"]["d"] = "model-00002-of-00002.safetensors";
  EXPECT_NE(error_with(extra).find("weight_map.d: tensor is not in model-00002-of-00002.safetensors"), std::string::npos);
  auto lacking = index;
  lacking["weight_map"].erase("b");
  EXPECT_NE(error_with(lacking).find("weight_map: has no entry for tensor b"), std::string::npos);
  auto missing = index;
  missing["weight_map"]["c"] = "model-00003-of-00002.safetensors";
  EXPECT_NE(error_with(missing).find("model-00003-of-00002.safetensors: cannot open"), std::string::npos) << error_with(missing);
  EXPECT_NE(error_with(nlohmann::json::array()).find("must be a JSON object"), std::string::npos);
}

TEST(SafetensorsModel, NamesWhatAFolderLacks) {
  TempDir d;
  auto r = SafetensorsModel::open_dir(d.path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("no model.safetensors"), std::string::npos);
  std::ofstream(d.path / "pytorch_model.bin") << "x";
  r = SafetensorsModel::open_dir(d.path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message.find("pytorch_model.bin"), std::string::npos);
}

}  // namespace
}  // namespace shuo::format
