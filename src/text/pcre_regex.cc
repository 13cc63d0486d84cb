// PCRE2 wrapper; see pcre_regex.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/pcre_regex.h"

#include <pcre2.h>

#include "text/byte_level.h"

namespace shuo::text {

struct PcreRegex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;  // JIT-compiled: call pcre2_jit_match directly (skips per-call checks)
  ~Code() { pcre2_code_free(code); }
};

PcreRegex::PcreRegex(PcreRegex&&) noexcept = default;
PcreRegex& PcreRegex::operator=(PcreRegex&&) noexcept = default;
PcreRegex::~PcreRegex() = default;

PcreRegex::MatchData::MatchData() : md_(pcre2_match_data_create(1, nullptr)) {}
PcreRegex::MatchData::~MatchData() { pcre2_match_data_free(static_cast<pcre2_match_data*>(md_)); }

Result<PcreRegex> PcreRegex::compile(std::string_view pattern, bool literal,
                                     const std::string& where) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  // PCRE2_LITERAL allows only a few other options; UCP and DOLLAR_ENDONLY mean nothing for it.
  const uint32_t options =
      literal ? PCRE2_LITERAL | PCRE2_UTF : PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
  PcreRegex r;
  r.code_ = std::make_unique<Code>();
  r.code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                options, &err, &err_offset, nullptr);
  if (!r.code_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return Error{ErrorCode::kUnsupported, where,
                 "regex does not compile at offset " + std::to_string(err_offset) + ": " +
                     reinterpret_cast<const char*>(msg)};
  }
  // Optional: without JIT (unsupported CPU, no executable memory) the interpreter runs.
  r.code_->jit = pcre2_jit_compile(r.code_->code, PCRE2_JIT_COMPLETE) == 0;
  return r;
}

void PcreRegex::find_all(std::string_view piece, MatchData* data,
                         std::vector<std::pair<size_t, size_t>>* out) const {
  auto* md = static_cast<pcre2_match_data*>(data->md_);
  pcre2_code* code = code_->code;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
  size_t pos = 0;
  while (pos < piece.size()) {
    int rc = code_->jit ? pcre2_jit_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, md,
                                          nullptr)
                        : pcre2_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, md,
                                      nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // JIT stack exhausted (very long runs): the interpreter keeps its state on the heap.
      rc = pcre2_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       nullptr);
    }
    if (rc < 0) break;  // no further match (or a limit): the caller keeps the rest as a gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t start = ov[0], end = ov[1];
    if (end <= start) {  // empty match: step over one character
      if (start >= piece.size()) break;
      pos = start + utf8_char_len(piece, start);
      continue;
    }
    out->emplace_back(start, end);
    pos = end;
  }
}

}  // namespace shuo::text
