// StreamDecoder: hold back unfinished characters, replace invalid runs as soon as they are known.
#include "text/stream_decoder.h"

#include <utility>

#include "text/utf8.h"

namespace shuo::text {

StreamDecoder::StreamDecoder(PieceFn piece, bool strip_leading_space)
    : piece_(std::move(piece)), strip_leading_space_(strip_leading_space) {}

std::string StreamDecoder::push(int32_t token) {
  pending_ += piece_(token);
  return decode(pending_, /*final=*/false);
}

std::string StreamDecoder::flush() { return decode(pending_, /*final=*/true); }

// Classifies `bytes` (== pending_) front to back. Because kValid and kInvalid need only the bytes
// already present, and kIncomplete only occurs at the end, every byte gets the same verdict it
// would get in sanitize_utf8 of the whole stream: streamed output equals the one-shot result.
std::string StreamDecoder::decode(std::string_view bytes, bool final) {
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    const Utf8Char c = utf8_char_at(bytes, i);
    if (c.kind == Utf8Char::kIncomplete && !final) break;  // wait for the next token
    if (c.kind == Utf8Char::kValid) {
      out.append(bytes.substr(i, c.length));
      in_bad_run_ = false;
      i += c.length;
    } else {
      if (!in_bad_run_) out.append(kReplacementChar);
      in_bad_run_ = true;
      i += c.kind == Utf8Char::kIncomplete ? c.length : 1;
    }
  }
  std::string rest(bytes.substr(i));  // `bytes` views pending_: copy before replacing it
  pending_ = std::move(rest);

  if (!seen_first_byte_ && !out.empty()) {
    seen_first_byte_ = true;  // even when that byte is the space dropped here
    if (strip_leading_space_ && out.front() == ' ') out.erase(0, 1);
  }
  return out;
}

}  // namespace shuo::text
