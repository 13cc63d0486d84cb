// GGUF reader: typed metadata on the real test model, writer round trip, and hostile files
// (truncated at every header offset, flipped bytes, crafted bad counts/offsets) → typed errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "test_support.h"

using namespace shuo;
using namespace shuo::format;

namespace {

std::string stories_path() { return (shuo::testing::testdata_dir() / "stories260K/model.gguf").string(); }

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::string s = shuo::testing::read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// A small valid file with every value type, nested arrays and two tensors.
GgufWriter sample_writer(std::vector<float>& a, std::vector<uint8_t>& b) {
  GgufWriter w;
  w.set("u8", GgufValue{uint8_t(200)});
  w.set("i8", GgufValue{int8_t(-5)});
  w.set("u16", GgufValue{uint16_t(60000)});
  w.set("i16", GgufValue{int16_t(-30000)});
  w.set_u32("u32", 4000000000u);
  w.set_i32("i32", -7);
  w.set_f32("f32", 1.5f);
  w.set_bool("flag", true);
  w.set_str("name", "shuo 说");
  w.set("u64", GgufValue{uint64_t(1) << 40});
  w.set("i64", GgufValue{int64_t(-1) << 40});
  w.set("f64", GgufValue{2.25});
  w.set_str_array("strs", {"a", "", "你好"});
  w.set_f32_array("floats", {0.5f, -1.0f});
  auto inner = std::make_shared<GgufArray>();
  inner->elem_type = GgufType::INT32;
  inner->items = {GgufValue{int32_t(1)}, GgufValue{int32_t(2)}};
  auto outer = std::make_shared<GgufArray>();
  outer->elem_type = GgufType::ARRAY;
  outer->items = {GgufValue{std::shared_ptr<const GgufArray>(inner)}};
  w.set("nested", GgufValue{std::shared_ptr<const GgufArray>(outer)});
  a = {1, 2, 3, 4, 5, 6};
  b.assign(34, 0);  // one Q8_0 block
  EXPECT_TRUE(w.add_tensor("a", GgmlType::F32, {3, 2}, {reinterpret_cast<const uint8_t*>(a.data()), a.size() * 4}).ok());
  EXPECT_TRUE(w.add_tensor("b", GgmlType::Q8_0, {32}, b).ok());
  return w;
}

}  // namespace

TEST(Gguf, ReadsStoriesModel) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto f = GgufFile::open(stories_path());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 26u);
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(*f->get<std::string>("general.architecture"), "llama");
  EXPECT_EQ(*f->get<uint32_t>("llama.block_count"), 5u);
  EXPECT_EQ(*f->get<int64_t>("llama.block_count"), 5);  // widening is allowed
  EXPECT_FLOAT_EQ(*f->get<float>("llama.rope.freq_base"), 10000.0f);
  auto tokens = f->get_array<std::string>("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[1], "<s>");
  const auto* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(emb->n_bytes, 64u * 512u * 4u);
}

TEST(Gguf, AccessorErrorsNameTheKey) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto f = GgufFile::open(stories_path());
  ASSERT_TRUE(f.ok());
  auto missing = f->get<uint32_t>("llama.nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().where, "llama.nope");
  auto wrong = f->get<std::string>("llama.block_count");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().where, "llama.block_count");
  EXPECT_NE(wrong.error().message.find("uint32"), std::string::npos) << wrong.error().message;
  auto narrow = f->get<int8_t>("llama.vocab_size");  // 512 does not fit
  EXPECT_FALSE(narrow.ok());
  auto opt = f->get_optional<float>("missing.key");
  ASSERT_TRUE(opt.ok());
  EXPECT_FALSE(opt->has_value());
}

