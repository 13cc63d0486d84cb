// Normalizers, pre-tokenizers and decoders of a tokenizer.json; see hf_pipeline.h. Each follows
// the documented behaviour of the Hugging Face `tokenizers` component of the same name.
#include "text/hf_pipeline.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>

#include "text/pre_tokenizer.h"
#include "text/replace_all.h"
#include "text/utf8.h"
#include "text/vocab.h"

namespace shuo::text {

namespace {

bool is_invalid_byte(std::string_view s, size_t i) {
  return utf8_char_len(s, i) == 1 && static_cast<uint8_t>(s[i]) >= 0x80;
}

// Calls f(begin, end) for each maximal run of valid UTF-8 in s; invalid bytes are left out.
template <typename F>
void for_each_valid_run(std::string_view s, F&& f) {
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    if (is_invalid_byte(s, i)) {
      if (i > run) f(run, i);
      run = i + 1;
      ++i;
      continue;
    }
    i += utf8_char_len(s, i);
  }
  if (run < s.size()) f(run, s.size());
}

uint32_t decode_cp(std::string_view s, size_t i, size_t n) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  switch (n) {
    case 1: return b(0);
    case 2: return (b(0) & 0x1Fu) << 6 | (b(1) & 0x3Fu);
    case 3: return (b(0) & 0x0Fu) << 12 | (b(1) & 0x3Fu) << 6 | (b(2) & 0x3Fu);
    default: return (b(0) & 0x07u) << 18 | (b(1) & 0x3Fu) << 12 | (b(2) & 0x3Fu) << 6 | (b(3) & 0x3Fu);
  }
}

// Rust's char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Unicode normalization of the valid runs of `s` (utf8proc).
std::string unicode_normalize(std::string_view s, utf8proc_option_t options) {
  std::string out;
  out.reserve(s.size());
  size_t done = 0;
  for_each_valid_run(s, [&](size_t b, size_t e) {
    out.append(s.substr(done, b - done));  // invalid bytes before this run
    utf8proc_uint8_t* dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + b),
                                            static_cast<utf8proc_ssize_t>(e - b), &dst, options);
    if (n >= 0) {
      out.append(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
    } else {
      out.append(s.substr(b, e - b));  // cannot happen for valid UTF-8; keep the text
    }
    std::free(dst);
    done = e;
  });
  out.append(s.substr(done));
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_char_len(s, i);
    if (is_invalid_byte(s, i)) {
      out.push_back(s[i]);
    } else {
      append_utf8(&out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(decode_cp(s, i, n)))));
    }
    i += n;
  }
  return out;
}

std::string strip_whitespace(std::string_view s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      const size_t n = utf8_char_len(s, b);
      if (is_invalid_byte(s, b) || !is_whitespace(decode_cp(s, b, n))) break;
      b += n;
    }
  }
  if (right) {
    while (e > b) {
      size_t k = e - 1;  // find the start of the last character
      while (k > b && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80) --k;
      const size_t n = utf8_char_len(s, k);
      if (k + n != e || is_invalid_byte(s, k) || !is_whitespace(decode_cp(s, k, n))) break;
      e = k;
    }
  }
  return std::string(s.substr(b, e - b));
}

// Matches of `re` in the valid runs of `s`, as absolute byte ranges.
void find_matches(const PcreRegex& re, std::string_view s, PcreRegex::MatchData* md,
                  std::vector<std::pair<size_t, size_t>>* out) {
  std::vector<std::pair<size_t, size_t>> local;
  for_each_valid_run(s, [&](size_t b, size_t e) {
    local.clear();
    re.find_all(s.substr(b, e - b), md, &local);
    for (auto [mb, me] : local) out->emplace_back(b + mb, b + me);
  });
}

// Appends bytes as UTF-8, each maximal invalid subsequence replaced by U+FFFD (Rust's
// String::from_utf8_lossy).
void append_lossy(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_char_len(s, i);
    if (!is_invalid_byte(s, i)) {
      out->append(s.substr(i, n));
      i += n;
      continue;
    }
    // How many bytes of a well-formed sequence follow the lead byte before it breaks.
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t want = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) want = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
      want = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      want = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    size_t len = 1;
    for (size_t k = 1; k < want && i + k < s.size(); ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
      ++len;
    }
    out->append("\xEF\xBF\xBD");
    i += len;
  }
}


