// The built-in demo model (models/shuo-demo.gguf, made by tools/demo-model): shuo's own engine,
// greedy, answers the held-out questions well enough; it reproduces PyTorch's greedy tokens on
// 20 prompts; and shuo's chat template + SPM tokenizer give the exact prompt ids the Python
// training tool produced (a mismatch would silently ruin the model's accuracy).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>

#include "engine/engine.h"
#include "format/gguf.h"
#include "model/model.h"
#include "test_support.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

using namespace shuo;

namespace {

std::filesystem::path models_dir() { return std::filesystem::path(SHUO_SOURCE_DIR) / "models"; }

struct DemoModel {
  format::GgufFile file;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<text::Tokenizer> tok;
  std::optional<text::ChatTemplate> tpl;
};

std::unique_ptr<DemoModel> load_demo() {
  auto f = format::GgufFile::open((models_dir() / "shuo-demo.gguf").string());
  if (!f.ok()) {
    ADD_FAILURE() << f.error().to_string();
    return nullptr;
  }
  auto dm = std::make_unique<DemoModel>(DemoModel{std::move(*f), nullptr, nullptr, std::nullopt});
  auto m = model::load_model(dm->file);
  auto t = text::Tokenizer::from_gguf(dm->file);
  auto src = dm->file.get<std::string>("tokenizer.chat_template");
  if (!m.ok() || !t.ok() || !src.ok()) {
    ADD_FAILURE() << "the demo model, its tokenizer or its chat template does not load";
    return nullptr;
  }
  auto tpl = text::ChatTemplate::parse(*src);
  if (!tpl.ok()) {
    ADD_FAILURE() << tpl.error().to_string();
    return nullptr;
  }
  dm->model = std::move(*m);
  dm->tok = std::move(*t);
  dm->tpl = std::move(*tpl);
  return dm;
}

// The prompt ids the way the OpenAI surface builds them (ChatFormat): render the template,
// encode with special tokens parsed, BOS only if the template did not write it.
std::vector<int32_t> prompt_ids(const DemoModel& dm, const nlohmann::json& messages) {
  text::ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::parse(messages.dump());
  in.bos_token = dm.tok->token_text(dm.tok->bos_id());
  in.eos_token = dm.tok->token_text(dm.tok->eos_id());
  auto rendered = dm.tpl->render(in);
  EXPECT_TRUE(rendered.ok()) << rendered.error().to_string();
  if (!rendered.ok()) return {};
  std::vector<int32_t> ids = dm.tok->encode(*rendered, /*add_special=*/false, /*parse_special=*/true);
  if (rendered->rfind(in.bos_token, 0) != 0) ids.insert(ids.begin(), dm.tok->bos_id());
  return ids;
}

// Greedy generation of many prompts at once through the engine; each result is the generated
// ids followed by the end-of-generation id when the model stopped by itself (as PyTorch's
// reference lists them).
std::vector<std::vector<int32_t>> generate_all(DemoModel& dm, const std::vector<std::vector<int32_t>>& prompts,
                                               int max_tokens) {
  engine::EngineOptions opts;
  opts.n_ctx = 512;
  opts.threads = 2;
  opts.max_queue = int32_t(prompts.size());  // all submitted up front
  opts.is_eog = [&dm](int32_t id) { return dm.tok->is_eog(id); };
  engine::Engine eng(*dm.model, opts);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<int32_t>> out(prompts.size());
  size_t done = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    engine::EngineRequest r;
    r.prompt = prompts[i];
    r.sampling.temperature = 0.0f;
    r.max_tokens = max_tokens;
    auto h = eng.submit(std::move(r), [&, i](const engine::TokenEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      if (e.token >= 0) out[i].push_back(e.token);
      if (e.finish == engine::FinishReason::kStop) out[i].push_back(dm.tok->eos_id());
      if (e.finish != engine::FinishReason::kNone) {
        EXPECT_NE(e.finish, engine::FinishReason::kError) << e.error;
        ++done;
        cv.notify_all();
      }
    });
    EXPECT_TRUE(h.ok()) << h.error().to_string();
    if (!h.ok()) return {};
  }
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::minutes(5), [&] { return done == prompts.size(); }));
  return out;
}

