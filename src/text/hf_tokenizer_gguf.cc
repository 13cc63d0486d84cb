// tokenizer.json → GGUF `tokenizer.*` metadata; see hf_tokenizer.h.
//
// Byte-level BPE files become tokenizer.ggml.model "gpt2" with their merges and a
// tokenizer.ggml.pre name recognised from the pre-tokenizer (the regex must be one a GGUF reader
// knows by name: it has no other way to learn it). SentencePiece-style files (byte_fallback,
// Metaspace or the legacy Prepend+Replace normalizer) become "llama", whose readers merge by
// token score: each token made by a merge scores minus that merge's rank, so the pair merged
// first in HF is also the one with the best score.
#include <algorithm>
#include <limits>

#include "text/hf_tokenizer.h"
#include "text/hf_vocab.h"

namespace shuo::text {

namespace {

using format::GgufArray;
using format::GgufType;
using format::GgufValue;

constexpr std::string_view kSpace = "\xE2\x96\x81";  // ▁

// Pre-tokenizer regexes as Hugging Face files spell them, by llama.cpp `tokenizer.ggml.pre` name.
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Error no_gguf(const std::string& where, const std::string& what) {
  return Error{ErrorCode::kUnsupported, "tokenizer.json: " + where,
               what + " has no GGUF spelling (tokenizer.ggml.pre); the tokenizer works in shuo "
                      "from tokenizer.json, but cannot be written to GGUF"};
}

Result<std::string> byte_level_pre_name(const HfTokenizerSpec& spec) {
  using K = HfPreTokenizer::Kind;
  const auto& p = spec.pre_tokenizers;
  if (p.size() == 1 && p[0].kind == K::kByteLevel && p[0].use_regex && !p[0].add_prefix_space)
    return std::string("gpt-2");
  if (p.size() == 2 && p[0].kind == K::kSplit && p[0].pattern.regex &&
      p[0].behavior == HfSplitBehavior::kIsolated && !p[0].invert && p[1].kind == K::kByteLevel &&
      !p[1].use_regex && !p[1].add_prefix_space) {
    if (p[0].pattern.text == kLlama3Regex) return std::string("llama-bpe");
    if (p[0].pattern.text == kQwen2Regex) return std::string("qwen2");
    return no_gguf("pre_tokenizer.pretokenizers[0].pattern.Regex",
                   "the split regex \"" + p[0].pattern.text +
                       "\" is none of gpt-2, llama-bpe, qwen2 and");
  }
  return no_gguf("pre_tokenizer", "this pre-tokenizer sequence");
}

GgufValue array(GgufType type, std::vector<GgufValue> items) {
  auto a = std::make_shared<GgufArray>();
  a->elem_type = type;
  a->items = std::move(items);
  return GgufValue{std::shared_ptr<const GgufArray>(std::move(a))};
}

}  // namespace

Result<GgufKeyValues> hf_tokenizer_gguf_metadata(const HfTokenizerSpec& spec,
                                                 const HfTokenizerOptions& options) {
  SHUO_ASSIGN(HfVocabTable table, build_hf_vocab(spec));
  Vocab& v = table.vocab;
  const bool byte_level = std::any_of(spec.pre_tokenizers.begin(), spec.pre_tokenizers.end(),
                                      [](const HfPreTokenizer& p) { return p.kind == HfPreTokenizer::Kind::kByteLevel; });
  GgufKeyValues kv;
  std::vector<float> scores(v.texts.size(), 0.0f);
  bool add_space_prefix = false;

  if (byte_level) {
    for (size_t i = 0; i < spec.normalizers.size(); ++i)
      if (spec.normalizers[i].kind != HfNormalizer::Kind::kNfc)  // GGUF readers skip NFC; so do its texts mostly
        return no_gguf("normalizer", "a byte-level tokenizer with this normalizer");
    SHUO_ASSIGN(std::string pre, byte_level_pre_name(spec));
    kv.emplace_back("tokenizer.ggml.model", GgufValue{std::string("gpt2")});
    kv.emplace_back("tokenizer.ggml.pre", GgufValue{pre});
  } else {
    // SentencePiece-style: spaces are "▁" in the vocab and a "▁" is put before the text, either by
    // the legacy normalizer (Prepend "▁" + Replace " " → "▁") or by a Metaspace pre-tokenizer.
    using NK = HfNormalizer::Kind;
    if (spec.spm_remove_extra_whitespaces)
      return no_gguf("normalizer_spec.remove_extra_whitespaces", "SentencePiece's whitespace removal");
    add_space_prefix = spec.spm_dummy_prefix;
    for (const HfNormalizer& n : spec.normalizers) {
      if (n.kind == NK::kPrepend && n.prepend == kSpace) {
        add_space_prefix = true;
      } else if (!(n.kind == NK::kReplace && !n.pattern.regex && n.pattern.text == " " && n.content == kSpace)) {
        return no_gguf("normalizer", "a SentencePiece-style tokenizer with this normalizer");
      }
    }
    for (const HfPreTokenizer& p : spec.pre_tokenizers) {
      if (p.kind != HfPreTokenizer::Kind::kMetaspace || p.replacement != kSpace)
        return no_gguf("pre_tokenizer", "a SentencePiece-style tokenizer with this pre-tokenizer");
      if (p.prepend_scheme != HfPrependScheme::kNever) add_space_prefix = true;
    }
    if (!spec.byte_fallback && spec.pre_tokenizers.empty() && !add_space_prefix &&
        !spec.spm_dummy_prefix)
      return no_gguf("model", "a BPE model that is neither byte-level nor SentencePiece-style");
    // Score: minus the rank of the first merge that makes the token; tokens no merge makes (single
    // characters, bytes, specials) score below every merge.
    std::fill(scores.begin(), scores.end(), -1e9f);
    std::string joined;
    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
      joined = spec.merges[rank].first + spec.merges[rank].second;
      auto it = table.model_ids.find(joined);
      if (it != table.model_ids.end() && scores[it->second] == -1e9f)
        scores[it->second] = -static_cast<float>(rank);
    }
    kv.emplace_back("tokenizer.ggml.model", GgufValue{std::string("llama")});
    kv.emplace_back("tokenizer.ggml.pre", GgufValue{std::string("default")});
  }

