// Turns chat messages into the prompt text a model expects: its own Jinja chat template
// (GGUF tokenizer.chat_template) when it has one, else a built-in format for its family.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace shuo::format {
class GgufFile;
}

namespace shuo::api::openai {

// A rendered chat prompt as the engine takes it.
struct ChatPrompt {
  std::vector<int32_t> ids;
  // The reply's first space belongs to the prompt's layout (the plain format ends in
  // "Assistant:"); the decoder drops it (see StreamDecoder).
  bool strip_leading_space = false;
};

class ChatFormat {
 public:
  // `tpl` empty: the built-in `fallback` is used.
  ChatFormat(std::optional<text::ChatTemplate> tpl, text::BuiltinChatFormat fallback,
             std::string bos_token, std::string eos_token);

  // Errors: the template's raise_exception (→ 400 with its message) or a template failure.
  Result<std::string> render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                             const nlohmann::ordered_json& extra) const;

  // `rendered` (from render()) → token ids. Special tokens in the text are the template's markup
  // (<|im_start|>, ...) and are parsed; BOS is added, as the tokenizer asks, only when the text
  // does not already start with it.
  ChatPrompt encode(const text::Tokenizer& tok, const std::string& rendered) const;

  bool has_template() const { return tpl_.has_value(); }
  text::BuiltinChatFormat fallback() const { return fallback_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  // "template" or the built-in format's name, for the log.
  std::string describe() const;

 private:
  std::optional<text::ChatTemplate> tpl_;
  text::BuiltinChatFormat fallback_;
  std::string bos_, eos_;
};

// The chat format of a loaded model: its GGUF tokenizer.chat_template when it parses, else the
// built-in format for `arch` (Llama 3's when the vocab has its header tokens). When a template is
// present but does not parse, `warning` (if given) gets why, for the log.
ChatFormat chat_format_for_model(const format::GgufFile& file, std::string_view arch, const text::Tokenizer& tok,
                                 std::string* warning = nullptr);

}  // namespace shuo::api::openai
