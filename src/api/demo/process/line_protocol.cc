// The chat backend line protocol (rules in line_protocol.h).
#include "api/demo/process/line_protocol.h"

#include <algorithm>
#include <cctype>

namespace shuo::api::demo::process {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Position of `key` in `s`, ASCII case-insensitively ("Personality:" counts too).
size_t find_nocase(std::string_view s, std::string_view key) {
  auto eq = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  const auto it = std::search(s.begin(), s.end(), key.begin(), key.end(), eq);
  return it == s.end() ? std::string_view::npos : size_t(it - s.begin());
}

Error field_error(const char* field, const char* message) { return Error{ErrorCode::kBadField, field, message}; }

}  // namespace

Result<void> validate(const LineProtocol& p) {
  if (p.framing == ReplyFraming::kPrompt && p.prompt.empty()) return field_error("prompt", "is empty");
  if (p.framing == ReplyFraming::kEndMarker && p.end_marker.empty()) return field_error("end_marker", "is empty");
  if (p.personality_key.empty()) return field_error("personality_key", "is empty");
  if (has_line_break(p.prompt)) return field_error("prompt", "contains a line break");
  if (has_line_break(p.end_marker)) return field_error("end_marker", "contains a line break");
  if (has_line_break(p.personality_key)) return field_error("personality_key", "contains a line break");
  if (has_line_break(p.clear_command)) return field_error("clear_command", "contains a line break");
  return {};
}

Result<std::string> encode_message(std::string_view message) {
  if (message.empty()) return field_error("msg", "is empty");
  if (message.find('\0') != std::string_view::npos) return field_error("msg", "contains a NUL byte");
  std::string line;
  line.reserve(message.size() + 8);
  for (const char c : message) {
    switch (c) {
      case '\\': line += "\\\\"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      default: line += c;
    }
  }
  return line;
}

std::string decode_message(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      const char e = line[i + 1];
      if (e == '\\' || e == 'n' || e == 'r') {
        out += e == '\\' ? '\\' : e == 'n' ? '\n' : '\r';
        ++i;
        continue;
      }
    }
    out += line[i];
  }
  return out;
}

std::string ProtocolReader::log_line(const ChildEvent& ev) { return std::string(stream_name(ev.stream)) + ":" + ev.text; }

void ProtocolReader::note_personality(const std::string& line, bool stdout_protocol_line) {
  const size_t at = stdout_protocol_line ? 0 : find_nocase(line, p_.personality_key);
  if (at == std::string::npos) return;
  const std::string_view text = trim(std::string_view(line).substr(at + p_.personality_key.size()));
  if (!text.empty()) personality_ = std::string(text);
}

ProtocolReader::StdoutItem ProtocolReader::read_stdout(const ChildEvent& ev) {
  StdoutItem item;
  const bool prompt_framing = p_.framing == ReplyFraming::kPrompt;
  if (ev.kind == ChildEvent::Kind::kPartial) {
    // The program wrote its prompt and nothing after it: it is waiting for a line. (It cannot
    // write more before it gets one, so this tail is always seen alone.)
    if (prompt_framing && !prompt_pending_ && ev.text == p_.prompt) {
      prompt_pending_ = true;
      item.prompt = true;
    }
    return item;
  }
  if (ev.kind != ChildEvent::Kind::kLine) return item;
  std::string line = ev.text;
  if (prompt_framing) {
    if (prompt_pending_) {  // the line that the counted prompt started has ended
      prompt_pending_ = false;
      if (line.compare(0, p_.prompt.size(), p_.prompt) == 0) line.erase(0, p_.prompt.size());
    }
    const std::string_view bare_prompt = rtrim(p_.prompt);
    if (!bare_prompt.empty() && rtrim(line) == bare_prompt) {
      item.prompt = true;
      return item;
    }
  }
  item.line = std::move(line);
  return item;
}

ProtocolReader::Step ProtocolReader::on_start_event(const ChildEvent& ev) {
  Step s;
  if (ev.kind == ChildEvent::Kind::kExited || ev.kind == ChildEvent::Kind::kSynced) return s;
  if (ev.stream == Stream::kStderr) {
    if (ev.kind == ChildEvent::Kind::kLine) {
      note_personality(ev.text, false);
      s.log = log_line(ev);
    }
    return s;
  }
  StdoutItem item = read_stdout(ev);
  if (item.prompt) {
    s.ready = true;
    return s;
  }
  if (!item.line) return s;
  const std::string& line = *item.line;
  if (find_nocase(line, p_.personality_key) == 0) {  // the protocol line: not a log line
    note_personality(line, true);
    if (p_.framing == ReplyFraming::kEndMarker) s.ready = true;
    return s;
  }
  note_personality(line, false);
  s.log = "stdout:" + line;
  return s;
}

ProtocolReader::Step ProtocolReader::on_reply_event(const ChildEvent& ev) {
  Step s;
  if (ev.kind == ChildEvent::Kind::kExited || ev.kind == ChildEvent::Kind::kSynced) return s;
  if (ev.stream == Stream::kStderr) {
    if (ev.kind == ChildEvent::Kind::kLine) s.log = log_line(ev);
    return s;
  }
  StdoutItem item = read_stdout(ev);
  if (item.prompt) {
    s.reply_done = true;
    return s;
  }
  if (!item.line) return s;
  if (p_.framing == ReplyFraming::kEndMarker && *item.line == p_.end_marker) {
    s.reply_done = true;
    return s;
  }
  reply_.push_back(std::move(*item.line));
  return s;
}

ProtocolReader::Step ProtocolReader::on_idle_event(const ChildEvent& ev) {
  Step s;
  if (ev.kind == ChildEvent::Kind::kExited || ev.kind == ChildEvent::Kind::kSynced) return s;
  if (ev.stream == Stream::kStderr) {
    if (ev.kind == ChildEvent::Kind::kLine) s.log = log_line(ev);
    return s;
  }
  StdoutItem item = read_stdout(ev);  // a prompt here is a program asking again: nothing to do
  if (item.line) s.log = "stdout:" + *item.line;
  return s;
}

std::string ProtocolReader::take_reply() {
  auto blank = [](const std::string& l) { return trim(l).empty(); };
  size_t first = 0, last = reply_.size();
  while (first < last && blank(reply_[first])) ++first;
  while (last > first && blank(reply_[last - 1])) --last;
  std::string out;
  for (size_t i = first; i < last; ++i) {
    if (i > first) out += '\n';
    out += reply_[i];
  }
  reply_.clear();
  return out;
}

}  // namespace shuo::api::demo::process
