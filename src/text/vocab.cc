// Loads tokenizer tables from GGUF metadata; see vocab.h for defaults and errors.
#include "text/vocab.h"

#include "format/gguf.h"

namespace shuo::text {

namespace {

constexpr const char* kModelKey = "tokenizer.ggml.model";
constexpr const char* kPreKey = "tokenizer.ggml.pre";
constexpr const char* kTokensKey = "tokenizer.ggml.tokens";
constexpr const char* kScoresKey = "tokenizer.ggml.scores";
constexpr const char* kTypesKey = "tokenizer.ggml.token_type";

// Reads an optional special-token id; keeps `*id` when absent. Out-of-range ids are errors:
// a BOS that is not in the vocab would silently corrupt every prompt.
Result<void> read_id(const format::GgufFile& f, const char* key, int32_t n_vocab, int32_t* id) {
  SHUO_ASSIGN(std::optional<int64_t> v, f.get_optional<int64_t>(key));
  if (!v) return {};
  // Some converters write -1 (as uint32 0xFFFFFFFF) for "none".
  if (*v == -1 || *v == 0xFFFFFFFFll) {
    *id = -1;
    return {};
  }
  if (*v < 0 || *v >= n_vocab)
    return Error{ErrorCode::kBadFile, key,
                 "token id " + std::to_string(*v) + " is outside the vocabulary of " +
                     std::to_string(n_vocab) + " tokens"};
  *id = static_cast<int32_t>(*v);
  return {};
}

Result<void> read_flag(const format::GgufFile& f, const char* key, bool* flag) {
  SHUO_ASSIGN(std::optional<bool> v, f.get_optional<bool>(key));
  if (v) *flag = *v;
  return {};
}

}  // namespace

Result<Vocab> load_vocab(const format::GgufFile& f) {
  Vocab v;
  SHUO_ASSIGN(v.model, f.get<std::string>(kModelKey));
  SHUO_ASSIGN(std::optional<std::string> pre, f.get_optional<std::string>(kPreKey));
  v.pre = pre ? *pre : "default";
  if (v.model == "llama") {
    v.kind = VocabKind::kSpm;
  } else if (v.model == "gpt2") {
    v.kind = VocabKind::kBpe;
  } else if (v.model == "bert") {
    v.kind = VocabKind::kWordPiece;
  } else {
    return Error{ErrorCode::kUnsupported, kModelKey,
                 "tokenizer model \"" + v.model + "\" is not supported (supported: llama, gpt2)"};
  }

  SHUO_ASSIGN(v.texts, f.get_array<std::string>(kTokensKey));
  const auto n = v.texts.size();
  if (n == 0) return Error{ErrorCode::kBadFile, kTokensKey, "token list is empty"};
  if (n > static_cast<size_t>(INT32_MAX))
    return Error{ErrorCode::kBadFile, kTokensKey, "too many tokens: " + std::to_string(n)};

  if (f.has(kScoresKey)) {
    SHUO_ASSIGN(v.scores, f.get_array<float>(kScoresKey));
    if (v.scores.size() != n)
      return Error{ErrorCode::kBadFile, kScoresKey,
                   "has " + std::to_string(v.scores.size()) + " entries for " + std::to_string(n) +
                       " tokens"};
  } else {
    v.scores.assign(n, 0.0f);
  }

  v.types.assign(n, TokenType::kNormal);
  if (f.has(kTypesKey)) {
    SHUO_ASSIGN(std::vector<int32_t> types, f.get_array<int32_t>(kTypesKey));
    if (types.size() != n)
      return Error{ErrorCode::kBadFile, kTypesKey,
                   "has " + std::to_string(types.size()) + " entries for " + std::to_string(n) +
                       " tokens"};
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int32_t>(TokenType::kByte))
        return Error{ErrorCode::kBadFile, std::string(kTypesKey) + "[" + std::to_string(i) + "]",
                     "unknown token type " + std::to_string(types[i])};
      v.types[i] = static_cast<TokenType>(types[i]);
    }
  }

  // Duplicate texts: a NORMAL token keeps the text. DeepSeek adds USER_DEFINED "ÿ" beside the
  // byte-level "ÿ" that means byte 0xFF; the byte must keep meaning the byte.
  v.ids.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] = v.ids.try_emplace(v.texts[i], static_cast<int32_t>(i));
    if (!inserted && v.types[it->second] != TokenType::kNormal) it->second = static_cast<int32_t>(i);
  }

  const auto n_vocab = static_cast<int32_t>(n);
  if (v.kind == VocabKind::kSpm) {
    v.bos_id = 1;
    v.eos_id = 2;
    v.unk_id = 0;
    v.add_bos = true;
    v.add_space_prefix = true;
    // The SPM defaults only make sense where those ids exist.
    if (n_vocab <= 2) v.bos_id = v.eos_id = -1;
  } else if (v.kind == VocabKind::kBpe) {
    v.add_bos = v.pre == "llama-bpe" || v.pre == "llama3" || v.pre == "llama-v3";
  }
  SHUO_TRY(read_id(f, "tokenizer.ggml.bos_token_id", n_vocab, &v.bos_id));
  SHUO_TRY(read_id(f, "tokenizer.ggml.eos_token_id", n_vocab, &v.eos_id));
  SHUO_TRY(read_id(f, "tokenizer.ggml.unknown_token_id", n_vocab, &v.unk_id));
  SHUO_TRY(read_id(f, "tokenizer.ggml.eot_token_id", n_vocab, &v.eot_id));
  SHUO_TRY(read_id(f, "tokenizer.ggml.eom_token_id", n_vocab, &v.eom_id));
  SHUO_TRY(read_flag(f, "tokenizer.ggml.add_bos_token", &v.add_bos));
  SHUO_TRY(read_flag(f, "tokenizer.ggml.add_eos_token", &v.add_eos));
  SHUO_TRY(read_flag(f, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix));

  SHUO_ASSIGN(std::optional<std::string> arch, f.get_optional<std::string>("general.architecture"));
  if (arch && *arch == "chatglm") {
    for (std::string_view text : {"<|user|>", "<|observation|>"})
      if (auto id = v.find(text); id && v.types[*id] == TokenType::kControl) v.turn_end_ids.push_back(*id);
  }
  return v;
}

int parse_byte_token(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (char c : s.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

}  // namespace shuo::text
