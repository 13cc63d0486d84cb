// StreamDecoder and UTF-8 helper tests: text split at every byte boundary streams back intact,
// every emitted piece is valid UTF-8, invalid runs get exactly one U+FFFD at the right place.
#include "text/stream_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "text/utf8.h"

namespace shuo::text {
namespace {

const std::string kFffd(kReplacementChar);

// A fake tokenizer whose token i is the i-th chunk: any byte split of any text is a "model output".
struct Chunks {
  std::vector<std::string> pieces;
  StreamDecoder::PieceFn fn() const {
    return [this](int32_t t) { return pieces.at(t); };
  }
};

struct Streamed {
  std::vector<std::string> emits;  // one per push, then the flush
  std::string text;
};

Streamed stream(const std::vector<std::string>& pieces, bool strip = false) {
  Chunks c{pieces};
  StreamDecoder d(c.fn(), strip);
  Streamed s;
  for (size_t i = 0; i < pieces.size(); ++i) s.emits.push_back(d.push(static_cast<int32_t>(i)));
  s.emits.push_back(d.flush());
  for (const std::string& e : s.emits) s.text += e;
  return s;
}

// Streams `pieces` and checks that every emit is valid UTF-8 and the whole equals `expected`.
void expect_streams_to(const std::vector<std::string>& pieces, const std::string& expected) {
  const Streamed s = stream(pieces);
  for (size_t i = 0; i < s.emits.size(); ++i)
    EXPECT_TRUE(is_valid_utf8(s.emits[i])) << "emit " << i << " is not valid UTF-8";
  EXPECT_EQ(s.text, expected);
}

const std::vector<std::string> kTexts = {
    "你好，世界！流式输出不应该乱码。",
    "😀👍🏽🇨🇳🤖",                            // 4-byte characters, a modifier, a flag pair
    "Hello 世界 😀 café ñ — ok",              // 1, 2, 3 and 4-byte characters mixed
    "\xF4\x8F\xBF\xBF\xEE\x80\x80\xED\x9F\xBF",  // U+10FFFF, U+E000, U+D7FF: edges of valid
};

// ---- splitting valid text ----

TEST(StreamDecoder, OneByteTokens) {
  for (const std::string& t : kTexts) {
    std::vector<std::string> pieces;
    for (char ch : t) pieces.emplace_back(1, ch);
    expect_streams_to(pieces, t);
  }
}

TEST(StreamDecoder, EveryCutIntoTwoAndThree) {
  for (const std::string& t : kTexts) {
    const size_t n = t.size();
    for (size_t i = 0; i <= n; ++i) {
      expect_streams_to({t.substr(0, i), t.substr(i)}, t);
      for (size_t j = i; j <= n; ++j)
        expect_streams_to({t.substr(0, i), t.substr(i, j - i), t.substr(j)}, t);
    }
  }
}

TEST(StreamDecoder, HoldsBackUnfinishedCharacterUntilItCompletes) {
  // 中 = E4 B8 AD
  Streamed s = stream({"a\xE4", "\xB8", "\xAD" "b"});
  EXPECT_EQ(s.emits, (std::vector<std::string>{"a", "", "中b", ""}));
}

// ---- invalid bytes ----

TEST(StreamDecoder, InvalidByteIsReplacedAtOnce) {
  Streamed s = stream({"ab", "\xFF", "cd"});
  EXPECT_EQ(s.emits, (std::vector<std::string>{"ab", kFffd, "cd", ""}));
}

TEST(StreamDecoder, InvalidRunAcrossTokensGetsOneReplacement) {
  Streamed s = stream({"\xFF", "\xFE", "\xFD" "x"});
  EXPECT_EQ(s.emits, (std::vector<std::string>{kFffd, "", "x", ""}));
}

TEST(StreamDecoder, LeadByteFollowedByNonContinuation) {
  // E4 B8 then 'b': the truncated character is one invalid run, known once 'b' arrives.
  Streamed s = stream({"a", "\xE4", "\xB8", "b"});
  EXPECT_EQ(s.emits, (std::vector<std::string>{"a", "", "", kFffd + "b", ""}));
  // Lead byte followed by a different lead byte that completes: one run, then the character.
  EXPECT_EQ(stream({"\xE4", "\xE4\xB8\xAD"}).text, kFffd + "中");
}

TEST(StreamDecoder, SeparateRunsGetOneReplacementEach) {
  expect_streams_to({"\xFF", "a", "\xFF\xFE", "b", "\x80"}, kFffd + "a" + kFffd + "b" + kFffd);
}

TEST(StreamDecoder, OverlongSurrogateAndOutOfRangeAreInvalid) {
  expect_streams_to({"<\xC0\xAF>"}, "<" + kFffd + ">");           // overlong '/'
  expect_streams_to({"<\xE0\x80", "\xAF>"}, "<" + kFffd + ">");   // overlong, 3 bytes
  expect_streams_to({"<\xED\xA0\x80>"}, "<" + kFffd + ">");       // surrogate U+D800
  expect_streams_to({"<\xF4\x90\x80\x80>"}, "<" + kFffd + ">");   // U+110000
  expect_streams_to({"<\xF5\x80>"}, "<" + kFffd + ">");           // F5 never valid
}

TEST(StreamDecoder, UnfinishedCharacterAtEndBecomesOneReplacementOnFlush) {
  Streamed s = stream({"ok", "\xF0\x9F", "\x98"});
  EXPECT_EQ(s.emits, (std::vector<std::string>{"ok", "", "", kFffd}));
  // Held bytes that continue a run that already has its U+FFFD add nothing.
  EXPECT_EQ(stream({"\xFF", "\xE4\xB8"}).text, kFffd);
}

// ---- leading space ----

TEST(StreamDecoder, StripsOneLeadingSpaceOfTheFirstText) {
  EXPECT_EQ(stream({" Hello", " world"}, true).text, "Hello world");
  EXPECT_EQ(stream({"  two"}, true).text, " two");
  EXPECT_EQ(stream({"", " x"}, true).text, "x");            // an empty special token first
  EXPECT_EQ(stream({" ", " x"}, true).text, " x");          // only the very first byte
  EXPECT_EQ(stream({"Hi", " there"}, true).text, "Hi there");
  EXPECT_EQ(stream({" Hello"}, false).text, " Hello");
  EXPECT_EQ(stream({"\xE4", "\xB8\xAD"}, true).text, "中");
}

// ---- property: streaming equals one-shot sanitize, for random bytes and random splits ----

TEST(StreamDecoder, RandomSplitsMatchOneShotSanitize) {
  std::mt19937 gen(20240601);
  const std::vector<std::string> atoms = {"a", " ", "é", "中", "😀", "\xFF", "\x80", "\xE4",
                                          "\xF0\x9F", "\xED\xA0\x80", "\xC0"};
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n_atoms = std::uniform_int_distribution<int>(0, 12)(gen);
    for (int i = 0; i < n_atoms; ++i)
      text += atoms[std::uniform_int_distribution<size_t>(0, atoms.size() - 1)(gen)];
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size();) {
      const size_t len = std::uniform_int_distribution<size_t>(0, 4)(gen);
      pieces.push_back(text.substr(i, len));
      i += len;
    }
    SCOPED_TRACE(::testing::PrintToString(text));
    expect_streams_to(pieces, sanitize_utf8(text));
  }
}

