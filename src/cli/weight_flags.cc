#include "cli/weight_flags.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/quantize_progress.h"
#include "model/lora.h"
#include "tensor/thread_pool.h"

namespace shuo::cli {

void add_weight_flags(CLI::App& cmd, WeightFlags& f) {
  cmd.add_option("--lora,--lora_model", f.lora_dirs,
                 "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) merged at load; "
                 "repeat for several, applied in order")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--quantize", f.quantize,
                 "quantize F32/F16/BF16 weights at load: q8_0, q4_0 or q4_k (Q4_K_M rules); 8 = q8_0, 4 = q4_k");
  cmd.add_flag("--load_in_8bit", f.load_in_8bit, "same as --quantize q8_0");
  cmd.add_flag("--load_in_4bit", f.load_in_4bit, "same as --quantize q4_k");
}

Result<std::optional<model::LoadQuantType>> weight_quant_type(const WeightFlags& f) {
  if (f.load_in_8bit && f.load_in_4bit)
    return Error{ErrorCode::kBadField, "--load_in_4bit", "cannot be combined with --load_in_8bit"};
  std::optional<model::LoadQuantType> q;
  if (!f.quantize.empty()) {
    q = model::find_load_quant_type(f.quantize);
    if (!q)
      return Error{ErrorCode::kBadField, "--quantize",
                   "unknown type '" + f.quantize + "' (one of " + model::load_quant_type_names() + ")"};
  }
  const char* alias = f.load_in_8bit ? "--load_in_8bit" : f.load_in_4bit ? "--load_in_4bit" : nullptr;
  if (alias) {
    const auto implied = model::find_load_quant_type(f.load_in_8bit ? "q8_0" : "q4_k");
    if (q && std::string(q->name) != implied->name)
      return Error{ErrorCode::kBadField, "--quantize",
                   std::string("is ") + q->name + " but " + alias + " means " + implied->name};
    q = implied;
  }
  return q;
}

Result<void> apply_weight_flags(format::GgufFile& file, const WeightFlags& f) {
  SHUO_ASSIGN(auto quant, weight_quant_type(f));
  if (!quant && f.lora_dirs.empty()) return {};
  model::LoadTransform t;
  t.quantize = quant;
  for (const auto& dir : f.lora_dirs) {
    SHUO_ASSIGN(model::LoraAdapter a, model::load_lora_adapter(dir, file));
    std::fprintf(stderr, "lora: %s: %zu modules (r %lld, scale %g)%s\n", dir.c_str(), a.n_lora,
                 static_cast<long long>(a.rank), a.scale,
                 a.n_replaced ? (", " + std::to_string(a.n_replaced) + " replaced (modules_to_save)").c_str() : "");
    model::append_lora(t, std::move(a));
  }
  tensor::ThreadPool pool(tensor::physical_core_count());
  QuantizeProgressPrinter progress(false, "load");
  model::TransformStats st;
  SHUO_ASSIGN(file, model::transform_model(std::move(file), t, pool,
                                           [&](const model::QuantizeProgress& p) { progress.update(p); }, &st));
  std::string what;
  if (st.n_quantized) what += std::to_string(st.n_quantized) + " quantized to " + quant->name;
  if (st.n_fallback) what += ", " + std::to_string(st.n_fallback) + " of them in a wider type (row length)";
  if (st.n_edited) what += (what.empty() ? "" : ", ") + std::to_string(st.n_edited) + " merged";
  std::fprintf(stderr, "load: %zu of %zu tensors rewritten (%s), %.2f MiB -> %.2f MiB in %.2f s, %s\n", st.n_rewritten,
               st.n_tensors, what.c_str(), double(st.in_bytes) / 1048576.0, double(st.out_bytes) / 1048576.0,
               st.seconds, st.storage.c_str());
  return {};
}

}  // namespace shuo::cli