nlohmann::json read_json(const std::string& name) {
  return nlohmann::json::parse(shuo::testing::read_file(models_dir() / name));
}

}  // namespace

TEST(DemoModel, FileIsSmallAndDescribed) {
  auto dm = load_demo();
  ASSERT_TRUE(dm);
  EXPECT_LE(std::filesystem::file_size(models_dir() / "shuo-demo.gguf"), 40u << 20);
  for (const char* key : {"general.name", "general.license", "general.description"}) {
    auto v = dm->file.get<std::string>(key);
    ASSERT_TRUE(v.ok()) << key;
    EXPECT_FALSE(v->empty()) << key;
  }
  EXPECT_EQ(dm->model->config().arch, "llama");
  // <|end|> closes the assistant's turn, so generation stops there.
  EXPECT_TRUE(dm->tok->is_eog(*dm->tok->find_token("<|end|>")));
}

// Python's encoder (tools/demo-model/tokenizer.py) and shuo's must agree on every prompt.
TEST(DemoModel, PromptIdsEqualPython) {
  auto dm = load_demo();
  ASSERT_TRUE(dm);
  size_t checked = 0;
  for (const char* name : {"shuo-demo.eval.json", "shuo-demo.greedy.json"}) {
    const auto j = read_json(name);
    const auto& list = j.contains("cases") ? j["cases"] : j["prompts"];
    for (const auto& c : list) {
      EXPECT_EQ(prompt_ids(*dm, c["messages"]), c["prompt_ids"].get<std::vector<int32_t>>())
          << name << ": " << c["messages"].dump();
      ++checked;
    }
  }
  EXPECT_GE(checked, 400u);
}

// The engine reproduces PyTorch's greedy continuations token for token.
TEST(DemoModel, GreedyTokensEqualPyTorch) {
  auto dm = load_demo();
  ASSERT_TRUE(dm);
  const auto j = read_json("shuo-demo.greedy.json");
  ASSERT_EQ(j["prompts"].size(), 20u);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : j["prompts"]) prompts.push_back(p["prompt_ids"].get<std::vector<int32_t>>());
  const auto got = generate_all(*dm, prompts, j["max_new_tokens"].get<int>());
  ASSERT_EQ(got.size(), prompts.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], j["prompts"][i]["output_ids"].get<std::vector<int32_t>>())
        << "prompt " << i << ": " << j["prompts"][i]["messages"].dump();
}

namespace {

// Greedy answers to the held-out questions (tools/demo-model/data.py: phrasings never used in
// training), exact text, scored per kind: {kind → (right, total)}. Misses are printed.
std::map<std::string, std::pair<int, int>> held_out_scores() {
  std::map<std::string, std::pair<int, int>> score;
  auto dm = load_demo();
  if (!dm) return score;
  const auto j = read_json("shuo-demo.eval.json");
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& c : j["cases"]) prompts.push_back(prompt_ids(*dm, c["messages"]));
  const auto got = generate_all(*dm, prompts, j["max_new_tokens"].get<int>());
  if (got.size() != prompts.size()) return score;
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& c = j["cases"][i];
    const std::string answer = dm->tok->decode(got[i], /*skip_special=*/true);
    auto& [right, total] = score[c["kind"].get<std::string>()];
    ++total;
    if (answer == c["expected"].get<std::string>()) {
      ++right;
    } else {
      std::printf("  miss [%s] %s -> %s (expected %s)\n", c["kind"].get<std::string>().c_str(),
                  c["messages"].back()["content"].get<std::string>().c_str(), answer.c_str(),
                  c["expected"].get<std::string>().c_str());
    }
  }
  return score;
}

void expect_scores(const std::map<std::string, double>& need) {
  auto score = held_out_scores();
  for (const auto& [kind, min] : need) {
    ASSERT_TRUE(score.count(kind)) << kind;
    const auto [right, total] = score[kind];
    const double acc = double(right) / total;
    std::printf("demo model, held-out %-10s %3d/%3d = %.1f%% (need %.0f%%)\n", kind.c_str(), right, total,
                100 * acc, 100 * min);
    EXPECT_GE(acc, min) << kind;
  }
}

}  // namespace