// ---- utf8 helpers ----

// Plain reference decoder: bit patterns, then the three range rules.
bool ref_valid(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    int len;
    uint32_t cp;
    if (b < 0x80) { len = 1; cp = b; }
    else if ((b & 0xE0) == 0xC0) { len = 2; cp = b & 0x1F; }
    else if ((b & 0xF0) == 0xE0) { len = 3; cp = b & 0x0F; }
    else if ((b & 0xF8) == 0xF0) { len = 4; cp = b & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const uint8_t c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

TEST(Utf8, ValidityMatchesReferenceExhaustively) {
  auto check = [](const std::string& s) {
    ASSERT_EQ(is_valid_utf8(s), ref_valid(s)) << ::testing::PrintToString(s);
  };
  std::string s;
  for (int a = 0; a < 256; ++a) {
    check(std::string(1, char(a)));
    for (int b = 0; b < 256; ++b) check({char(a), char(b)});
  }
  for (int a = 0xC0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c = 0; c < 256; ++c) check({char(a), char(b), char(c)});
  for (int a = 0xF0; a < 0xF8; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c : {0x7F, 0x80, 0xBF, 0xC0})
        for (int d : {0x7F, 0x80, 0xBF, 0xC0}) check({char(a), char(b), char(c), char(d)});
}

TEST(Utf8, ValidPrefixLength) {
  EXPECT_EQ(utf8_valid_prefix_len(""), 0u);
  EXPECT_EQ(utf8_valid_prefix_len("abc"), 3u);
  EXPECT_EQ(utf8_valid_prefix_len("a中\xE4\xB8"), 4u);
  EXPECT_EQ(utf8_valid_prefix_len("a\xFF" "b"), 1u);
}

TEST(Utf8, IncompleteTailLength) {
  EXPECT_EQ(utf8_incomplete_tail_len(""), 0u);
  EXPECT_EQ(utf8_incomplete_tail_len("a"), 0u);
  EXPECT_EQ(utf8_incomplete_tail_len("a\xE4"), 1u);
  EXPECT_EQ(utf8_incomplete_tail_len("a\xE4\xB8"), 2u);
  EXPECT_EQ(utf8_incomplete_tail_len("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_tail_len("中"), 0u);
  EXPECT_EQ(utf8_incomplete_tail_len("\xE0\x80"), 0u);  // can never become valid (overlong)
  EXPECT_EQ(utf8_incomplete_tail_len("\xED\xA0"), 0u);  // would be a surrogate
  EXPECT_EQ(utf8_incomplete_tail_len("a\xFF"), 0u);
  EXPECT_EQ(utf8_incomplete_tail_len("\x80\x80"), 0u);
}

TEST(Utf8, SanitizeOneReplacementPerRun) {
  EXPECT_EQ(sanitize_utf8("ok"), "ok");
  EXPECT_EQ(sanitize_utf8("a\xFF\xFE" "b"), "a" + kFffd + "b");
  EXPECT_EQ(sanitize_utf8("\xE4\xB8" "b\xE4"), kFffd + "b" + kFffd);
  EXPECT_EQ(sanitize_utf8("中\xF0\x9F\x98"), "中" + kFffd);
}

}  // namespace
}  // namespace shuo::text
