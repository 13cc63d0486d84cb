// Line assembly and commands of `shuo chat` (rules in chat_input.h).
#include "cli/chat_input.h"

#include <string_view>

namespace shuo::cli {

namespace {

constexpr std::string_view kBlockFence = "\"\"\"";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ChatEntry command(std::string_view line) {
  const size_t space = line.find_first_of(" \t");
  const std::string_view name = line.substr(0, space);
  const std::string_view arg = space == std::string_view::npos ? std::string_view() : trim(line.substr(space));
  if (name == "/clear" && arg.empty()) return {ChatEntry::Kind::kClear, ""};
  if (name == "/system") return {ChatEntry::Kind::kSystem, std::string(arg)};
  if ((name == "/exit" || name == "/quit") && arg.empty()) return {ChatEntry::Kind::kExit, ""};
  if (name == "/help" && arg.empty()) return {ChatEntry::Kind::kHelp, ""};
  return {ChatEntry::Kind::kUnknownCommand, std::string(line)};
}

}  // namespace

std::optional<ChatEntry> ChatInputAssembler::feed(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (in_block_) {
    if (trim(line) == kBlockFence) return complete();
    lines_.push_back(std::move(line));
    return std::nullopt;
  }
  if (!continued_ && lines_.empty()) {
    if (trim(line) == kBlockFence) {
      in_block_ = true;
      return std::nullopt;
    }
    if (!line.empty() && line.back() != '\\') {
      if (line.rfind("//", 0) == 0) return ChatEntry{ChatEntry::Kind::kMessage, line.substr(1)};
      if (line.front() == '/') return command(trim(line));
    }
  }
  continued_ = !line.empty() && line.back() == '\\';
  if (continued_) line.pop_back();
  lines_.push_back(std::move(line));
  if (continued_) return std::nullopt;
  return complete();
}

ChatEntry ChatInputAssembler::complete() {
  std::string text;
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (i > 0) text += '\n';
    text += lines_[i];
  }
  reset();
  if (text.find_first_not_of(" \t\n") == std::string::npos) return {ChatEntry::Kind::kEmpty, ""};
  return {ChatEntry::Kind::kMessage, std::move(text)};
}

void ChatInputAssembler::reset() {
  lines_.clear();
  in_block_ = false;
  continued_ = false;
}

std::optional<ChatEntry> ChatInputAssembler::finish() {
  if (!in_progress()) return std::nullopt;
  return complete();
}

const char* ChatInputAssembler::help_text() {
  return "Type a message and press Enter. A line ending in \\ continues on the next line; a line\n"
         "with just \"\"\" starts a block that ends at the next \"\"\" line.\n"
         "  /clear          forget the conversation (the system prompt stays)\n"
         "  /system TEXT    set the system prompt (/system alone removes it)\n"
         "  /exit, /quit    leave (so do Ctrl-D, and Ctrl-C twice at the prompt)\n"
         "  /help           this text\n"
         "Ctrl-C while a reply is written stops the reply. Start a message with // to send\n"
         "one that begins with /.\n";
}

}  // namespace shuo::cli
