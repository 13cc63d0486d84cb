// What a Hugging Face architecture's mapping file (hf_llama.cc, hf_qwen2.cc, …) works with: the
// parsed config.json with typed, error-naming accessors, and calls that emit GGUF metadata and
// tensors. Adding an architecture = one file defining a convert function + one row in
// kHfArchitectures (hf_model.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "format/gguf.h"
#include "format/safetensors.h"

namespace shuo::model {

// How a tensor's rows reach the GGUF layout.
enum class HfRows {
  kAsIs,              // a view into the mapping, no copy
  kRopeInterleave,    // per head, rows [x0..x_{d/2-1}, y0..] (rotate-half) → [x0, y0, x1, y1, …]
                      // (interleaved pairs, GGUF llama): llama.cpp's converter permute()
  kTranspose,         // a 2-D [in, out] weight (GPT-2's Conv1D) → [out, in] rows
};

class HfConverter {
 public:
  HfConverter(std::string dir, const nlohmann::json& config, const format::SafetensorsModel& weights)
      : dir_(std::move(dir)), config_(config), weights_(weights) {}

  // ---- config.json, errors name "config.json" and the key ----
  bool has(const std::string& key) const;
  Result<int64_t> get_int(const std::string& key, int64_t min, int64_t max) const;
  Result<int64_t> get_int_or(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  Result<double> get_float_or(const std::string& key, double fallback) const;
  Result<bool> get_bool_or(const std::string& key, bool fallback) const;
  Result<std::optional<std::string>> get_string(const std::string& key) const;
  const nlohmann::json& config() const { return config_; }
  Error config_error(const std::string& key, const std::string& message, ErrorCode code = ErrorCode::kBadFile) const;

  // ---- output ----
  void set(const std::string& key, format::GgufValue v) { metadata_.emplace_back(key, std::move(v)); }
  void set_u32(const std::string& key, uint32_t v) { set(key, format::GgufValue{v}); }
  void set_f32(const std::string& key, float v) { set(key, format::GgufValue{v}); }
  void set_str(const std::string& key, std::string v) { set(key, format::GgufValue{std::move(v)}); }

  bool has_tensor(const std::string& hf_name) const { return weights_.find(hf_name) != nullptr; }
  // Emits `hf_name` as `gguf_name`; `shape` is the expected HF (row-major) shape, checked.
  // `heads` is the head count for kRopeInterleave.
  Result<void> tensor(const std::string& hf_name, const std::string& gguf_name, const std::vector<int64_t>& shape,
                      HfRows rows = HfRows::kAsIs, int64_t heads = 0);
  // A tensor the model does not need (e.g. a tied lm_head): counted as used, not emitted.
  void skip(const std::string& hf_name) { used_.insert(hf_name); }
  // A tensor computed here (rope factors): F32 values, GGUF ne order.
  void computed_tensor(const std::string& gguf_name, std::vector<float> values, std::vector<int64_t> ne);

  // Every safetensors tensor must have been used: one left over means a variant the mapping
  // does not understand (its output would be silently wrong). Names the first one.
  Result<void> check_all_used(const std::string& arch) const;

  std::vector<std::pair<std::string, format::GgufValue>>& metadata() { return metadata_; }
  std::vector<format::GgufTensorInfo>& tensors() { return tensors_; }
  std::vector<std::shared_ptr<const void>>& owners() { return owners_; }

 private:
  std::string dir_;
  const nlohmann::json& config_;
  const format::SafetensorsModel& weights_;
  std::vector<std::pair<std::string, format::GgufValue>> metadata_;
  std::vector<format::GgufTensorInfo> tensors_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::set<std::string> used_;
};

// The mappings. Each reads its hyper-parameters from the config, sets general.architecture and
// the {arch}.* keys, and emits every tensor; hf_model.cc then checks that none is left over.
Result<void> convert_hf_llama(HfConverter& c);   // LlamaForCausalLM, MistralForCausalLM
Result<void> convert_hf_qwen2(HfConverter& c);   // Qwen2ForCausalLM
Result<void> convert_hf_gpt2(HfConverter& c);    // GPT2LMHeadModel, GPT2Model
Result<void> convert_hf_chatglm(HfConverter& c); // ChatGLMModel, ChatGLMForConditionalGeneration

// Shared by the llama-family mappings: the blocks' names are the same in both.
struct HfDecoderShape {
  int64_t n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv, head_dim;
  bool tied;
};
// Reads the common llama-family config keys and writes `arch`.* metadata for them.
Result<HfDecoderShape> hf_decoder_metadata(HfConverter& c, const std::string& arch);
// token_embd, output_norm, output (or the tied skip) and every block's norms, projections and
// FFN; `qk_rows` says how q_proj/k_proj rows are laid out for `arch`; `qkv_bias` adds their biases.
Result<void> hf_decoder_tensors(HfConverter& c, const HfDecoderShape& s, HfRows qk_rows, bool qkv_bias);

}  // namespace shuo::model
