// PCRE2 regex chains per `tokenizer.ggml.pre` value; see pre_tokenizer.h.
#include "text/pre_tokenizer.h"

#include "text/byte_level.h"

namespace shuo::text {

namespace {

// GPT-2 (OpenAI's encoder.py): contractions, letters, digits, other symbols, each with one
// optional leading space; whitespace runs leave their last space for the next word.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 (tiktoken cl100k_base). The case-insensitive contractions are spelled out per letter
// so that Unicode case folding cannot widen them (e.g. 'ſ matching 's).
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: Llama 3's pattern, but every digit is its own word.
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: a sequence of isolating splits from its tokenizer.json. Step 2 lists the cased
// letters (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, …) by code point range.
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

// Falcon: punctuation runs first, then GPT-2, then long digit runs cut into threes.
constexpr const char* kFalconPunct = R"([\p{P}\$\+<=>\^~\|`]+)";

struct PreSpec {
  const char* name;
  std::vector<const char*> regexes;
};

const PreSpec* find_spec(std::string_view pre) {
  static const PreSpec kSpecs[] = {
      {"default", {kGpt2}},
      {"gpt-2", {kGpt2}},
      {"gpt2", {kGpt2}},
      {"llama-bpe", {kLlama3}},
      {"llama3", {kLlama3}},
      {"llama-v3", {kLlama3}},
      {"qwen2", {kQwen2}},
      {"deepseek-llm",
       {R"([\r\n])", kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"}},
      {"falcon", {kFalconPunct, kGpt2, R"([0-9][0-9][0-9])"}},
  };
  for (const auto& s : kSpecs)
    if (pre == s.name) return &s;
  return nullptr;
}

// Cuts `piece` (valid UTF-8) into matches and the gaps between them, appending to *out.
void cut(const PcreRegex& re, std::string_view piece, PcreRegex::MatchData* md,
         std::vector<std::pair<size_t, size_t>>* matches, std::vector<std::string_view>* out) {
  matches->clear();
  re.find_all(piece, md, matches);
  size_t gap = 0;
  for (auto [start, end] : *matches) {
    if (start > gap) out->push_back(piece.substr(gap, start - gap));
    out->push_back(piece.substr(start, end - start));
    gap = end;
  }
  if (gap < piece.size()) out->push_back(piece.substr(gap));
}

}  // namespace

const char* const kGpt2Pattern = kGpt2;

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Result<PreTokenizer> PreTokenizer::create(std::string_view pre) {
  const PreSpec* spec = find_spec(pre);
  if (!spec)
    return Error{ErrorCode::kUnsupported, "tokenizer.ggml.pre",
                 "pre-tokenizer \"" + std::string(pre) +
                     "\" is not supported (supported: default, gpt-2, llama-bpe, qwen2, "
                     "deepseek-llm, falcon)"};
  PreTokenizer p;
  p.name_ = spec->name;
  for (const char* pattern : spec->regexes) {
    SHUO_ASSIGN(PcreRegex re, PcreRegex::compile(pattern, false, "pre-tokenizer " + p.name_));
    p.chain_.push_back(std::move(re));
  }
  return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>* words) const {
  PcreRegex::MatchData md;
  std::vector<std::pair<size_t, size_t>> matches;
  std::vector<std::string_view> cur, next;
  // Valid UTF-8 runs go to the regexes; each invalid byte is a piece of its own.
  size_t run = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_char_len(text, i);
    if (n == 1 && static_cast<uint8_t>(text[i]) >= 0x80) {
      if (i > run) cur.push_back(text.substr(run, i - run));
      cur.push_back(text.substr(i, 1));
      run = i + 1;
    }
    i += n;
  }
  if (run < text.size()) cur.push_back(text.substr(run));

  for (const auto& regex : chain_) {
    next.clear();
    for (std::string_view piece : cur) {
      if (piece.size() == 1 && static_cast<uint8_t>(piece[0]) >= 0x80) {
        next.push_back(piece);
      } else {
        cut(regex, piece, &md, &matches, &next);
      }
    }
    cur.swap(next);
  }
  words->insert(words->end(), cur.begin(), cur.end());
}

}  // namespace shuo::text
