// `shuo bench` on stories260K with tiny sizes: the JSON lines and the table carry every field
// llama-bench-style consumers read; bad arguments fail with a message. Never asserts speed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "cli_test_util.h"

using shuo::testing::run_shuo;

namespace {
std::string stories() { return (shuo::testing::testdata_dir() / "stories260K/model.gguf").string(); }
}  // namespace

TEST(CliBench, JsonLinesHaveEveryField) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto r = run_shuo({"bench", "-m", stories(), "-p", "16", "-n", "4", "-r", "2", "-t", "1", "--batch", "1,3",
                     "--json", "--bw-mib", "8", "--bw-reps", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("memory read bandwidth"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kernel isa"), std::string::npos) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0]["test"], "pp16");
  EXPECT_TRUE(rows[0]["bandwidth_pct"].is_null());
  EXPECT_EQ(rows[1]["test"], "tg4");
  EXPECT_EQ(rows[1]["batch"], 1);
  EXPECT_EQ(rows[2]["batch"], 3);
  for (const auto& j : rows) {
    for (const char* k : {"model", "type", "threads", "batch", "test", "tokens_per_s", "stddev", "bandwidth_pct"})
      EXPECT_TRUE(j.contains(k)) << k << " in " << j.dump();
    EXPECT_EQ(j["type"], "F32");
    EXPECT_EQ(j["threads"], 1);
    EXPECT_GT(j["tokens_per_s"].get<double>(), 0.0);
  }
  EXPECT_GT(rows[1]["bandwidth_pct"].get<double>(), 0.0);
}

TEST(CliBench, TablePrintsIsaAndRows) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto r = run_shuo({"bench", "-m", stories(), "-p", "8", "-n", "2", "-r", "1", "-t", "1", "--bw-mib", "8",
                     "--bw-reps", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("cpu features:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernel isa:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| pp8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg2"), std::string::npos) << r.out;
}

TEST(CliBench, BadArgumentsFail) {
  auto missing = run_shuo({"bench", "-m", "/nonexistent.gguf", "--bw-mib", "1", "--bw-reps", "1"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("/nonexistent.gguf"), std::string::npos) << missing.err;
  auto reps = run_shuo({"bench", "-m", "/nonexistent.gguf", "-r", "0"});
  EXPECT_EQ(reps.status, 1);
  EXPECT_NE(reps.err.find("-r"), std::string::npos) << reps.err;
  auto batch = run_shuo({"bench", "-m", "/nonexistent.gguf", "--batch", "0"});
  EXPECT_EQ(batch.status, 1);
  EXPECT_NE(batch.err.find("--batch"), std::string::npos) << batch.err;
}

// -d: tests run over a cache that already holds that many positions (llama-bench's depth). Each
// depth of the list gets its pp and tg rows, JSON says which, the table writes "@ d N". A
// decode's bandwidth share counts the cached K/V it reads, so at depth it is larger than
// with an empty cache at the same speed; here only that it is there and positive.
TEST(CliBench, DepthRunsOverAFilledCache) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto r = run_shuo({"bench", "-m", stories(), "-p", "8", "-n", "4", "-d", "0,200", "-r", "1", "-t", "1", "--json",
                     "--bw-mib", "8", "--bw-reps", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_EQ(rows[0]["depth"], 0);
  EXPECT_EQ(rows[2]["depth"], 200);
  EXPECT_EQ(rows[2]["test"], "pp8");
  EXPECT_EQ(rows[3]["test"], "tg4");
  EXPECT_GT(rows[3]["bandwidth_pct"].get<double>(), 0.0);
  auto table = run_shuo({"bench", "-m", stories(), "-p", "4", "-n", "0", "-d", "32", "-r", "1", "-t", "1",
                         "--bw-mib", "8", "--bw-reps", "1"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("| pp4 @ d32"), std::string::npos) << table.out;
  // A negative depth is refused naming the flag.
  auto bad = run_shuo({"bench", "-m", stories(), "-d", "-5", "--bw-mib", "1", "--bw-reps", "1"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("-d"), std::string::npos) << bad.err;
}
