// Chat prompt rendering: the model's template or the built-in fallback (see chat_format.h).
#include "api/openai/chat_format.h"

#include "format/gguf.h"

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

ChatPrompt ChatFormat::encode(const text::Tokenizer& tok, const std::string& rendered) const {
  const bool has_bos = !bos_.empty() && rendered.compare(0, bos_.size(), bos_) == 0;
  ChatPrompt p;
  p.ids = tok.encode(rendered, /*add_special=*/false, /*parse_special=*/true);
  if (!has_bos && tok.add_bos()) p.ids.insert(p.ids.begin(), tok.bos_id());
  p.strip_leading_space = !tpl_ && fallback_ == text::BuiltinChatFormat::kPlain;
  return p;
}

std::string ChatFormat::describe() const {
  if (tpl_) return "the model's chat template";
  return "the built-in \"" + std::string(text::builtin_chat_format_name(fallback_)) + "\" chat format";
}

ChatFormat chat_format_for_model(const format::GgufFile& file, std::string_view arch, const text::Tokenizer& tok,
                                 std::string* warning) {
  std::optional<text::ChatTemplate> tpl;
  auto source = file.get_optional<std::string>("tokenizer.chat_template");
  if (source.ok() && *source) {
    auto parsed = text::ChatTemplate::parse(**source);
    if (parsed.ok()) {
      tpl = std::move(*parsed);
    } else if (warning) {
      *warning = "the model's chat template does not parse (" + parsed.error().to_string() + "); using a built-in format";
    }
  }
  const bool llama3 = tok.find_token("<|start_header_id|>") && tok.find_token("<|end_header_id|>") &&
                      tok.find_token("<|eot_id|>");
  auto token_string = [&tok](int32_t id) { return id >= 0 ? tok.token_text(id) : std::string(); };
  const text::BuiltinChatFormat builtin = text::builtin_chat_format_for(arch, llama3);
  std::string bos = token_string(tok.bos_id());
  // ChatGLM2's tokenizer starts every prompt with its [gMASK] and sop tokens (its
  // build_inputs_with_special_tokens); the [Round n] format renders them as its bos_token.
  if (!tpl && builtin == text::BuiltinChatFormat::kChatGLM)
    bos = tok.find_token("[gMASK]") && tok.find_token("sop") ? "[gMASK]sop" : "";
  return ChatFormat(std::move(tpl), builtin, std::move(bos), token_string(tok.eos_id()));
}

}  // namespace shuo::api::openai
