// Incremental line splitting (rules in line_splitter.h).
#include "api/demo/process/line_splitter.h"

#include <algorithm>

namespace shuo::api::demo::process {

LineSplitter::LineSplitter(size_t max_line_bytes) : max_line_bytes_(std::max<size_t>(max_line_bytes, 4)) {}

void LineSplitter::push(std::string_view bytes, std::vector<std::string>& lines) {
  for (const char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;  // the LF of a CRLF whose CR already ended the line
    }
    if (c == '\n' || c == '\r') {
      lines.push_back(std::move(tail_));
      tail_.clear();
      skip_lf_ = (c == '\r');
      continue;
    }
    tail_ += c;
    if (tail_.size() >= max_line_bytes_) {
      // Cut before the start of a character that may be incomplete, so pieces stay valid UTF-8
      // when the input is; give up after 3 bytes (then the input was not UTF-8 anyway).
      size_t cut = tail_.size();
      for (size_t back = 0; back < 3 && cut > 1 && (static_cast<unsigned char>(tail_[cut - 1]) & 0xC0) == 0x80; ++back)
        --cut;
      if (cut > 1 && (static_cast<unsigned char>(tail_[cut - 1]) & 0xC0) == 0xC0) --cut;  // a lead byte
      if (cut <= 1) cut = tail_.size();
      lines.push_back(tail_.substr(0, cut));
      tail_.erase(0, cut);
    }
  }
}

std::optional<std::string> LineSplitter::finish() {
  skip_lf_ = false;
  if (tail_.empty()) return std::nullopt;
  std::string rest = std::move(tail_);
  tail_.clear();
  return rest;
}

}  // namespace shuo::api::demo::process
