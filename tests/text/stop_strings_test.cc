// StopStringMatcher tests: stops straddling pieces, false starts emitted unchanged, overlapping
// stops, and streamed results equal to a plain one-shot search for any splitting.
#include "text/stop_strings.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "text/stream_decoder.h"
#include "text/utf8.h"

namespace shuo::text {
namespace {

StopStringMatcher make(std::vector<std::string> stops) {
  auto m = StopStringMatcher::create(std::move(stops));
  EXPECT_TRUE(m.ok());
  return std::move(m).value();
}

struct Outcome {
  std::vector<std::string> emits;  // one per push, then the flush
  std::string text;
  bool stopped = false;
};

Outcome run(std::vector<std::string> stops, const std::vector<std::string>& pieces) {
  StopStringMatcher m = make(std::move(stops));
  Outcome r;
  for (const std::string& p : pieces) {
    StopPush out = m.push(p);
    r.emits.push_back(out.emit);
    r.stopped = r.stopped || out.stopped;
  }
  r.emits.push_back(m.flush());
  for (const std::string& e : r.emits) r.text += e;
  return r;
}

// Plain reference: scan end offsets left to right; the first end at which some stop string ends
// wins, the longest such stop at that end. Returns the text before it, or all of it.
std::string ref_cut(const std::string& text, const std::vector<std::string>& stops, bool* found) {
  for (size_t end = 1; end <= text.size(); ++end) {
    size_t best = 0;
    for (const std::string& s : stops)
      if (s.size() <= end && text.compare(end - s.size(), s.size(), s) == 0)
        best = std::max(best, s.size());
    if (best > 0) {
      *found = true;
      return text.substr(0, end - best);
    }
  }
  *found = false;
  return text;
}

TEST(StopStrings, NoStopsPassesThrough) {
  const Outcome r = run({}, {"abc", "", "def"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"abc", "", "def", ""}));
  EXPECT_FALSE(r.stopped);
}

TEST(StopStrings, StraddlingTwoPieces) {
  const Outcome r = run({"</s>"}, {"Hello</", "s> more"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"Hello", "", ""}));
  EXPECT_TRUE(r.stopped);
}

TEST(StopStrings, StraddlingThreePieces) {
  const Outcome r = run({"<|end|>"}, {"ab<", "|end", "|>tail"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"ab", "", "", ""}));
  EXPECT_TRUE(r.stopped);
}

TEST(StopStrings, StopAtTheVeryStart) {
  const Outcome r = run({"STOP"}, {"STOP", "more"});
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStrings, FalseStartIsEmittedLaterUnchanged) {
  const Outcome r = run({"</s>"}, {"a</", "x> b<", "/s"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"a", "</x> b", "", "</s"}));
  EXPECT_FALSE(r.stopped);
}

TEST(StopStrings, NothingAfterStop) {
  StopStringMatcher m = make({"x"});
  EXPECT_EQ(m.push("abxcd").emit, "ab");
  EXPECT_TRUE(m.stopped());
  const StopPush later = m.push("efg");
  EXPECT_EQ(later.emit, "");
  EXPECT_TRUE(later.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopStrings, ShorterStopCompletedFirstWins) {
  EXPECT_EQ(run({"ab", "abc"}, {"xabc"}).text, "x");
  EXPECT_EQ(run({"abc", "ab"}, {"xa", "bc"}).text, "x");
  // "bc" is complete before "abcd" could be: the cut is at "bc", whatever the splitting.
  EXPECT_EQ(run({"abcd", "bc"}, {"abcd"}).text, "a");
  EXPECT_EQ(run({"abcd", "bc"}, {"ab", "cd"}).text, "a");
  // Both end at the same byte: the longer one, starting earlier, cuts.
  EXPECT_EQ(run({"b", "ab"}, {"xab"}).text, "x");
}

TEST(StopStrings, SelfOverlappingStop) {
  const Outcome r = run({"aab"}, {"a", "a", "a", "b", "c"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"", "", "a", "", "", ""}));
  EXPECT_EQ(run({"abab"}, {"abababx"}).text, "");
  EXPECT_EQ(run({"abac"}, {"ababac"}).text, "ab");
}

TEST(StopStrings, MultipleStops) {
  const std::vector<std::string> stops = {"\n\n", "User:", "###", "<|im_end|>"};
  EXPECT_EQ(run(stops, {"Answer: 42\nUs", "er: hi"}).text, "Answer: 42\n");
  EXPECT_EQ(run(stops, {"one\n", "\ntwo"}).text, "one");
  EXPECT_EQ(run(stops, {"a ## b #", "##"}).text, "a ## b ");
  EXPECT_EQ(run(stops, {"fine<|im_", "end|>"}).text, "fine");
}