// GPT-2 alphabet text → bytes. A token with any character outside the alphabet keeps its own
// bytes (added tokens are stored as plain text), as HF's ByteLevel decoder does.
std::string byte_level_to_bytes(std::string_view token, const ByteLevelAlphabet& alphabet) {
  std::string bytes = alphabet.decode(token);
  // decode() copies unknown characters through; detect that by re-encoding.
  std::string again;
  alphabet.encode(bytes, &again);
  return again == token ? bytes : std::string(token);
}

}  // namespace

// ---------------------------------------------------------------- normalizers

Result<HfNormalizerChain> HfNormalizerChain::create(const std::vector<HfNormalizer>& steps) {
  HfNormalizerChain c;
  for (size_t i = 0; i < steps.size(); ++i) {
    Step s{steps[i], {}};
    if (s.spec.kind == HfNormalizer::Kind::kReplace && s.spec.pattern.regex) {
      SHUO_ASSIGN(PcreRegex re, PcreRegex::compile(s.spec.pattern.text, false,
                                                    "normalizer[" + std::to_string(i) + "].pattern"));
      s.regex.push_back(std::move(re));
    }
    c.steps_.push_back(std::move(s));
  }
  return c;
}

void HfNormalizerChain::apply(std::string* text) const {
  using K = HfNormalizer::Kind;
  for (const Step& s : steps_) {
    switch (s.spec.kind) {
      case K::kNfc: *text = unicode_normalize(*text, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE)); break;
      case K::kNfd: *text = unicode_normalize(*text, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE)); break;
      case K::kNfkc:
        *text = unicode_normalize(*text, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
        break;
      case K::kNfkd:
        *text = unicode_normalize(*text, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
        break;
      case K::kLowercase: *text = lowercase(*text); break;
      case K::kPrepend:
        if (!text->empty()) text->insert(0, s.spec.prepend);  // HF prepends to non-empty text only
        break;
      case K::kReplace:
        if (!s.spec.pattern.regex) {
          *text = replace_all(*text, s.spec.pattern.text, s.spec.content);
        } else {
          PcreRegex::MatchData md;
          std::vector<std::pair<size_t, size_t>> m;
          find_matches(s.regex[0], *text, &md, &m);
          std::string out;
          size_t prev = 0;
          for (auto [b, e] : m) {
            out.append(*text, prev, b - prev);
            out.append(s.spec.content);
            prev = e;
          }
          out.append(*text, prev);
          *text = std::move(out);
        }
        break;
      case K::kStrip: *text = strip_whitespace(*text, s.spec.strip_left, s.spec.strip_right); break;
    }
  }
}

// ---------------------------------------------------------------- pre-tokenizers

Result<HfPreTokenizerChain> HfPreTokenizerChain::create(const std::vector<HfPreTokenizer>& steps) {
  HfPreTokenizerChain c;
  using K = HfPreTokenizer::Kind;
  for (size_t i = 0; i < steps.size(); ++i) {
    Step s{steps[i], {}, HfSplitBehavior::kIsolated, false};
    const std::string where = "pre_tokenizer[" + std::to_string(i) + "]";
    auto add_regex = [&](std::string_view pattern, bool literal) -> Result<void> {
      SHUO_ASSIGN(PcreRegex re, PcreRegex::compile(pattern, literal, where + ".pattern"));
      s.regex.push_back(std::move(re));
      return {};
    };
    switch (s.spec.kind) {
      case K::kSplit:
        if (s.spec.pattern.text.empty())
          return Error{ErrorCode::kBadFile, where + ".pattern", "must not be empty"};
        SHUO_TRY(add_regex(s.spec.pattern.text, !s.spec.pattern.regex));
        s.behavior = s.spec.behavior;
        s.invert = s.spec.invert;
        break;
      case K::kByteLevel:
        if (s.spec.use_regex) SHUO_TRY(add_regex(kGpt2Pattern, false));
        c.byte_level_ = true;
        break;
      case K::kMetaspace:
        if (s.spec.split) {
          SHUO_TRY(add_regex(s.spec.replacement, true));
          s.behavior = HfSplitBehavior::kMergedWithNext;
        }
        break;
      case K::kDigits:
        SHUO_TRY(add_regex(s.spec.individual_digits ? R"(\p{N})" : R"(\p{N}+)", false));
        break;
      case K::kWhitespaceSplit:
        SHUO_TRY(add_regex(R"(\s+)", false));
        s.behavior = HfSplitBehavior::kRemoved;
        break;
    }
    c.steps_.push_back(std::move(s));
  }
  return c;
}

