// The chat backend line protocol without processes: line splitting, message escaping, and how
// output events become log lines, readiness, personality and replies.
#include <gtest/gtest.h>

#include "api/demo/process/line_protocol.h"
#include "api/demo/process/line_splitter.h"

namespace shuo::api::demo::process {
namespace {

using Lines = std::vector<std::string>;

Lines push_all(LineSplitter& s, std::initializer_list<std::string_view> chunks) {
  Lines out;
  for (auto c : chunks) s.push(c, out);
  return out;
}

TEST(LineSplitter, EndsLinesAtLfCrlfAndLoneCrEvenAcrossChunks) {
  LineSplitter s;
  EXPECT_EQ(push_all(s, {"a\nb\r", "\nc\rd", "\r\n\ne"}), (Lines{"a", "b", "c", "d", ""}));
  EXPECT_EQ(s.tail(), "e");
  EXPECT_EQ(s.finish(), "e");
  EXPECT_EQ(s.finish(), std::nullopt);
}

TEST(LineSplitter, ProgressBarRedrawsBecomeLines) {
  LineSplitter s;
  EXPECT_EQ(push_all(s, {"\r 10%", "\r 50%", "\r100%\n"}), (Lines{"", " 10%", " 50%", "100%"}));
}

TEST(LineSplitter, TailIsTheUnterminatedLine) {
  LineSplitter s;
  EXPECT_EQ(push_all(s, {"log\n>>", "> "}), (Lines{"log"}));
  EXPECT_EQ(s.tail(), ">>> ");
}

TEST(LineSplitter, LongLinesArriveInPiecesWithoutSplittingCharacters) {
  LineSplitter s(8);
  EXPECT_EQ(push_all(s, {"abcdefghij\n"}), (Lines{"abcdefgh", "ij"}));
  // "aaaaaa" + "中" (3 bytes) would cut the character at 8: the piece ends before it.
  EXPECT_EQ(push_all(s, {"aaaaaa中文\n"}), (Lines{"aaaaaa", "中文"}));
}

TEST(LineProtocolMessages, EscapesBackslashAndLineBreaksOnly) {
  EXPECT_EQ(*encode_message("你好, world"), "你好, world");
  EXPECT_EQ(*encode_message("a\\b\nc\r\nd"), "a\\\\b\\nc\\r\\nd");
  for (std::string m : {"x", "a\\nb", "\\\\\n\n\r", "tail\\", "中\n文"}) {
    auto line = encode_message(m);
    ASSERT_TRUE(line.ok());
    EXPECT_EQ(line->find('\n'), std::string::npos);
    EXPECT_EQ(decode_message(*line), m);
  }
  EXPECT_EQ(decode_message("keep \\t and \\x"), "keep \\t and \\x");
}

TEST(LineProtocolMessages, EmptyAndNulAreRefused) {
  auto empty = encode_message("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().where, "msg");
  auto nul = encode_message(std::string_view("a\0b", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().message, "contains a NUL byte");
}

TEST(LineProtocolMessages, ValidateNamesTheField) {
  LineProtocol p;
  EXPECT_TRUE(validate(p).ok());
  p.prompt = "";
  EXPECT_EQ(validate(p).error().where, "prompt");
  p.framing = ReplyFraming::kEndMarker;
  EXPECT_TRUE(validate(p).ok());  // the prompt does not matter there
  p.end_marker = "";
  EXPECT_EQ(validate(p).error().where, "end_marker");
  p = LineProtocol{};
  p.clear_command = "a\nb";
  EXPECT_EQ(validate(p).error().where, "clear_command");
}

ChildEvent line(Stream s, std::string t) { return ChildEvent{ChildEvent::Kind::kLine, s, std::move(t), {}}; }
ChildEvent partial(std::string t) { return ChildEvent{ChildEvent::Kind::kPartial, Stream::kStdout, std::move(t), {}}; }
ChildEvent out(std::string t) { return line(Stream::kStdout, std::move(t)); }
ChildEvent err(std::string t) { return line(Stream::kStderr, std::move(t)); }

TEST(ProtocolReader, StartupLinesAreLoggedUntilThePrompt) {
  ProtocolReader r{LineProtocol{}};
  auto s1 = r.on_start_event(err("INFO:loading"));
  EXPECT_EQ(s1.log, "stderr:INFO:loading");
  EXPECT_FALSE(s1.ready);
  EXPECT_EQ(r.on_start_event(out("> building model")).log, "stdout:> building model");
  EXPECT_FALSE(r.on_start_event(partial(">>")).ready);  // not the whole prompt yet
  auto s2 = r.on_start_event(partial(">>> "));
  EXPECT_TRUE(s2.ready);
  EXPECT_FALSE(s2.log);
}

TEST(ProtocolReader, APromptLineWithoutTrailingSpaceIsAPromptToo) {
  ProtocolReader r{LineProtocol{}};
  EXPECT_TRUE(r.on_start_event(out(">>>")).ready);
  EXPECT_FALSE(r.on_start_event(out(">>> and more")).ready);
}

TEST(ProtocolReader, PersonalityFromTheProtocolLineOrAnyLogLine) {
  LineProtocol p;
  p.default_personality = "plain";
  ProtocolReader none{p};
  EXPECT_EQ(none.personality(), "plain");

  ProtocolReader logged{p};
  auto s = logged.on_start_event(err("INFO:interact.py:Selected personality: i like cats "));
  EXPECT_EQ(s.log, "stderr:INFO:interact.py:Selected personality: i like cats ");
  EXPECT_EQ(logged.personality(), "i like cats");

  ProtocolReader announced{p};
  auto a = announced.on_start_event(out("personality: 我是一名HR。"));
  EXPECT_FALSE(a.log);  // a protocol line, not a log line
  EXPECT_FALSE(a.ready);  // prompt framing: ready only at the prompt
  EXPECT_EQ(announced.personality(), "我是一名HR。");
  EXPECT_TRUE(announced.on_start_event(partial(">>> ")).ready);
}

TEST(ProtocolReader, ReplyEndsAtTheNextPromptAndLosesTheCountedOne) {
  ProtocolReader r{LineProtocol{}};
  ASSERT_TRUE(r.on_start_event(partial(">>> ")).ready);
  // The reply's first line completes the line the prompt started.
  EXPECT_FALSE(r.on_reply_event(out(">>> hello")).reply_done);
  EXPECT_FALSE(r.on_reply_event(err("a log line on stderr")).reply_done);
  EXPECT_FALSE(r.on_reply_event(out("second line")).reply_done);
  EXPECT_TRUE(r.on_reply_event(partial(">>> ")).reply_done);
  EXPECT_EQ(r.take_reply(), "hello\nsecond line");
  // Next exchange: the same again, the stderr line is only a log line.
  EXPECT_FALSE(r.on_reply_event(out(">>> again")).reply_done);
  EXPECT_EQ(r.on_reply_event(err("x")).log, "stderr:x");
  EXPECT_TRUE(r.on_reply_event(partial(">>> ")).reply_done);
  EXPECT_EQ(r.take_reply(), "again");
}

TEST(ProtocolReader, BlankLinesAroundAReplyAreDropped) {
  ProtocolReader r{LineProtocol{}};
  ASSERT_TRUE(r.on_start_event(out(">>>")).ready);
  for (const char* l : {"", "  ", "a", "", "b", "\t", ""}) r.on_reply_event(out(l));
  EXPECT_TRUE(r.on_reply_event(out(">>>")).reply_done);
  EXPECT_EQ(r.take_reply(), "a\n\nb");
}

TEST(ProtocolReader, ARepeatedPartialOfTheSamePromptCountsOnce) {
  ProtocolReader r{LineProtocol{}};
  ASSERT_TRUE(r.on_start_event(partial(">>> ")).ready);
  EXPECT_FALSE(r.on_reply_event(partial(">>> ")).reply_done);  // the same tail, seen again
  EXPECT_FALSE(r.on_reply_event(partial(">>> x")).reply_done);
  r.on_reply_event(out(">>> xyz"));
  EXPECT_TRUE(r.on_reply_event(partial(">>> ")).reply_done);
  EXPECT_EQ(r.take_reply(), "xyz");
}

TEST(ProtocolReader, EndMarkerFraming) {
  LineProtocol p;
  p.framing = ReplyFraming::kEndMarker;
  ProtocolReader r{p};
  EXPECT_FALSE(r.on_start_event(partial(">>> ")).ready);  // prompts mean nothing here
  EXPECT_EQ(r.on_start_event(out(">>> log")).log, "stdout:>>> log");
  auto s = r.on_start_event(out("personality: I repeat"));
  EXPECT_TRUE(s.ready);
  EXPECT_EQ(r.personality(), "I repeat");
  r.on_reply_event(out(">>> line 1"));
  r.on_reply_event(out("personality: not a protocol line any more"));
  EXPECT_TRUE(r.on_reply_event(out("<<<END>>>")).reply_done);
  EXPECT_EQ(r.take_reply(), ">>> line 1\npersonality: not a protocol line any more");
}

TEST(ProtocolReader, IdleOutputIsOnlyLogged) {
  ProtocolReader r{LineProtocol{}};
  ASSERT_TRUE(r.on_start_event(partial(">>> ")).ready);
  EXPECT_EQ(r.on_idle_event(out(">>> Prompt should not be empty!")).log, "stdout:Prompt should not be empty!");
  EXPECT_FALSE(r.on_idle_event(partial(">>> ")).log);
  EXPECT_FALSE(r.on_idle_event(partial(">>> ")).reply_done);
  r.on_reply_event(out(">>> answer"));
  EXPECT_TRUE(r.on_reply_event(partial(">>> ")).reply_done);
  EXPECT_EQ(r.take_reply(), "answer");
}

}  // namespace
}  // namespace shuo::api::demo::process