TEST(StopStrings, FlushReturnsHeldText) {
  StopStringMatcher m = make({"<|im_end|>"});
  EXPECT_EQ(m.push("hello <|im").emit, "hello ");
  EXPECT_EQ(m.held_bytes(), 4u);
  EXPECT_EQ(m.flush(), "<|im");
  EXPECT_EQ(m.held_bytes(), 0u);
}

TEST(StopStrings, LongStopHeldOnlyAsFarAsItMatches) {
  const std::string stop(300, 'z');
  StopStringMatcher m = make({stop});
  EXPECT_EQ(m.push(std::string(299, 'z')).emit, "");
  EXPECT_EQ(m.push("y").emit, std::string(299, 'z') + "y");
  EXPECT_EQ(m.push(std::string(150, 'z')).emit, "");
  const StopPush out = m.push(std::string(200, 'z'));
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(out.emit, "");
}

TEST(StopStrings, ChineseStopOnCharacterPieces) {
  const Outcome r = run({"用户："}, {"回答", "。用", "户", "：你好"});
  EXPECT_EQ(r.text, "回答。");
  for (const std::string& e : r.emits) EXPECT_TRUE(is_valid_utf8(e));
}

// The pipeline the API runs: token bytes → StreamDecoder → StopStringMatcher. Token boundaries
// cut characters anywhere; every emitted piece must still be whole characters.
TEST(StopStrings, AfterStreamDecoderEveryPieceIsValidUtf8) {
  const std::string text = "好的😀，结束了吗？<|结束|>不应出现";
  for (size_t cut = 1; cut < text.size(); ++cut) {
    std::vector<std::string> tokens;
    for (size_t i = 0; i < text.size(); i += cut) tokens.push_back(text.substr(i, cut));
    StreamDecoder dec([&](int32_t t) { return tokens.at(t); });
    StopStringMatcher m = make({"<|结束|>"});
    std::string all;
    bool stopped = false;
    for (size_t t = 0; t < tokens.size() && !stopped; ++t) {
      const StopPush out = m.push(dec.push(static_cast<int32_t>(t)));
      EXPECT_TRUE(is_valid_utf8(out.emit)) << "cut " << cut;
      all += out.emit;
      stopped = out.stopped;
    }
    ASSERT_TRUE(stopped) << "cut " << cut;
    EXPECT_EQ(all, "好的😀，结束了吗？") << "cut " << cut;
  }
}

TEST(StopStrings, RandomSplitsMatchOneShotSearch) {
  std::mt19937 gen(77);
  auto random_string = [&](size_t min_len, size_t max_len) {
    std::string s(std::uniform_int_distribution<size_t>(min_len, max_len)(gen), 'a');
    for (char& ch : s) ch = "abc"[std::uniform_int_distribution<int>(0, 2)(gen)];
    return s;  // a 3-letter alphabet makes partial and overlapping matches common
  };
  int n_found = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::string> stops;
    const int n_stops = std::uniform_int_distribution<int>(1, 4)(gen);
    for (int i = 0; i < n_stops; ++i) stops.push_back(random_string(1, 5));
    const std::string text = random_string(0, 30);
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size();) {
      const size_t len = std::uniform_int_distribution<size_t>(0, 5)(gen);
      pieces.push_back(text.substr(i, len));
      i += len;
    }
    bool found = false;
    const std::string expected = ref_cut(text, stops, &found);
    const Outcome r = run(stops, pieces);
    ASSERT_EQ(r.text, expected) << "text " << text << " stops " << ::testing::PrintToString(stops);
    ASSERT_EQ(r.stopped, found) << "text " << text;
    n_found += found;
  }
  EXPECT_GT(n_found, 1000);  // both outcomes are well exercised
  EXPECT_LT(n_found, 2900);
}

TEST(StopStrings, ValidationNamesStop) {
  auto expect_bad = [](std::vector<std::string> stops) {
    const auto r = StopStringMatcher::create(std::move(stops));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kBadField);
    EXPECT_EQ(r.error().where, "stop");
  };
  expect_bad({"a", "b", "c", "d", "e"});
  expect_bad({"a", ""});
  expect_bad({"ok", "\xE4\xB8"});
  EXPECT_TRUE(validate_stop_strings({"a", "b", "c", "d"}).ok());
  EXPECT_TRUE(validate_stop_strings({}).ok());
}

}  // namespace
}  // namespace shuo::text