// Cuts every word by the step's regex and applies its split behavior (HF SplitDelimiterBehavior).
void HfPreTokenizerChain::run_split(const Step& step, std::vector<HfWord>* words) const {
  struct Range {
    size_t b, e;
    bool match;
  };
  PcreRegex::MatchData md;
  std::vector<std::pair<size_t, size_t>> m;
  std::vector<Range> ranges, merged;
  std::vector<HfWord> out;
  for (HfWord& w : *words) {
    m.clear();
    find_matches(step.regex[0], w.text, &md, &m);
    ranges.clear();
    size_t prev = 0;
    for (auto [b, e] : m) {
      if (b > prev) ranges.push_back({prev, b, false});
      ranges.push_back({b, e, true});
      prev = e;
    }
    if (prev < w.text.size()) ranges.push_back({prev, w.text.size(), false});
    if (step.invert)
      for (Range& r : ranges) r.match = !r.match;

    merged.clear();
    switch (step.behavior) {
      case HfSplitBehavior::kIsolated: merged = ranges; break;
      case HfSplitBehavior::kRemoved:
        for (const Range& r : ranges)
          if (!r.match) merged.push_back(r);
        break;
      case HfSplitBehavior::kMergedWithPrevious: {
        bool prev_match = false;
        for (const Range& r : ranges) {
          if (r.match && !prev_match && !merged.empty()) merged.back().e = r.e;
          else merged.push_back(r);
          prev_match = r.match;
        }
        break;
      }
      case HfSplitBehavior::kMergedWithNext: {  // the same, walking from the end
        bool prev_match = false;
        for (size_t k = ranges.size(); k-- > 0;) {
          const Range& r = ranges[k];
          if (r.match && !prev_match && !merged.empty()) merged.back().b = r.b;
          else merged.push_back(r);
          prev_match = r.match;
        }
        std::reverse(merged.begin(), merged.end());
        break;
      }
      case HfSplitBehavior::kContiguous:
        for (const Range& r : ranges) {
          if (!merged.empty() && merged.back().match == r.match) merged.back().e = r.e;
          else merged.push_back(r);
        }
        break;
    }
    for (const Range& r : merged)
      if (r.e > r.b) out.push_back({w.text.substr(r.b, r.e - r.b), w.at_input_start && r.b == 0});
  }
  words->swap(out);
}

void HfPreTokenizerChain::split(std::string text, bool at_input_start,
                                std::vector<HfWord>* result) const {
  if (text.empty()) return;
  std::vector<HfWord> words;
  words.push_back({std::move(text), at_input_start});
  using K = HfPreTokenizer::Kind;
  for (const Step& s : steps_) {
    switch (s.spec.kind) {
      case K::kSplit:
      case K::kDigits:
      case K::kWhitespaceSplit: run_split(s, &words); break;
      case K::kByteLevel: {
        if (s.spec.add_prefix_space)
          for (HfWord& w : words)
            if (w.text.empty() || w.text[0] != ' ') w.text = " " + w.text;  // not insert(0, …): GCC 12 -Wrestrict false positive
        if (!s.regex.empty()) run_split(s, &words);
        for (HfWord& w : words) {
          std::string enc;
          alphabet_.encode(w.text, &enc);
          w.text = std::move(enc);
        }
        break;
      }
      case K::kMetaspace: {
        const std::string& rep = s.spec.replacement;
        for (HfWord& w : words) {
          w.text = replace_all(w.text, " ", rep);
          const bool prepend = s.spec.prepend_scheme == HfPrependScheme::kAlways ||
                               (s.spec.prepend_scheme == HfPrependScheme::kFirst && w.at_input_start);
          if (prepend && !w.text.starts_with(rep)) w.text.insert(0, rep);
        }
        if (!s.regex.empty()) run_split(s, &words);
        break;
      }
    }
  }
  for (HfWord& w : words)
    if (!w.text.empty()) result->push_back(std::move(w));
}

