// tokenizer.json vocabulary → id-indexed table; see hf_vocab.h.
#include "text/hf_vocab.h"

#include <algorithm>

namespace shuo::text {

Result<HfVocabTable> build_hf_vocab(const HfTokenizerSpec& spec) {
  HfVocabTable t;
  Vocab& v = t.vocab;
  int32_t n = 0;
  for (const auto& [text, id] : spec.vocab) n = std::max(n, id + 1);
  for (const HfAddedToken& a : spec.added_tokens) n = std::max(n, a.id + 1);
  // Real vocabularies are dense. A hostile file must not make one huge id allocate gigabytes.
  const size_t given = spec.vocab.size() + spec.added_tokens.size();
  if (static_cast<size_t>(n) > given + 65536)
    return Error{ErrorCode::kBadFile, "tokenizer.json: model.vocab",
                 "ids reach " + std::to_string(n - 1) + " for only " + std::to_string(given) +
                     " tokens"};
  v.texts.resize(n);
  v.types.assign(n, TokenType::kUndefined);
  v.scores.assign(n, 0.0f);
  t.special.assign(n, false);

  t.model_ids.reserve(spec.vocab.size());
  for (const auto& [text, id] : spec.vocab) {
    t.model_ids.emplace(text, id);
    if (v.types[id] != TokenType::kUndefined) continue;  // two strings for one id: the first names it
    v.texts[id] = text;
    v.types[id] = spec.byte_fallback && parse_byte_token(text) >= 0 ? TokenType::kByte : TokenType::kNormal;
  }
  // Added tokens win over the model's text for their id, as HF's id_to_token does.
  for (const HfAddedToken& a : spec.added_tokens) {
    v.texts[a.id] = a.content;
    v.types[a.id] = a.special ? TokenType::kControl : TokenType::kUserDefined;
    t.special[a.id] = a.special;
  }
  for (int32_t id = 0; id < n; ++id) {
    if (v.types[id] == TokenType::kUndefined) {
      v.texts[id] = "[PAD" + std::to_string(id) + "]";
      v.types[id] = TokenType::kUnused;
    }
  }
  v.ids.reserve(n);
  for (int32_t id = 0; id < n; ++id) {
    auto [it, inserted] = v.ids.try_emplace(v.texts[id], id);
    if (!inserted && v.types[it->second] != TokenType::kNormal) it->second = id;
  }

  // A token named by the config or the post-processor: added tokens first, then the model's.
  auto resolve = [&](const std::string& text, const std::string& where) -> Result<int32_t> {
    for (const HfAddedToken& a : spec.added_tokens)
      if (a.content == text) return a.id;
    if (auto it = t.model_ids.find(text); it != t.model_ids.end()) return it->second;
    return Error{ErrorCode::kBadFile, where, "token \"" + text + "\" is not in the vocabulary"};
  };

  if (spec.unk_token) {
    if (auto it = t.model_ids.find(*spec.unk_token); it != t.model_ids.end()) {
      v.unk_id = it->second;
      v.types[v.unk_id] = TokenType::kUnknown;
    } else {
      return Error{ErrorCode::kBadFile, "tokenizer.json: model.unk_token",
                   "\"" + *spec.unk_token + "\" is not in model.vocab"};
    }
  }
  for (const std::string& s : spec.prefix_tokens) {
    SHUO_ASSIGN(int32_t id, resolve(s, "tokenizer.json: post_processor"));
    t.prefix_ids.push_back(id);
  }
  for (const std::string& s : spec.suffix_tokens) {
    SHUO_ASSIGN(int32_t id, resolve(s, "tokenizer.json: post_processor"));
    t.suffix_ids.push_back(id);
  }
  // bos/eos: the config names them; without it, the single token the post-processor adds.
  if (spec.bos_token) {
    SHUO_ASSIGN(v.bos_id, resolve(*spec.bos_token, "tokenizer_config.json: bos_token"));
  } else if (t.prefix_ids.size() == 1) {
    v.bos_id = t.prefix_ids[0];
  }
  if (spec.eos_token) {
    SHUO_ASSIGN(v.eos_id, resolve(*spec.eos_token, "tokenizer_config.json: eos_token"));
  } else if (t.suffix_ids.size() == 1) {
    v.eos_id = t.suffix_ids[0];
  }
  if (spec.unk_token_config && v.unk_id < 0) {
    SHUO_ASSIGN(v.unk_id, resolve(*spec.unk_token_config, "tokenizer_config.json: unk_token"));
  }
  if (spec.pad_token) {
    SHUO_ASSIGN(t.pad_id, resolve(*spec.pad_token, "tokenizer_config.json: pad_token"));
  }
  // transformers' Llama-family tokenizers rebuild the post-processor from these two flags.
  if (spec.add_bos_token) {
    t.prefix_ids.clear();
    if (*spec.add_bos_token && v.bos_id >= 0) t.prefix_ids.push_back(v.bos_id);
  }
  if (spec.add_eos_token) {
    t.suffix_ids.clear();
    if (*spec.add_eos_token && v.eos_id >= 0) t.suffix_ids.push_back(v.eos_id);
  }
  v.add_bos = !t.prefix_ids.empty();
  v.add_eos = !t.suffix_ids.empty();
  return t;
}

}  // namespace shuo::text