TEST(Gguf, WriterRoundTripsEveryType) {
  std::vector<float> a;
  std::vector<uint8_t> b;
  GgufWriter w = sample_writer(a, b);
  auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "mem");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(*f->get<uint8_t>("u8"), 200);
  EXPECT_EQ(*f->get<int8_t>("i8"), -5);
  EXPECT_EQ(*f->get<uint16_t>("u16"), 60000);
  EXPECT_EQ(*f->get<int16_t>("i16"), -30000);
  EXPECT_EQ(*f->get<uint32_t>("u32"), 4000000000u);
  EXPECT_EQ(*f->get<int32_t>("i32"), -7);
  EXPECT_EQ(*f->get<float>("f32"), 1.5f);
  EXPECT_TRUE(*f->get<bool>("flag"));
  EXPECT_EQ(*f->get<std::string>("name"), "shuo 说");
  EXPECT_EQ(*f->get<uint64_t>("u64"), uint64_t(1) << 40);
  EXPECT_EQ(*f->get<int64_t>("i64"), int64_t(-1) << 40);
  EXPECT_EQ(*f->get<double>("f64"), 2.25);
  EXPECT_EQ(*f->get_array<std::string>("strs"), (std::vector<std::string>{"a", "", "你好"}));
  EXPECT_EQ(*f->get_array<float>("floats"), (std::vector<float>{0.5f, -1.0f}));
  auto nested = f->get_array_ref("nested");
  ASSERT_TRUE(nested.ok());
  ASSERT_EQ((*nested)->items.size(), 1u);
  const auto& inner = std::get<std::shared_ptr<const GgufArray>>((*nested)->items[0].v);
  EXPECT_EQ(inner->items.size(), 2u);
  const auto* ta = f->find_tensor("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->ne, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(std::memcmp(ta->data, a.data(), 24), 0);
  EXPECT_EQ(f->find_tensor("b")->type, GgmlType::Q8_0);
  EXPECT_EQ(ta->offset % 32, 0u);
  EXPECT_EQ(f->find_tensor("b")->offset % 32, 0u);
}

// GGUF v2 has the same layout as v3 for little-endian files (v3 added big-endian support).
TEST(Gguf, ReadsVersion2) {
  std::vector<float> a;
  std::vector<uint8_t> b;
  auto bytes = sample_writer(a, b).to_bytes();
  bytes[4] = 2;  // version field, little-endian uint32 at offset 4
  auto f = GgufFile::parse(bytes, "v2");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(*f->get<std::string>("name"), "shuo 说");
  EXPECT_EQ(f->tensors().size(), 2u);
}

TEST(Gguf, WriterRejectsWrongTensorSize) {
  GgufWriter w;
  std::vector<uint8_t> data(10);
  auto r = w.add_tensor("t", GgmlType::F32, {4}, data);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "t");
  auto r2 = w.add_tensor("q", GgmlType::Q4_0, {31}, data);
  EXPECT_FALSE(r2.ok());
}

// Every truncation of the real model must end in a kBadFile error that names the file.
TEST(GgufCorrupt, TruncationAtEveryHeaderOffsetAndAcrossData) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto bytes = file_bytes(stories_path());
  auto full = GgufFile::parse(bytes, "stories");
  ASSERT_TRUE(full.ok());
  std::vector<size_t> cuts;
  for (size_t n = 0; n <= full->data_offset() + 64; ++n) cuts.push_back(n);
  for (size_t n = full->data_offset(); n < bytes.size(); n += 997) cuts.push_back(n);
  cuts.push_back(bytes.size() - 1);
  for (size_t n : cuts) {
    auto r = GgufFile::parse(std::span(bytes.data(), n), "stories");
    ASSERT_FALSE(r.ok()) << "truncated at " << n << " bytes parsed without error";
    EXPECT_EQ(r.error().code, ErrorCode::kBadFile) << n;
    EXPECT_EQ(r.error().where, "stories") << n;
    EXPECT_NE(r.error().message.find("offset"), std::string::npos) << r.error().message;
  }
}

// Flipped bytes anywhere in the header: either still a valid file or a typed error, never a crash.
TEST(GgufCorrupt, ByteFlipsInHeader) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto bytes = file_bytes(stories_path());
  auto full = GgufFile::parse(bytes, "stories");
  ASSERT_TRUE(full.ok());
  int errors = 0, oks = 0;
  for (size_t pos = 0; pos < full->data_offset(); pos += 5) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      auto copy = bytes;
      copy[pos] ^= mask;
      auto r = GgufFile::parse(copy, "flipped");
      if (r.ok()) { ++oks; continue; }
      ++errors;
      EXPECT_EQ(r.error().code, ErrorCode::kBadFile) << "pos " << pos << ": " << r.error().to_string();
    }
  }
  EXPECT_GT(errors, 100);  // length and count fields must be caught
}

