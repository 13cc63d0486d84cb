// `shuo chat` input: typed lines → one entry (a message, possibly of several lines, or a
// command). Pure, so the rules are tested without a terminal.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace shuo::cli {

struct ChatEntry {
  enum class Kind {
    kMessage,         // text: the message (may hold "\n")
    kEmpty,           // a blank entry: nothing to send
    kClear,           // /clear
    kSystem,          // /system <text>; text empty: no system prompt
    kExit,            // /exit or /quit
    kHelp,            // /help
    kUnknownCommand,  // text: what was typed
  };
  Kind kind = Kind::kEmpty;
  std::string text;
};

// The rules:
//   - One line is one message.
//   - A line ending in a backslash continues on the next line (the backslash becomes a line
//     break).
//   - A line that is just """ opens a block; every line up to the next """ line is the message.
//   - A one-line entry starting with "/" is a command: /clear, /system [text], /exit, /quit,
//     /help. "//" at the start sends the rest as a message starting with "/".
//   - A CR at the end of a line (Windows line ends) is dropped.
class ChatInputAssembler {
 public:
  // One line without its "\n". Returns the entry it completes, or nullopt if more lines belong
  // to it (in_progress() is then true).
  std::optional<ChatEntry> feed(std::string line);
  bool in_progress() const { return in_block_ || continued_; }
  // Drops a half-typed entry (Ctrl-C at the prompt).
  void reset();
  // End of input: a half-typed entry is taken as it is (a message), if there is one.
  std::optional<ChatEntry> finish();

  static const char* help_text();

 private:
  ChatEntry complete();

  std::vector<std::string> lines_;
  bool in_block_ = false;   // inside """ ... """
  bool continued_ = false;  // the last line ended in a backslash
};

}  // namespace shuo::cli
