// TokenStopCheck: a stop string is found when the newest token completes it, wherever it
// starts (inside the token, across several earlier tokens, after empty special pieces), and
// the leading space StreamDecoder strips is not part of the text.
#include <gtest/gtest.h>

#include <map>

#include "text/token_stop.h"

using shuo::text::TokenStopCheck;

namespace {

// Token i's piece is kPieces[i]; 9 is a special token with no text.
const std::map<int32_t, std::string> kPieces = {
    {0, " The"}, {1, " end"}, {2, "."}, {3, " Ho"}, {4, "me"}, {5, "\n"}, {6, "\n\n"}, {7, " "}, {8, "\xE4\xBD"}, {9, ""}, {10, "\xA0"},
};

TokenStopCheck check(std::vector<std::string> stops, bool strip = false) {
  return TokenStopCheck([](int32_t t) { return kPieces.at(t); }, std::move(stops), strip);
}

bool at(const TokenStopCheck& c, std::vector<int32_t> tokens) { return c(tokens); }

}  // namespace

TEST(TokenStopCheck, FindsStopsTheNewestTokenCompletes) {
  auto c = check({"end.", "Home", "\n\n", "你"});
  EXPECT_FALSE(at(c, {0}));
  EXPECT_FALSE(at(c, {0, 1}));
  EXPECT_TRUE(at(c, {0, 1, 2}));          // "end." across two tokens
  EXPECT_TRUE(at(c, {3, 4}));             // "Home" across two
  EXPECT_TRUE(at(c, {5, 5}));             // "\n\n" from two "\n"
  EXPECT_TRUE(at(c, {6}));                // inside one token
  EXPECT_TRUE(at(c, {0, 8, 9, 10}));      // a character split by a special token
  EXPECT_FALSE(at(c, {0, 8, 9}));
  EXPECT_FALSE(at(c, {0, 1, 2, 0}));      // the match ended before the newest token
  EXPECT_FALSE(at(c, {0, 1, 2, 9}));      // an empty piece completes nothing
  EXPECT_FALSE(at(check({}), {0, 1, 2}));
}

TEST(TokenStopCheck, LooksFarEnoughBackForLongStops) {
  auto c = check({" The end. The end."});
  EXPECT_TRUE(at(c, {0, 1, 2, 0, 1, 2}));
  EXPECT_FALSE(at(c, {0, 1, 2, 0, 1}));
  EXPECT_FALSE(at(c, {1, 2, 0, 1, 2}));
}

TEST(TokenStopCheck, TheStrippedLeadingSpaceIsNotText) {
  EXPECT_TRUE(at(check({" The"}), {0}));
  EXPECT_FALSE(at(check({" The"}, true), {0}));
  EXPECT_TRUE(at(check({"The"}, true), {0}));
  EXPECT_TRUE(at(check({" end"}, true), {0, 1}));
  EXPECT_FALSE(at(check({" "}, true), {7}));
  EXPECT_TRUE(at(check({"The end"}, true), {0, 1}));
}