  // Tokens, padded to the model's embedding rows.
  size_t n = v.texts.size();
  if (options.vocab_size > 0) {
    if (static_cast<size_t>(options.vocab_size) < n)
      return Error{ErrorCode::kBadFile, "vocab_size",
                   std::to_string(options.vocab_size) + " is smaller than the tokenizer's " +
                       std::to_string(n) + " tokens"};
    n = static_cast<size_t>(options.vocab_size);
  }
  std::vector<GgufValue> tokens, types, score_items;
  tokens.reserve(n);
  types.reserve(n);
  score_items.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    const bool real = id < v.texts.size();
    tokens.push_back(GgufValue{real ? v.texts[id] : "[PAD" + std::to_string(id) + "]"});
    types.push_back(GgufValue{static_cast<int32_t>(real ? v.types[id] : TokenType::kUnused)});
    score_items.push_back(GgufValue{real ? scores[id] : -1e9f});
  }
  kv.emplace_back("tokenizer.ggml.tokens", array(GgufType::STRING, std::move(tokens)));
  if (!byte_level) kv.emplace_back("tokenizer.ggml.scores", array(GgufType::FLOAT32, std::move(score_items)));
  kv.emplace_back("tokenizer.ggml.token_type", array(GgufType::INT32, std::move(types)));
  if (byte_level) {
    std::vector<GgufValue> merges;
    merges.reserve(spec.merges.size());
    for (size_t i = 0; i < spec.merges.size(); ++i) {
      const auto& [a, b] = spec.merges[i];
      if (a.find(' ') != std::string::npos || b.find(' ') != std::string::npos)
        return no_gguf("model.merges[" + std::to_string(i) + "]", "a merge of tokens that contain a space");
      merges.push_back(GgufValue{a + " " + b});
    }
    kv.emplace_back("tokenizer.ggml.merges", array(GgufType::STRING, std::move(merges)));
  }
  auto put_id = [&](const char* key, int32_t id) {
    if (id >= 0) kv.emplace_back(key, GgufValue{static_cast<uint32_t>(id)});
  };
  put_id("tokenizer.ggml.bos_token_id", v.bos_id);
  put_id("tokenizer.ggml.eos_token_id", v.eos_id);
  put_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  put_id("tokenizer.ggml.padding_token_id", table.pad_id);
  // GGUF can say "BOS first" and "EOS last" only; anything else the post-processor adds is lost.
  if (table.prefix_ids.size() > 1 || (table.prefix_ids.size() == 1 && table.prefix_ids[0] != v.bos_id))
    return no_gguf("post_processor", "adding tokens other than one BOS before the text");
  if (table.suffix_ids.size() > 1 || (table.suffix_ids.size() == 1 && table.suffix_ids[0] != v.eos_id))
    return no_gguf("post_processor", "adding tokens other than one EOS after the text");
  kv.emplace_back("tokenizer.ggml.add_bos_token", GgufValue{v.add_bos});
  kv.emplace_back("tokenizer.ggml.add_eos_token", GgufValue{v.add_eos});
  if (!byte_level) kv.emplace_back("tokenizer.ggml.add_space_prefix", GgufValue{add_space_prefix});
  for (const auto& [name, text] : spec.chat_templates) {
    kv.emplace_back(name == "default" ? std::string("tokenizer.chat_template")
                                      : "tokenizer.chat_template." + name,
                    GgufValue{text});
  }
  return kv;
}

}  // namespace shuo::text
