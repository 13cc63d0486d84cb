// GgufStreamWriter: byte-identical to GgufWriter for the same content however the data is cut
// into pieces; too many or too few bytes are errors; an unfinished file never appears.
#include <gtest/gtest.h>

#include <filesystem>

#include "format/gguf_stream_writer.h"
#include "format/gguf_writer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace shuo::format;

namespace {

struct Content {
  std::vector<std::pair<std::string, GgufValue>> kv;
  std::vector<GgufStreamTensor> tensors;
  std::vector<std::vector<uint8_t>> data;
};

Content sample() {
  Content c;
  c.kv.emplace_back("general.architecture", GgufValue{std::string("llama")});
  c.kv.emplace_back("x.count", GgufValue{uint32_t(7)});
  auto arr = std::make_shared<GgufArray>();
  arr->elem_type = GgufType::STRING;
  arr->items = {GgufValue{std::string("a")}, GgufValue{std::string("bc")}};
  c.kv.emplace_back("x.strings", GgufValue{std::shared_ptr<const GgufArray>(arr)});
  c.tensors = {{"a.weight", GgmlType::F32, {3}}, {"b.weight", GgmlType::Q8_0, {64, 3}}, {"c.weight", GgmlType::F16, {5, 2}}};
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const auto& t = c.tensors[i];
    size_t n = *ggml_row_bytes(t.type, t.ne[0]) * size_t(t.ne.size() > 1 ? t.ne[1] : 1);
    std::vector<uint8_t> d(n);
    for (size_t j = 0; j < n; ++j) d[j] = uint8_t(j * 31 + i);
    c.data.push_back(std::move(d));
  }
  return c;
}

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() / ("shuo_stream_writer_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace

TEST(GgufStreamWriter, MatchesGgufWriterForAnyPieceSize) {
  const Content c = sample();
  GgufWriter ref;
  for (const auto& [k, v] : c.kv) ref.set(k, v);
  for (size_t i = 0; i < c.tensors.size(); ++i)
    ASSERT_TRUE(ref.add_tensor(c.tensors[i].name, c.tensors[i].type, c.tensors[i].ne, c.data[i]).ok());
  const std::vector<uint8_t> want = ref.to_bytes();

  for (size_t piece : {size_t(1), size_t(7), size_t(1) << 20}) {
    const auto path = tmp("piece.gguf");
    GgufStreamWriter w;
    ASSERT_TRUE(w.open(path.string(), c.kv, c.tensors).ok());
    EXPECT_FALSE(fs::exists(path));  // only the .tmp exists until finish()
    for (const auto& d : c.data)
      for (size_t o = 0; o < d.size(); o += piece)
        ASSERT_TRUE(w.write({d.data() + o, std::min(piece, d.size() - o)}).ok());
    ASSERT_TRUE(w.finish().ok());
    const std::string got = shuo::testing::read_file(path);
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), want) << "piece " << piece;
    auto f = GgufFile::open(path.string());
    ASSERT_TRUE(f.ok()) << f.error().to_string();
    EXPECT_EQ(f->tensors().size(), 3u);
    fs::remove(path);
  }
}

TEST(GgufStreamWriter, WrongByteCountsAreErrors) {
  const Content c = sample();
  const auto path = tmp("short.gguf");
  {
    GgufStreamWriter w;
    ASSERT_TRUE(w.open(path.string(), c.kv, c.tensors).ok());
    ASSERT_TRUE(w.write(c.data[0]).ok());
    auto r = w.finish();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "b.weight");
  }
  {
    GgufStreamWriter w;
    ASSERT_TRUE(w.open(path.string(), c.kv, c.tensors).ok());
    for (const auto& d : c.data) ASSERT_TRUE(w.write(d).ok());
    const uint8_t extra = 1;
    EXPECT_FALSE(w.write({&extra, 1}).ok());
  }  // destroyed unfinished: the temp file is removed
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

TEST(GgufStreamWriter, RejectsBadTables) {
  GgufStreamWriter w;
  const auto path = tmp("bad.gguf").string();
  auto r = w.open(path, {}, {{"q.weight", GgmlType::Q4_0, {48, 2}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "q.weight");
  r = w.open(path, {}, {{"a", GgmlType::F32, {2}}, {"a", GgmlType::F32, {2}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("duplicate"), std::string::npos);
  r = w.open(path, {{"general.alignment", GgufValue{uint32_t(48)}}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "general.alignment");
}
