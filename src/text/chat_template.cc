// Chat templates: the public entry points over the Jinja interpreter, and the built-in formats.
#include "text/chat_template.h"

#include "text/jinja_builtins.h"
#include "text/jinja_eval.h"
#include "text/jinja_parser.h"
#include "text/jinja_pystr.h"

namespace shuo::text {

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  SHUO_ASSIGN(auto tpl, jinja::parse_template(source));
  ChatTemplate t;
  t.tpl_ = std::move(tpl);
  return t;
}

Result<std::string> ChatTemplate::render(const ChatTemplateInputs& in,
                                         const TemplateLimits& limits) const {
  if (!tpl_) return Error{ErrorCode::kInternal, "chat_template", "render before parse"};
  if (!in.extra.is_null() && !in.extra.is_object())
    return Error{ErrorCode::kBadField, "extra", "template variables must be a JSON object"};
  jinja::Vars vars;
  auto add = [&](const std::string& name, const nlohmann::ordered_json& j) -> Result<void> {
    auto v = jinja::from_json(j);
    if (!v.ok()) return Error{v.error().code, name, v.error().message};
    vars.emplace_back(name, std::move(v).value());
    return {};
  };
  SHUO_TRY(add("messages", in.messages));
  vars.emplace_back("add_generation_prompt", jinja::Value::boolean(in.add_generation_prompt));
  vars.emplace_back("bos_token", jinja::Value::string(in.bos_token));
  vars.emplace_back("eos_token", jinja::Value::string(in.eos_token));
  if (!in.tools.is_null()) SHUO_TRY(add("tools", in.tools));
  if (in.extra.is_object())
    for (const auto& [k, v] : in.extra.items()) SHUO_TRY(add(k, v));  // first match wins
  return jinja::render(*tpl_, vars, limits);
}

bool is_raise_exception(const Error& e) { return e.where == jinja::kRaiseExceptionWhere; }

// ---- built-in formats ----

BuiltinChatFormat builtin_chat_format_for(std::string_view arch, bool has_llama3_header_tokens) {
  if (has_llama3_header_tokens) return BuiltinChatFormat::kLlama3;
  if (arch.substr(0, 4) == "qwen") return BuiltinChatFormat::kChatML;
  if (arch.substr(0, 7) == "chatglm") return BuiltinChatFormat::kChatGLM;
  return BuiltinChatFormat::kPlain;
}

std::string_view builtin_chat_format_name(BuiltinChatFormat format) {
  switch (format) {
    case BuiltinChatFormat::kChatML: return "chatml";
    case BuiltinChatFormat::kLlama3: return "llama3";
    case BuiltinChatFormat::kChatGLM: return "chatglm";
    case BuiltinChatFormat::kPlain: return "plain";
  }
  return "plain";
}

namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string content_text(const Json& m) {
  if (!m.is_object()) return "";
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    std::string s;
    for (const auto& part : *it) {
      if (part.is_string()) {
        s += part.get<std::string>();
      } else if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        s += part["text"].get<std::string>();
      }
    }
    return s;
  }
  return dump(*it);
}

std::string role_of(const Json& m) {
  if (m.is_object()) {
    auto it = m.find("role");
    if (it != m.end() && it->is_string()) return it->get<std::string>();
  }
  return "user";
}

std::string trim(const std::string& s) { return jinja::py_strip(s, std::nullopt, true, true); }

}  // namespace

std::string render_builtin(BuiltinChatFormat format, const ChatTemplateInputs& in) {
  std::string out;
  const Json empty = Json::array();
  const Json& messages = in.messages.is_array() ? in.messages : empty;
  switch (format) {
    case BuiltinChatFormat::kChatML:
      for (const auto& m : messages)
        out += "<|im_start|>" + role_of(m) + "\n" + content_text(m) + "<|im_end|>\n";
      if (in.add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case BuiltinChatFormat::kLlama3:
      out += in.bos_token;
      for (const auto& m : messages)
        out += "<|start_header_id|>" + role_of(m) + "<|end_header_id|>\n\n" + trim(content_text(m)) +
               "<|eot_id|>";
      if (in.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case BuiltinChatFormat::kChatGLM: {
      out += in.bos_token;  // ChatGLM2's prefix tokens ("[gMASK]sop") where the vocab has them
      int round = 0;
      bool awaiting_answer = false;
      for (const auto& m : messages) {
        const std::string role = role_of(m);
        if (role == "system") {
          out += content_text(m) + "\n\n";
        } else if (role == "assistant") {
          if (!awaiting_answer) out += "[Round " + std::to_string(++round) + "]\n\n问：\n\n答：";
          out += content_text(m) + "\n\n";
          awaiting_answer = false;
        } else {
          out += "[Round " + std::to_string(++round) + "]\n\n问：" + content_text(m) + "\n\n答：";
          awaiting_answer = true;
        }
      }
      break;
    }
    case BuiltinChatFormat::kPlain:
      for (const auto& m : messages) {
        std::string role = role_of(m);
        out += jinja::py_capitalize(role) + ": " + content_text(m) + "\n";
      }
      if (in.add_generation_prompt) out += "Assistant:";
      break;
  }
  return out;
}

}  // namespace shuo::text
