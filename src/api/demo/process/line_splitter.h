// Splits a byte stream (a child's stdout or stderr) into lines as the bytes arrive, so that each
// line can be passed on the moment its end is read.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shuo::api::demo::process {

// A line ends at "\n", "\r\n" or a lone "\r" (progress bars redraw with a lone CR; each redraw
// becomes a line). The terminator is not part of the line. A line longer than max_line_bytes is
// passed on in pieces of at most that size, cut before a UTF-8 continuation byte where possible.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes = size_t(1) << 20);

  // Appends `bytes`; every line they complete is appended to `lines`.
  void push(std::string_view bytes, std::vector<std::string>& lines);
  // End of the stream: the unterminated rest as a last line, if there is any.
  std::optional<std::string> finish();
  // The bytes of the line being read (no terminator seen yet); e.g. a prompt like ">>> ".
  const std::string& tail() const { return tail_; }

 private:
  size_t max_line_bytes_;
  std::string tail_;
  bool skip_lf_ = false;  // the last byte was a CR: a LF right after it belongs to it
};

}  // namespace shuo::api::demo::process
