// Chat templates: render a model's Jinja2 `tokenizer.chat_template` for a conversation the way
// Hugging Face transformers does (byte for byte), or a built-in format when a model has none.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "text/jinja_value.h"

namespace shuo::text {

namespace jinja {
struct Template;
}

// What a template sees. JSON objects keep their key order (tojson prints them in that order),
// hence ordered_json; a plain nlohmann::json converts implicitly (its keys come sorted).
struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{role, content, ...}]
  bool add_generation_prompt = true;  // open the assistant's turn (transformers defaults to false)
  std::string bos_token;
  std::string eos_token;
  nlohmann::ordered_json tools;  // null: `tools` is undefined in the template
  // More variables, e.g. {"date_string": "...", "enable_thinking": false}; an object. The named
  // fields above win over keys of the same name here.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// Work limits of one render (steps, loop iterations, call depth, output bytes, list sizes).
using TemplateLimits = jinja::Limits;

// A parsed template; cheap to copy, immutable, safe to render from several threads at once.
//
// Jinja2 environment reproduced: ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True, extensions=[loopcontrols]), tojson = json.dumps(ensure_ascii=False),
// globals raise_exception(msg) and strftime_now(fmt), default Undefined.
//
// Errors:
//  - parse: ErrorCode::kBadFile, where "chat_template:LINE:COL".
//  - the template called raise_exception(msg): ErrorCode::kBadField, where == "raise_exception"
//    (is_raise_exception()), message == msg exactly — the API answers 400 with it.
//  - any other runtime error (undefined used, wrong types for the template): kBadField, where
//    "chat_template:LINE:COL"; a limit ran out: kLimit.
class ChatTemplate {
 public:
  static Result<ChatTemplate> parse(std::string_view source);

  Result<std::string> render(const ChatTemplateInputs& inputs,
                             const TemplateLimits& limits = {}) const;

 private:
  std::shared_ptr<const jinja::Template> tpl_;
};

// True when the error came from the template's raise_exception().
bool is_raise_exception(const Error& e);

// Built-in fallback formats for models without a template (see docs/chat-templates.md).
enum class BuiltinChatFormat {
  kChatML,   // <|im_start|>role\ncontent<|im_end|>\n ... (qwen2)
  kLlama3,   // bos, <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ...
  kChatGLM,  // bos_token (ChatGLM2: "[gMASK]sop") [Round 1]\n\n问：...\n\n答：...
  kPlain,    // User: ...\nAssistant: ...
};

// By architecture name (GGUF general.architecture) and whether the vocab has Llama-3's
// <|start_header_id|>/<|end_header_id|>/<|eot_id|> tokens.
BuiltinChatFormat builtin_chat_format_for(std::string_view arch, bool has_llama3_header_tokens);
std::string_view builtin_chat_format_name(BuiltinChatFormat format);

// Never fails: a message's content may be a string, null (empty) or a list of
// {"type": "text", "text": ...} parts (their texts joined); other values print as JSON.
std::string render_builtin(BuiltinChatFormat format, const ChatTemplateInputs& inputs);

}  // namespace shuo::text
