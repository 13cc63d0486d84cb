// Chat prompt rendering: the model's template or the built-in fallback (see chat_format.h).
#include "api/openai/chat_format.h"

namespace shuo::api::openai {

ChatFormat::ChatFormat(std::optional<text::ChatTemplate> tpl, text::BuiltinChatFormat fallback,
                       std::string bos_token, std::string eos_token)
    : tpl_(std::move(tpl)), fallback_(fallback), bos_(std::move(bos_token)), eos_(std::move(eos_token)) {}

Result<std::string> ChatFormat::render(const nlohmann::ordered_json& messages,
                                       bool add_generation_prompt,
                                       const nlohmann::ordered_json& extra) const {
  text::ChatTemplateInputs in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = bos_;
  in.eos_token = eos_;
  if (extra.is_object()) in.extra = extra;
  if (!tpl_) return text::render_builtin(fallback_, in);
  return tpl_->render(in);
}

std::string ChatFormat::describe() const {
  if (tpl_) return "the model's chat template";
  return "the built-in \"" + std::string(text::builtin_chat_format_name(fallback_)) + "\" chat format";
}

}  // namespace shuo::api::openai