// Issue 9's targets, exact answers to held-out wordings only. The committed model scores 100 /
// 97.5 / 90 / 90 % (docs/demo-model.md), the same with shuo's AVX2 kernels, with its scalar
// reference kernels and in PyTorch, so float differences between CPUs do not move a case.
TEST(DemoModel, ScoresMeetIssueTargets) {
  expect_scores({{"province", 0.95}, {"country", 0.90}, {"arithmetic", 0.80}, {"memory", 0.90}});
}

// The KV cache's element types against the exact F32 cache on the demo model (head size 32, so
// Q8_0 fits): every prompt of the cross-check, then PyTorch's answer fed back token by token
// (each step reads the whole cache). The largest logit difference stays within the documented
// tolerance (docs/performance.md); the greedy pick changes at most between near ties, in at
// most 2 % of the steps.
TEST(DemoModel, KvCacheTypesAgreeWithF32) {
  auto dm = load_demo();
  ASSERT_TRUE(dm);
  const auto j = read_json("shuo-demo.greedy.json");
  const int32_t n_vocab = dm->model->config().n_vocab;
  tensor::ThreadPool pool(2);
  // The logits after each fed token of every prompt, for one cache type.
  auto run = [&](format::GgmlType type) {
    std::vector<std::vector<float>> rows;
    for (const auto& p : j["prompts"]) {
      std::vector<int32_t> ids = p["prompt_ids"].get<std::vector<int32_t>>();
      const auto answer = p["output_ids"].get<std::vector<int32_t>>();
      model::KvCache kv = dm->model->make_cache(int32_t(ids.size() + answer.size() + 1), type);
      model::ForwardOutput out;
      model::SeqChunk chunk{&kv, ids};
      EXPECT_TRUE(dm->model->forward({&chunk, 1}, out, pool).ok());
      rows.emplace_back(out.row(0, 0, n_vocab), out.row(0, 0, n_vocab) + n_vocab);
      for (size_t i = 0; i + 1 < answer.size(); ++i) {
        model::SeqChunk step{&kv, {&answer[i], 1}};
        EXPECT_TRUE(dm->model->forward({&step, 1}, out, pool).ok());
        rows.emplace_back(out.row(0, 0, n_vocab), out.row(0, 0, n_vocab) + n_vocab);
      }
    }
    return rows;
  };
  const auto exact = run(format::GgmlType::F32);
  ASSERT_GE(exact.size(), 100u);
  for (auto [type, tol] : {std::pair{format::GgmlType::F16, 0.03f}, std::pair{format::GgmlType::Q8_0, 0.3f}}) {
    ASSERT_TRUE(dm->model->check_kv_type(type).ok());
    const auto got = run(type);
    ASSERT_EQ(got.size(), exact.size());
    float worst = 0;
    int same_pick = 0;
    for (size_t r = 0; r < got.size(); ++r) {
      float diff = 0;
      for (int32_t v = 0; v < n_vocab; ++v) diff = std::max(diff, std::fabs(got[r][v] - exact[r][v]));
      worst = std::max(worst, diff);
      // The greedy pick may only change between near ties: what it picks instead must be within
      // twice this row's difference of the exact best logit.
      const auto pick = std::max_element(got[r].begin(), got[r].end()) - got[r].begin();
      const float best = *std::max_element(exact[r].begin(), exact[r].end());
      same_pick += exact[r][pick] == best;
      EXPECT_GE(exact[r][pick], best - 2 * diff) << format::ggml_type_name(type) << " row " << r;
    }
    std::printf("demo model, %s KV cache: largest logit difference to F32 %.4f (tolerance %.2f), "
                "same greedy pick %d/%zu\n", format::ggml_type_name(type), worst, tol, same_pick, got.size());
    EXPECT_GE(same_pick, int(got.size()) - int(got.size()) / 50) << format::ggml_type_name(type);
    EXPECT_LE(worst, tol) << format::ggml_type_name(type);
  }
}