// ---------------------------------------------------------------- decoders

Result<HfDecoderChain> HfDecoderChain::create(const std::vector<HfDecoder>& steps) {
  HfDecoderChain c;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == HfDecoder::Kind::kStrip && utf8_char_len(steps[i].content, 0) != steps[i].content.size())
      return Error{ErrorCode::kBadFile, "decoder[" + std::to_string(i) + "].content",
                   "must be exactly one character"};
  }
  c.steps_ = steps;
  return c;
}

std::string HfDecoderChain::decode(std::vector<std::string> tokens, bool from_start) const {
  using K = HfDecoder::Kind;
  for (const HfDecoder& d : steps_) {
    switch (d.kind) {
      case K::kReplace:
        for (std::string& t : tokens) t = replace_all(t, d.pattern.text, d.content);
        break;
      case K::kByteFallback: {
        std::vector<std::string> out;
        std::string bytes;  // a run of consecutive byte tokens
        size_t n_bytes = 0;
        auto flush = [&] {
          if (n_bytes == 0) return;
          if (is_valid_utf8(bytes)) {
            out.push_back(bytes);
          } else {
            for (size_t k = 0; k < n_bytes; ++k) out.emplace_back("\xEF\xBF\xBD");
          }
          bytes.clear();
          n_bytes = 0;
        };
        for (std::string& t : tokens) {
          const int b = parse_byte_token(t);
          if (b >= 0) {
            bytes.push_back(static_cast<char>(b));
            ++n_bytes;
          } else {
            flush();
            out.push_back(std::move(t));
          }
        }
        flush();
        tokens = std::move(out);
        break;
      }
      case K::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case K::kStrip:
        for (std::string& t : tokens) {
          if (from_start) {
            int32_t n = 0;
            while (n < d.start && t.starts_with(d.content)) {
              t.erase(0, d.content.size());
              ++n;
            }
          }
          for (int32_t n = 0; n < d.stop && t.ends_with(d.content); ++n)
            t.erase(t.size() - d.content.size());
        }
        break;
      case K::kByteLevel: {
        std::string bytes;
        for (const std::string& t : tokens) bytes += byte_level_to_bytes(t, alphabet_);
        std::string text;
        append_lossy(bytes, &text);
        tokens.assign(1, std::move(text));
        break;
      }
      case K::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          std::string& t = tokens[i];
          t = replace_all(t, d.replacement, " ");
          if (i == 0 && from_start && d.prepend_scheme != HfPrependScheme::kNever && t.starts_with(' '))
            t.erase(0, 1);
        }
        break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::string HfDecoderChain::piece(const std::string& token) const {
  using K = HfDecoder::Kind;
  std::string t = token;
  for (const HfDecoder& d : steps_) {
    switch (d.kind) {
      case K::kReplace: t = replace_all(t, d.pattern.text, d.content); break;
      case K::kByteFallback:
        if (const int b = parse_byte_token(t); b >= 0) t.assign(1, static_cast<char>(b));
        break;
      case K::kFuse:
      case K::kStrip: break;  // whole-text rules; a lone piece keeps its bytes
      case K::kByteLevel: t = byte_level_to_bytes(t, alphabet_); break;
      case K::kMetaspace: t = replace_all(t, d.replacement, " "); break;
    }
  }
  return t;
}

}  // namespace shuo::text
