// argv_split: the shell-like quoting rules of --chat-args / --qa-args (no shell, no expansion).
#include <gtest/gtest.h>

#include "api/demo/process/argv_split.h"

namespace shuo::api::demo::process {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view s) {
  auto r = argv_split(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : Words{};
}

std::string split_error(std::string_view s, std::string_view field = "--chat-args") {
  auto r = argv_split(s, field);
  EXPECT_FALSE(r.ok()) << s;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
  EXPECT_EQ(r.error().where, field);
  return r.error().message;
}

TEST(ArgvSplit, WhitespaceSeparatesWords) {
  EXPECT_EQ(split("a b  c\t\td\ne\r\nf"), (Words{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(split("   lead and trail   "), (Words{"lead", "and", "trail"}));
  EXPECT_EQ(split(""), Words{});
  EXPECT_EQ(split(" \t\n "), Words{});
}

TEST(ArgvSplit, SingleQuotesAreLiteral) {
  EXPECT_EQ(split(R"('a b' 'c\d' '$HOME "x"')"), (Words{"a b", R"(c\d)", R"($HOME "x")"}));
  EXPECT_EQ(split(R"('it''s')"), (Words{"its"}));
}

TEST(ArgvSplit, DoubleQuotesEscapeOnlyQuoteBackslashDollarBacktick) {
  EXPECT_EQ(split(R"("a \"b\" c")"), (Words{R"(a "b" c)"}));
  EXPECT_EQ(split(R"("x\\y" "\$HOME" "\`ls\`")"), (Words{R"(x\y)", "$HOME", "`ls`"}));
  // Any other backslash stays: Windows-ish paths and \n survive.
  EXPECT_EQ(split(R"("C:\dir\new" "a\tb")"), (Words{R"(C:\dir\new)", R"(a\tb)"}));
  EXPECT_EQ(split("\"one\\\ntwo\""), (Words{"onetwo"}));  // backslash-newline removed
  EXPECT_EQ(split("\"multi\nline\""), (Words{"multi\nline"}));
}

TEST(ArgvSplit, BackslashOutsideQuotes) {
  EXPECT_EQ(split(R"(a\ b \'c\' \"d\" e\\f)"), (Words{"a b", "'c'", "\"d\"", R"(e\f)"}));
  EXPECT_EQ(split("one\\\ntwo"), (Words{"onetwo"}));  // continuation joins
  EXPECT_EQ(split("one \\\n two"), (Words{"one", "two"}));
}

TEST(ArgvSplit, AdjacentPartsJoinAndEmptyQuotesMakeEmptyWords) {
  EXPECT_EQ(split(R"(a"b c"'d'e)"), (Words{"ab cde"}));
  EXPECT_EQ(split(R"("" '' x"")"), (Words{"", "", "x"}));
  EXPECT_EQ(split(R"(--name="a b")"), (Words{"--name=a b"}));
}

TEST(ArgvSplit, NothingIsExpandedOrInterpreted) {
  EXPECT_EQ(split("$HOME ${X} $(rm -rf /) `id` ~ *.py a?b [c] ; | && > out < in (x) 2>&1"),
            (Words{"$HOME", "${X}", "$(rm", "-rf", "/)", "`id`", "~", "*.py", "a?b", "[c]", ";", "|", "&&", ">",
                   "out", "<", "in", "(x)", "2>&1"}));
}

TEST(ArgvSplit, Utf8PassesThrough) {
  EXPECT_EQ(split("你好 '世 界' \"😀\""), (Words{"你好", "世 界", "😀"}));
}

TEST(ArgvSplit, TheSourceDocumentsCommandLine) {
  EXPECT_EQ(split("interact_v3.py --model_type gpt2_bpe_cn --model_checkpoint model_checkpoint_345_32k_v3 "
                  "--dataset_cache xinli001_jiandanxinli-qa.topics-convai-GPT2BPETokenizer_CN_32K_BPE-cache/cache "
                  "--min_length 125 --max_length 1000 --temperature 0.7 --top_p 0.9"),
            (Words{"interact_v3.py", "--model_type", "gpt2_bpe_cn", "--model_checkpoint", "model_checkpoint_345_32k_v3",
                   "--dataset_cache", "xinli001_jiandanxinli-qa.topics-convai-GPT2BPETokenizer_CN_32K_BPE-cache/cache",
                   "--min_length", "125", "--max_length", "1000", "--temperature", "0.7", "--top_p", "0.9"}));
}

TEST(ArgvSplit, UnterminatedQuotesNameTheOpeningPosition) {
  EXPECT_EQ(split_error("run.py 'abc"), "unterminated single quote opened at position 7");
  EXPECT_EQ(split_error(R"(a "b \" c)"), "unterminated double quote opened at position 2");
  EXPECT_EQ(split_error(R"('ok' "x\)"), "unterminated double quote opened at position 5");
}

TEST(ArgvSplit, TrailingBackslashAndNulAreErrors) {
  EXPECT_EQ(split_error(R"(abc\)"), "ends with a backslash at position 3 (nothing left to escape)");
  EXPECT_EQ(split_error(std::string_view("ab\0c", 4)), "contains a NUL byte at position 2");
  EXPECT_EQ(split_error(std::string_view("'a\0'", 4)), "contains a NUL byte at position 2");
  EXPECT_EQ(split_error(std::string_view("\"a\0\"", 4)), "contains a NUL byte at position 2");
  EXPECT_EQ(split_error(std::string_view("x\\\0", 3), "--qa-args"), "contains a NUL byte at position 2");
}

}  // namespace
}  // namespace shuo::api::demo::process
