// Token tables read from GGUF `tokenizer.ggml.*` metadata: texts, scores, types, special ids and
// flags. Shared by the SentencePiece and byte-level BPE tokenizers; holds no algorithm.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace shuo::format {
class GgufFile;
}

namespace shuo::text {

// `tokenizer.ggml.token_type` values (same numbering as llama.cpp / gguf-py).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Hash for std::string keys that also accepts std::string_view (no temporary strings on lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

enum class VocabKind { kSpm, kBpe, kWordPiece };

struct Vocab {
  VocabKind kind = VocabKind::kSpm;
  std::string model;  // tokenizer.ggml.model: "llama", "gpt2", "bert"
  std::string pre;    // tokenizer.ggml.pre ("default" when absent)

  std::vector<std::string> texts;  // [n_vocab] raw vocab strings (SPM: spaces as U+2581)
  std::vector<float> scores;       // [n_vocab] merge priority (SPM); zeros when absent
  std::vector<TokenType> types;    // [n_vocab]; kNormal when absent
  // text → id. Duplicate texts: the first NORMAL token wins, else the last one.
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids;

  int32_t bos_id = -1;  // -1: none
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  // More end-of-generation ids the architecture implies: ChatGLM ends an assistant turn by
  // starting the next one (<|user|>, <|observation|>), as its generation_config's eos list says.
  std::vector<int32_t> turn_end_ids;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;

  int32_t size() const { return static_cast<int32_t>(texts.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }
  std::optional<int32_t> find(std::string_view text) const {
    auto it = ids.find(text);
    if (it == ids.end()) return std::nullopt;
    return it->second;
  }
};

// Reads the tables and flags. Defaults when a key is absent (as llama.cpp):
//   SPM ("llama"): bos 1, eos 2, unk 0, add_bos true, add_eos false, add_space_prefix true.
//   BPE ("gpt2"):  no bos/eos/unk, add_bos false (true for pre "llama-bpe"), add_eos false,
//                  add_space_prefix false.
// Errors name the key: a missing token list, arrays of mismatched length, an id out of range.
Result<Vocab> load_vocab(const format::GgufFile& f);

// The byte a byte-fallback token spells ("<0xAB>" → 0xAB, either hex case); -1 for any other text.
int parse_byte_token(std::string_view s);

}  // namespace shuo::text
