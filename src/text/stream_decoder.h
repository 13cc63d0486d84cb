// Incremental token → text decoding for streaming replies: every emitted piece is valid UTF-8,
// so a character split across tokens (common for Chinese and emoji) is never garbled.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace shuo::text {

// One per sequence. Feed generated tokens in order; concatenating everything push() and flush()
// return gives sanitize_utf8(all piece bytes) (minus the stripped space, see below).
class StreamDecoder {
 public:
  // A token's raw bytes, as the tokenizer produces them (SentencePiece "▁" already a space,
  // "<0xE4>" already the byte 0xE4, byte-level BPE already mapped back to bytes). Special tokens
  // that should not appear in the text return "".
  using PieceFn = std::function<std::string(int32_t token)>;

  // strip_leading_space: drop the first byte of the decoded text if it is a space. For
  // SentencePiece models, whose first word piece carries a "▁" that the reply should not start
  // with. Only the very first decoded byte is looked at; later spaces are kept.
  explicit StreamDecoder(PieceFn piece, bool strip_leading_space = false);

  // Appends the token's bytes; returns the text now safe to emit: complete characters only.
  // Bytes of a character that may still complete are held back. Bytes known to be invalid
  // become U+FFFD at once, one per run of invalid bytes (a run may span several tokens).
  std::string push(int32_t token);

  // End of stream: held bytes that never completed become one U+FFFD (or none, if they continue
  // a run that already got one). The decoder is empty afterwards.
  std::string flush();

 private:
  std::string decode(std::string_view bytes, bool final);

  PieceFn piece_;
  bool strip_leading_space_;
  bool seen_first_byte_ = false;
  bool in_bad_run_ = false;  // the last decoded byte was invalid and already got its U+FFFD
  std::string pending_;      // 0-3 bytes of an unfinished character
};

}  // namespace shuo::text
