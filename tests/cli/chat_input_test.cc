// `shuo chat` input rules: multi-line messages (backslash continuation, """ blocks) and commands.
#include <gtest/gtest.h>

#include "cli/chat_input.h"

namespace shuo::cli {
namespace {

using Kind = ChatEntry::Kind;

// Feeds lines; returns the entries they complete, as "kind:text".
std::vector<std::string> feed(ChatInputAssembler& in, std::initializer_list<std::string> lines) {
  static const char* names[] = {"message", "empty", "clear", "system", "exit", "help", "unknown"};
  std::vector<std::string> out;
  for (const std::string& l : lines)
    if (auto e = in.feed(l)) out.push_back(std::string(names[int(e->kind)]) + ":" + e->text);
  return out;
}

TEST(ChatInput, OneLineIsOneMessage) {
  ChatInputAssembler in;
  EXPECT_EQ(feed(in, {"hello", "你好 world\r", "", "   "}),
            (std::vector<std::string>{"message:hello", "message:你好 world", "empty:", "empty:"}));
  EXPECT_FALSE(in.in_progress());
}

TEST(ChatInput, BackslashContinues) {
  ChatInputAssembler in;
  EXPECT_EQ(feed(in, {"first \\"}), std::vector<std::string>{});
  EXPECT_TRUE(in.in_progress());
  EXPECT_EQ(feed(in, {"second\\", "/third"}), (std::vector<std::string>{"message:first \nsecond\n/third"}));
  EXPECT_FALSE(in.in_progress());
}

TEST(ChatInput, TripleQuotesMakeABlock) {
  ChatInputAssembler in;
  EXPECT_EQ(feed(in, {"\"\"\"", "line one", "", "/not a command \\", "  \"\"\"  "}),
            (std::vector<std::string>{"message:line one\n\n/not a command \\"}));
  EXPECT_EQ(feed(in, {"\"\"\"", "\"\"\""}), (std::vector<std::string>{"empty:"}));
}

TEST(ChatInput, Commands) {
  ChatInputAssembler in;
  EXPECT_EQ(feed(in, {"/clear", "/system  Be brief. ", "/system", "/exit", "/quit", "/help", "/nope x", "/clear now",
                      "//etc/passwd is a path"}),
            (std::vector<std::string>{"clear:", "system:Be brief.", "system:", "exit:", "exit:", "help:", "unknown:/nope x",
                                      "unknown:/clear now", "message:/etc/passwd is a path"}));
}

TEST(ChatInput, ResetDropsAHalfTypedEntryAndFinishTakesIt) {
  ChatInputAssembler in;
  feed(in, {"\"\"\"", "draft"});
  in.reset();
  EXPECT_FALSE(in.in_progress());
  EXPECT_EQ(feed(in, {"/clear"}), (std::vector<std::string>{"clear:"}));
  feed(in, {"unfinished \\"});
  auto last = in.finish();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->kind, Kind::kMessage);
  EXPECT_EQ(last->text, "unfinished ");
  EXPECT_FALSE(in.finish());
}

}  // namespace
}  // namespace shuo::cli
