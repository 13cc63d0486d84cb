// Fuzz target: arbitrary bytes as a Jinja2 chat template, parsed and, when that succeeds,
// rendered for a small fixed conversation (with tools and a tool call) under tight limits.
// Every input must end in text or an Error: no crash, no hang, no leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "text/chat_template.h"

namespace {

shuo::text::ChatTemplateInputs fuzz_inputs() {
  shuo::text::ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi there \u4f60\u597d \ud83c\udf0d"},
    {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "id": "c1",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2.5]}}}]},
    {"role": "tool", "content": "{\"temp\": 18}"},
    {"role": "assistant", "content": "<think>hmm</think>It is 18C."},
    {"role": "user", "content": [{"type": "text", "text": "thanks"}]}])");
  in.tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  in.add_generation_prompt = true;
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.extra = {{"date_string", "1 Jan 2025"}, {"enable_thinking", false}};
  return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64u << 10)) return 0;  // real templates are a few KB
  auto tpl = shuo::text::ChatTemplate::parse(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!tpl.ok()) return 0;
  static const shuo::text::ChatTemplateInputs kInputs = fuzz_inputs();
  shuo::text::TemplateLimits limits;  // small, so that each input stays fast under ASan
  limits.max_steps = 200'000;
  limits.max_loop_iterations = 50'000;
  limits.max_output_bytes = 1u << 20;
  limits.max_items = 1u << 16;
  auto out = tpl->render(kInputs, limits);
  (void)out;
  return 0;
}
