// The sampling flags `shuo generate` and `shuo chat` share, with llama.cpp's CLI defaults so
// that results are comparable.
#pragma once

#include <cstdint>

#include "engine/sampler.h"

namespace CLI {
class App;
}

namespace shuo::cli {

// Sets s to the defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05) and adds --temp,
// --top-k, --top-p, --min-p, the penalties and -s/--seed (seed: default random) to cmd.
void add_sampling_flags(CLI::App& cmd, engine::SamplingParams& s, int64_t& seed);

}  // namespace shuo::cli