namespace {
// Minimal hand-built files for the checks a writer would never produce.
struct Builder {
  std::vector<uint8_t> b;
  template <typename T> Builder& put(T v) { auto* p = reinterpret_cast<uint8_t*>(&v); b.insert(b.end(), p, p + sizeof v); return *this; }
  Builder& str(const std::string& s) { put<uint64_t>(s.size()); b.insert(b.end(), s.begin(), s.end()); return *this; }
  Builder& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) { return put<uint32_t>(0x46554747u).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv); }
  Builder& tensor(const std::string& name, std::vector<int64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(ne.size());
    for (auto d : ne) put<int64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Builder& pad(size_t align = 32) { while (b.size() % align) b.push_back(0); return *this; }
  Builder& zeros(size_t n) { b.insert(b.end(), n, 0); return *this; }
};

std::string parse_error(const std::vector<uint8_t>& bytes) {
  auto r = GgufFile::parse(bytes, "crafted");
  if (r.ok()) return "OK";
  EXPECT_EQ(r.error().code, ErrorCode::kBadFile);
  return r.error().message;
}
}  // namespace

TEST(GgufCorrupt, CraftedHeaders) {
  EXPECT_NE(parse_error(Builder().put<uint32_t>(0x12345678).put<uint32_t>(3).zeros(16).b).find("magic"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(0, 0, 1).b).find("version"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(uint64_t(1) << 60, 0).b).find("tensor_count"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(0, uint64_t(1) << 60).b).find("metadata_kv_count"), std::string::npos);
  // A key whose length runs past the end.
  EXPECT_NE(parse_error(Builder().header(0, 1).put<uint64_t>(1000).zeros(20).b).find("runs past the end"), std::string::npos);
  // Unknown value type.
  EXPECT_NE(parse_error(Builder().header(0, 1).str("k").put<uint32_t>(99).zeros(16).b).find("unknown value type"), std::string::npos);
  // Array with an impossible length.
  EXPECT_NE(parse_error(Builder().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(uint64_t(1) << 62).zeros(16).b).find("runs past the end"), std::string::npos);
  // Arrays nested too deep.
  {
    Builder bd; bd.header(0, 1).str("deep").put<uint32_t>(9);
    for (int i = 0; i < 20; ++i) bd.put<uint32_t>(9).put<uint64_t>(1);
    bd.zeros(64);
    EXPECT_NE(parse_error(bd.b).find("nested"), std::string::npos);
  }
  // Bool that is not 0/1; duplicate keys.
  EXPECT_NE(parse_error(Builder().header(0, 1).str("b").put<uint32_t>(7).put<uint8_t>(7).b).find("bool"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2).b).find("duplicate"), std::string::npos);
}

TEST(GgufCorrupt, CraftedTensorInfos) {
  auto one = [](std::vector<int64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    return Builder().header(1, 0).tensor("t", ne, type, offset).pad().zeros(data).b;
  };
  EXPECT_EQ(parse_error(one({4}, 0, 0, 16)), "OK");
  EXPECT_NE(parse_error(one({4}, 77, 0, 16)).find("unknown tensor type"), std::string::npos);
  EXPECT_NE(parse_error(one({4}, 0, 4, 16)).find("alignment"), std::string::npos);
  EXPECT_NE(parse_error(one({4}, 0, 32, 16)).find("past the end"), std::string::npos);
  EXPECT_NE(parse_error(one({5}, 8, 0, 64)).find("block size"), std::string::npos);  // Q8_0 needs 32
  EXPECT_NE(parse_error(one({int64_t(1) << 40, int64_t(1) << 40}, 0, 0, 16)).find("overflow"), std::string::npos);
  EXPECT_NE(parse_error(one({-4}, 0, 0, 16)).find("negative"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(1, 0).str("t").put<uint32_t>(0).put<uint32_t>(0).put<uint64_t>(0).pad().b).find("n_dims"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(1, 0).str("t").put<uint32_t>(9).zeros(200).b).find("n_dims"), std::string::npos);
  // Two tensors: overlapping data, duplicate names.
  EXPECT_NE(parse_error(Builder().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128).b).find("overlaps"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad().zeros(128).b).find("duplicate"), std::string::npos);
  // Bad alignment value.
  EXPECT_NE(parse_error(Builder().header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(3).b).find("power of two"), std::string::npos);
}

TEST(Gguf, OpenReportsMissingFile) {
  auto r = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().where, "/nonexistent/model.gguf");
}

