// `shuo generate`: load a GGUF model, encode a prompt, and stream the generated text (or ids)
// to stdout; prompt and decode speeds go to stderr.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <random>
#include <string>

#include "cli/commands.h"
#include "cli/kv_cache_flag.h"
#include "cli/model_source.h"
#include "cli/sampling_flags.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "format/gguf.h"
#include "model/model.h"
#include "tensor/thread_pool.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

namespace shuo::cli {

namespace {

struct GenerateArgs {
  std::string model;
  ModelSourceOptions source;  // --tokenizer, …
  format::GgmlType kv_type = format::GgmlType::F16;
  std::string prompt;
  int32_t n_predict = 128;
  int32_t threads = 0;
  int32_t ctx = 0;
  bool ids = false;
  engine::SamplingParams sampling;
  int64_t seed = -1;
};

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

int run_generate(GenerateArgs a) {
  auto source = open_model_source(a.model, a.source);
  if (!source) return fail(source.error());
  const std::unique_ptr<text::Tokenizer>& tok = source->tokenizer;
  auto model = model::load_model(source->file);
  if (!model) return fail(model.error());
  if (auto k = (*model)->check_kv_type(a.kv_type); !k) return fail(k.error());
  const auto& cfg = (*model)->config();

  if (a.seed >= 0) {
    a.sampling.seed = static_cast<uint64_t>(a.seed);
    a.sampling.has_seed = true;
  }
  if (auto v = engine::validate(a.sampling, cfg.n_vocab); !v) return fail(v.error());
  if (a.n_predict < 0) return fail({ErrorCode::kBadField, "-n", "must be ≥ 0"});

  const std::vector<int32_t> prompt = tok->encode(a.prompt, /*add_special=*/true, /*parse_special=*/false);
  if (prompt.empty()) return fail({ErrorCode::kBadField, "--prompt", "is empty and the model adds no BOS token"});
  const int32_t ctx = a.ctx > 0 ? a.ctx : std::min(cfg.n_ctx_train, 4096);
  // Learned position tables (gpt2) end; refuse up front rather than stop mid-generation.
  if (ctx > cfg.max_positions())
    return fail({ErrorCode::kLimit, "--ctx", std::to_string(ctx) + " exceeds the " + std::to_string(cfg.max_positions()) +
                                                 " positions " + cfg.arch + " has learned"});
  if (int64_t(prompt.size()) + a.n_predict > ctx)
    return fail({ErrorCode::kLimit, "--ctx", "prompt (" + std::to_string(prompt.size()) + " tokens) + -n " + std::to_string(a.n_predict) +
                                                 " exceeds the context size " + std::to_string(ctx)});

  tensor::ThreadPool pool(a.threads > 0 ? a.threads : tensor::physical_core_count());
  model::KvCache kv = (*model)->make_cache(ctx, a.kv_type);
  engine::Sampler sampler(a.sampling, cfg.n_vocab);

  const text::Tokenizer& t = *tok;
  // SentencePiece drops the space it added in front of the first word of a text; when the
  // prompt is only BOS, the generated text is that start.
  const bool strip = t.adds_space_prefix() && prompt.size() == 1 && prompt[0] == t.bos_id();
  text::StreamDecoder decoder([&t](int32_t id) { return t.token_to_piece(id); }, strip);
  bool first_id = true;
  engine::GenerationCallbacks cb;
  cb.is_end = [&t](int32_t id) { return t.is_eog(id); };
  cb.on_token = [&](int32_t id) {
    if (a.ids) {
      std::printf(first_id ? "%d" : " %d", id);
      first_id = false;
    } else {
      const std::string piece = decoder.push(id);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
    }
    std::fflush(stdout);
    return true;
  };
  auto st = engine::generate(**model, kv, pool, prompt, a.n_predict, sampler, cb);
  if (!st) return fail(st.error());
  if (a.ids) {
    std::printf("\n");
  } else {
    const std::string rest = decoder.flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::printf("\n");
  }
  std::fflush(stdout);
  auto rate = [](int n, double s) { return s > 0 ? n / s : 0.0; };
  std::fprintf(stderr, "\nprompt: %d tokens in %.3f s (%.1f tok/s)\n", st->n_prompt, st->prefill_seconds,
               rate(st->n_prompt, st->prefill_seconds));
  std::fprintf(stderr, "decode: %d tokens in %.3f s (%.1f tok/s), finish: %s, threads: %d\n", st->n_generated,
               st->decode_seconds, rate(std::max(0, st->n_generated - 1), st->decode_seconds),
               st->finish_reason.c_str(), pool.size());
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt with a GGUF model");
  auto a = std::make_shared<GenerateArgs>();
  cmd->add_option("-m,--model,--base_model", a->model,
                  "GGUF model file or Hugging Face model folder (default: the built-in demo model)");
  add_model_source_flags(*cmd, a->source);
  cmd->add_option("-p,--prompt", a->prompt, "prompt text (the output is only the continuation)");
  cmd->add_option("-n,--n-predict", a->n_predict, "tokens to generate")->capture_default_str();
  add_kv_cache_flag(*cmd, a->kv_type);
  add_sampling_flags(*cmd, a->sampling, a->seed);
  cmd->add_option("-t,--threads", a->threads, "threads (default: physical cores)");
  cmd->add_option("-c,--ctx", a->ctx, "context size (default: the model's, at most 4096)");
  cmd->add_flag("--ids", a->ids, "print generated token ids instead of text");
  cmd->callback([=] { *exit_code = run_generate(*a); });
}

}  // namespace shuo::cli
