// Real chat templates rendered byte for byte against Jinja2 (shared/testdata/templates/cases.json:
// 9 templates x 6 conversations, expected renders or raise_exception messages).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <tuple>

#include "test_support.h"
#include "text/chat_template.h"

namespace shuo::text {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kTemplates[] = {
    "qwen2.5-instruct",  "llama-3.1-instruct", "llama-2-chat",
    "mistral-7b-instruct-v0.2", "chatglm3-6b", "deepseek-v2-chat",
    "deepseek-r1-distill-qwen", "gemma-2-it", "phi-3.5-mini-instruct",
};
constexpr const char* kCases[] = {
    "single_user", "system_user", "multi_turn_gen", "multi_turn_nogen",
    "system_user_assistant_nogen", "chinese_emoji",
};
constexpr const char* kCasesFile = "templates/cases.json";

// cases.json names templates by file ("qwen2.5-instruct.jinja").
std::string template_of(const Json& c) {
  std::string t = c["template"].get<std::string>();
  const std::string ext = ".jinja";
  if (t.size() > ext.size() && t.compare(t.size() - ext.size(), ext.size(), ext) == 0)
    t.resize(t.size() - ext.size());
  return t;
}

Json load_cases() {
  return Json::parse(testing::read_file(testing::testdata_dir() / kCasesFile));
}

// Shows control characters so a mismatch is readable.
std::string visible(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n\n";
    } else {
      out += c;
    }
  }
  return out;
}

class TemplateCase : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(TemplateCase, RendersLikeJinja2) {
  SHUO_REQUIRE_TESTDATA(kCasesFile);
  const std::string tpl_name = std::get<0>(GetParam());
  const std::string case_name = std::get<1>(GetParam());
  const Json cases = load_cases();
  const Json* c = nullptr;
  for (const auto& e : cases)
    if (template_of(e) == tpl_name && e["case"] == case_name) c = &e;
  ASSERT_NE(c, nullptr) << "no case " << tpl_name << "/" << case_name << " in " << kCasesFile;

  const std::string source =
      testing::read_file(testing::testdata_dir() / "templates" / (tpl_name + ".jinja"));
  auto tpl = ChatTemplate::parse(source);
  ASSERT_TRUE(tpl.ok()) << tpl.error().to_string();

  ChatTemplateInputs in;
  in.messages = (*c)["messages"];
  in.add_generation_prompt = (*c)["add_generation_prompt"].get<bool>();
  in.bos_token = (*c)["bos_token"].get<std::string>();
  in.eos_token = (*c)["eos_token"].get<std::string>();
  auto out = tpl->render(in);

  if ((*c)["expected"].is_null()) {
    ASSERT_FALSE(out.ok()) << "expected an error, got:\n" << visible(*out);
    std::string want = (*c)["error"].get<std::string>();
    const std::string prefix = "TemplateError: ";
    if (want.rfind(prefix, 0) == 0) want = want.substr(prefix.size());
    EXPECT_TRUE(is_raise_exception(out.error())) << out.error().to_string();
    EXPECT_EQ(out.error().message, want);
    return;
  }
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  const std::string want = (*c)["expected"].get<std::string>();
  EXPECT_EQ(*out, want) << "got:\n" << visible(*out) << "\nwant:\n" << visible(want);
}

std::string case_test_name(
    const ::testing::TestParamInfo<std::tuple<const char*, const char*>>& info) {
  std::string n = std::string(std::get<0>(info.param)) + "__" + std::get<1>(info.param);
  for (char& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Cases, TemplateCase,
                         ::testing::Combine(::testing::ValuesIn(kTemplates),
                                            ::testing::ValuesIn(kCases)),
                         case_test_name);

// The list above must cover the whole file, so a new fixture case cannot go unchecked.
TEST(TemplateCases, ListCoversEveryCase) {
  SHUO_REQUIRE_TESTDATA(kCasesFile);
  const Json cases = load_cases();
  EXPECT_EQ(cases.size(), std::size(kTemplates) * std::size(kCases));
  for (const auto& e : cases) {
    bool known_t = false, known_c = false;
    for (auto t : kTemplates) known_t |= template_of(e) == t;
    for (auto c : kCases) known_c |= e["case"] == c;
    EXPECT_TRUE(known_t && known_c) << e["template"] << "/" << e["case"];
  }
}

// Every fixture template also parses and renders with tools given, without crashing.
TEST(TemplateCases, RenderWithToolsAndToolCalls) {
  SHUO_REQUIRE_TESTDATA(kCasesFile);
  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Weather for a city", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  const Json messages = Json::parse(R"([
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function":
          {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "18C"}])");
  for (auto name : kTemplates) {
    const std::string source =
        testing::read_file(testing::testdata_dir() / "templates" / (std::string(name) + ".jinja"));
    auto tpl = ChatTemplate::parse(source);
    ASSERT_TRUE(tpl.ok()) << name << ": " << tpl.error().to_string();
    ChatTemplateInputs in;
    in.messages = messages;
    in.tools = tools;
    auto out = tpl->render(in);
    if (std::string(name) == "qwen2.5-instruct") {
      ASSERT_TRUE(out.ok()) << out.error().to_string();
      EXPECT_NE(out->find(R"({"name": "get_weather", "arguments": {"city": "Paris"}})"),
                std::string::npos)
          << *out;
      EXPECT_NE(out->find("<tool_response>\n18C\n</tool_response>"), std::string::npos) << *out;
    }
  }
}

}  // namespace
}  // namespace shuo::text