TEST(GgufAssemble, ShareRebuildsTheSameFileAndOwnsNewTensors) {
  std::vector<float> a;
  std::vector<uint8_t> b;
  auto bytes = sample_writer(a, b).to_bytes();
  auto f = GgufFile::parse(bytes, "sample");
  ASSERT_TRUE(f.ok()) << f.error().to_string();

  GgufAssembly parts = f->share();
  parts.name = "sample+c";
  auto c = std::make_shared<std::vector<float>>(std::vector<float>{7, 8, 9, 10});
  GgufTensorInfo t;
  t.name = "c";
  t.type = GgmlType::F32;
  t.ne = {2, 2};
  t.data = reinterpret_cast<const uint8_t*>(c->data());
  parts.tensors.push_back(t);
  parts.owners.push_back(c);
  c.reset();  // the assembly keeps the buffer alive
  auto g = GgufFile::assemble(std::move(parts));
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_TRUE(g->assembled());
  EXPECT_FALSE(f->assembled());
  EXPECT_EQ(g->path(), "sample+c");
  EXPECT_EQ(*g->get<std::string>("name"), "shuo 说");
  ASSERT_EQ(g->tensors().size(), 3u);
  EXPECT_EQ(g->find_tensor("a")->data, f->find_tensor("a")->data);  // shared, not copied
  EXPECT_EQ(g->find_tensor("b")->n_bytes, 34u);
  const auto* tc = g->find_tensor("c");
  ASSERT_NE(tc, nullptr);
  EXPECT_EQ(tc->n_bytes, 16u);
  EXPECT_EQ(tc->offset % 32, 0u);
  EXPECT_GT(tc->offset, g->find_tensor("b")->offset);
  EXPECT_EQ(reinterpret_cast<const float*>(tc->data)[3], 10.0f);
}

TEST(GgufAssemble, RejectsWhatAParsedFileCouldNotHold) {
  std::vector<float> a;
  std::vector<uint8_t> b;
  auto bytes = sample_writer(a, b).to_bytes();
  auto f = GgufFile::parse(bytes, "sample");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  auto error_of = [&](auto edit) {
    GgufAssembly parts = f->share();
    edit(parts);
    auto r = GgufFile::assemble(std::move(parts));
    return r.ok() ? std::string("ok") : r.error().to_string();
  };
  EXPECT_NE(error_of([](GgufAssembly& p) { p.tensors.push_back(p.tensors[0]); }).find("a: duplicate tensor name"), std::string::npos);
  EXPECT_NE(error_of([](GgufAssembly& p) { p.metadata.push_back(p.metadata[0]); }).find("u8: duplicate metadata key"), std::string::npos);
  EXPECT_NE(error_of([](GgufAssembly& p) { p.tensors[1].ne = {16}; }).find("b: first dimension 16 is not a multiple of the Q8_0 block size 32"),
            std::string::npos);
  EXPECT_NE(error_of([](GgufAssembly& p) { p.tensors[0].data = nullptr; }).find("a: no data"), std::string::npos);
  EXPECT_NE(error_of([](GgufAssembly& p) { p.tensors[0].ne = {3, 0}; }).find("not positive"), std::string::npos);
  EXPECT_NE(error_of([](GgufAssembly& p) { p.tensors[0].ne = {1, 1, 1, 1, 1}; }).find("1 to 4 dimensions"), std::string::npos);
}

TEST(MappedFile, MapsAFileAndKnowsItsRange) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / ("shuo_mapped_file_test_" + std::to_string(::getpid()))).string();
  { std::ofstream(path) << std::string(10000, 'x'); }
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  ASSERT_EQ((*m)->bytes().size(), 10000u);
  const uint8_t* p = (*m)->bytes().data();
  EXPECT_TRUE((*m)->contains(p, 10000));
  EXPECT_FALSE((*m)->contains(p + 1, 10000));
  EXPECT_FALSE((*m)->contains(p - 1, 1));
  (*m)->release_pages(p, 10000);  // the bytes stay readable: they map again from the file
  EXPECT_EQ(p[9999], 'x');
  EXPECT_EQ(MappedFile::open(dir.string()).error().message, "not a regular file");
  m = Error{ErrorCode::kIo, "", ""};  // unmaps before the file goes
  std::filesystem::remove(path);
}
