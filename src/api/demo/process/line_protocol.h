// The line protocol between shuo and a chat backend process (process mode of the demo API): how
// shuo knows the backend is ready and what its personality is, how a user message is written,
// and where a (possibly multi-line) reply ends. A plain interactive program that reads a line
// after printing a prompt (Python's input(">>> ")) speaks it without changes.
//
// Start-up. Every line the backend writes before it is ready is a log line, passed on as
// "stdout:<line>" / "stderr:<line>". Ready is:
//   - prompt framing (default): the prompt (">>> ") written at the start of a stdout line, with
//     nothing after it — the program now waits for input — or a whole stdout line equal to the
//     prompt without its trailing whitespace (">>>").
//   - end-marker framing: a stdout line starting with "personality:".
// Personality. A stdout line starting with "personality:" is a protocol line: the rest
// (whitespace-trimmed) is the personality, and the line is not passed on as a log line. Any other
// line on either stream containing "personality:" (e.g. a log line "INFO:…:Selected
// personality: i like cats") is passed on and also sets the personality to the text after it.
// The last one before ready wins; with none, the configured default is used.
// Messages. One message is one line on stdin. Backslash and line breaks are escaped so that it
// stays one line: "\" → "\\", LF → "\n", CR → "\r" (two characters each). A message without
// those characters is written unchanged. Empty messages and NUL bytes are refused.
// Replies. After a message, the reply is the stdout lines up to
//   - prompt framing: the next prompt (see above; a prompt that starts a line which then goes
//     on is taken off that line), or
//   - end-marker framing: a stdout line equal to the end marker.
// Lines are joined with "\n"; leading and trailing blank lines are dropped. stderr lines are log lines,
// never part of a reply.
// Clear. The clear command ("/clear") is sent like a message; its reply is discarded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/demo/process/child_process.h"
#include "core/result.h"

namespace shuo::api::demo::process {

enum class ReplyFraming { kPrompt, kEndMarker };

struct LineProtocol {
  ReplyFraming framing = ReplyFraming::kPrompt;
  std::string prompt = ">>> ";           // kPrompt
  std::string end_marker = "<<<END>>>";  // kEndMarker
  std::string personality_key = "personality:";
  std::string default_personality;       // when the backend announces none
  std::string clear_command = "/clear";  // empty: the backend cannot be told to forget
};

// Errors (kBadField) name the field: an empty prompt or end marker for its framing, an empty
// personality key, a prompt, marker or clear command holding a line break.
Result<void> validate(const LineProtocol& p);

// The line written for `message` (without the '\n'). Errors (kBadField, where "msg"): empty,
// contains a NUL byte.
Result<std::string> encode_message(std::string_view message);
// The inverse, for backends written in C++ and for tests: "\\" → "\", "\n" → LF, "\r" → CR; any
// other backslash is kept as it is.
std::string decode_message(std::string_view line);

// Interprets a backend's output events; pure (no I/O), so each rule is testable alone.
class ProtocolReader {
 public:
  explicit ProtocolReader(LineProtocol p) : p_(std::move(p)) {}

  struct Step {
    std::optional<std::string> log;  // "stdout:<line>" or "stderr:<line>" to pass on
    bool ready = false;              // start-up: the backend now takes messages
    bool reply_done = false;         // a reply: it is complete (take it with take_reply())
  };

  // Before ready. kExited and kSynced events are the caller's business (they change nothing).
  Step on_start_event(const ChildEvent& ev);
  // After a message was written.
  Step on_reply_event(const ChildEvent& ev);
  // Between replies: whatever the backend writes then is only logged.
  Step on_idle_event(const ChildEvent& ev);

  // The personality announced so far, else the default.
  std::string personality() const { return personality_ ? *personality_ : p_.default_personality; }
  // The finished reply; resets the reply buffer for the next one.
  std::string take_reply();
  const LineProtocol& protocol() const { return p_; }

 private:
  // What a stdout event means: the prompt (the program waits for input), a line (with a prompt
  // that was already counted taken off its front), or nothing yet.
  struct StdoutItem {
    bool prompt = false;
    std::optional<std::string> line;
  };
  StdoutItem read_stdout(const ChildEvent& ev);
  void note_personality(const std::string& line, bool stdout_protocol_line);
  static std::string log_line(const ChildEvent& ev);

  LineProtocol p_;
  std::optional<std::string> personality_;
  bool prompt_pending_ = false;  // a prompt was counted from the unterminated stdout line
  std::vector<std::string> reply_;
};

}  // namespace shuo::api::demo::process
