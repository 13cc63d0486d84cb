// Tokenizer encode throughput (MB/s of UTF-8 input) on ~1 MiB of mixed Chinese + English text,
// one benchmark per vocab in shared/testdata/tokenizers (absent vocabs are skipped). Baseline in
// the same run: the GPT-2 regex pre-tokenizer alone, i.e. the cost before any merge. Speed only;
// correctness is tests/text/tokenizer_vectors_test.cc.
//   ./build/bench/tokenizer_bench [--benchmark_filter=qwen2]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"

namespace {

namespace fs = std::filesystem;

// Deterministic mix: sentences picked by an LCG, numbers and code-ish punctuation sprinkled in.
std::string mixed_text(size_t target_bytes) {
  static const char* const kEnglish[] = {
      "The quick brown fox jumps over the lazy dog near the riverbank. ",
      "Inference servers batch requests so that the GPU stays busy. ",
      "She said, \"I'll be there at 10:30, don't wait for me!\" ",
      "Tokenizers split text into pieces before the model sees it. ",
      "In 2024, the team shipped version 3.14.159 with 42 new features. ",
      "    def encode(self, text):  # returns a list of ids\n",
      "Prices rose by 7.5% while volumes fell to 1,234,567 units. ",
      "Don't panic; it's only a test, and we've seen worse. ",
  };
  static const char* const kChinese[] = {
      "今天天气很好，我们一起去公园散步吧。",
      "大型语言模型需要高效的推理服务器。",
      "他说：“这个问题没有那么简单，我们需要更多数据。”",
      "分词器把文本切成小块，然后交给模型处理。",
      "二〇二四年，团队发布了第三个版本，新增四十二项功能。",
      "机器学习和深度学习正在改变世界。",
      "请在十点半之前提交你的报告，谢谢！",
      "北京、上海、广州和深圳都是大城市。",
  };
  std::string out;
  out.reserve(target_bytes + 256);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  while (out.size() < target_bytes) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t r = static_cast<uint32_t>(state >> 33);
    if (r % 2 == 0) {
      out += kEnglish[(r >> 8) % 8];
    } else {
      out += kChinese[(r >> 8) % 8];
    }
    if (r % 17 == 0) out += "\n\n";
    if (r % 23 == 0) out += std::to_string(r % 100000) + " ";
  }
  return out;
}

const std::string& bench_text() {
  static const std::string text = mixed_text(1 << 20);
  return text;
}

struct Loaded {
  std::unique_ptr<shuo::text::Tokenizer> tok;
};

void bm_encode(benchmark::State& state, std::shared_ptr<Loaded> loaded) {
  const std::string& text = bench_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = loaded->tok->encode(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes/token"] = static_cast<double>(text.size()) / std::max<size_t>(n_tokens, 1);
}

void bm_pretokenize_gpt2(benchmark::State& state) {
  auto pre = shuo::text::PreTokenizer::create("gpt-2");
  if (!pre) {
    state.SkipWithError(pre.error().to_string().c_str());
    return;
  }
  const std::string& text = bench_text();
  std::vector<std::string_view> words;
  for (auto _ : state) {
    words.clear();
    pre->split(text, &words);
    benchmark::DoNotOptimize(words.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["words"] = static_cast<double>(words.size());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("baseline/pretokenize_gpt2_regex", bm_pretokenize_gpt2)
      ->Unit(benchmark::kMillisecond);
  const fs::path dir = fs::path(SHUO_TESTDATA_DIR) / "tokenizers";
  for (const char* name : {"llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm",
                           "falcon"}) {
    const fs::path path = dir / ("ggml-vocab-" + std::string(name) + ".gguf");
    if (!fs::exists(path)) {
      std::fprintf(stderr, "skipping %s: %s not found\n", name, path.c_str());
      continue;
    }
    auto file = shuo::format::GgufFile::open(path.string());
    if (!file) {
      std::fprintf(stderr, "skipping %s: %s\n", name, file.error().to_string().c_str());
      continue;
    }
    auto tok = shuo::text::Tokenizer::from_gguf(*file);
    if (!tok) {
      std::fprintf(stderr, "skipping %s: %s\n", name, tok.error().to_string().c_str());
      continue;
    }
    auto loaded = std::make_shared<Loaded>(Loaded{std::move(*tok)});
    benchmark::RegisterBenchmark(("encode/" + std::string(name)).c_str(), bm_encode, loaded)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
