#include "cli/sampling_flags.h"

#include <CLI/CLI.hpp>

namespace shuo::cli {

void add_sampling_flags(CLI::App& cmd, engine::SamplingParams& s, int64_t& seed) {
  s.temperature = 0.8f;
  s.top_k = 40;
  s.top_p = 0.95f;
  s.min_p = 0.05f;
  cmd.add_option("--temp", s.temperature, "temperature, 0 = greedy")->capture_default_str();
  cmd.add_option("--top-k", s.top_k, "top-k, 0 = off")->capture_default_str();
  cmd.add_option("--top-p", s.top_p, "top-p, 1 = off")->capture_default_str();
  cmd.add_option("--min-p", s.min_p, "min-p, 0 = off")->capture_default_str();
  cmd.add_option("--repeat-penalty", s.repetition_penalty, "repetition penalty (HF rule), 1 = off");
  cmd.add_option("--repeat-last-n", s.penalty_last_n, "penalty window in tokens, -1 = whole context");
  cmd.add_option("--presence-penalty", s.presence_penalty, "presence penalty");
  cmd.add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty");
  cmd.add_option("-s,--seed", seed, "RNG seed (default: random)");
}

}  // namespace shuo::cli
