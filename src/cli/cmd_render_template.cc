// `shuo render-template`: renders a chat template (a .jinja file or a GGUF's
// tokenizer.chat_template) for a conversation and prints the prompt exactly, to check templates.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "format/gguf.h"
#include "text/chat_template.h"

namespace shuo::cli {

namespace {

using Json = nlohmann::ordered_json;

struct RenderTemplateOptions {
  std::string template_path;
  std::string model_path;
  std::string messages_path;
  bool add_generation_prompt = false;
  std::optional<std::string> bos;
  std::optional<std::string> eos;
};

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::kIo, path, "cannot open file"};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The token text at the id stored under id_key, or nullopt when the model has none.
std::optional<std::string> token_text(const format::GgufFile& f, const char* id_key) {
  auto id = f.get_optional<uint32_t>(id_key);
  if (!id.ok() || !*id) return std::nullopt;
  auto tokens = f.get_array_ref("tokenizer.ggml.tokens");
  if (!tokens.ok() || **id >= (*tokens)->items.size()) return std::nullopt;
  if (auto* s = std::get_if<std::string>(&(*tokens)->items[**id].v)) return *s;
  return std::nullopt;
}

// Messages file: a JSON array of messages, or an object like a cases.json entry with
// messages, add_generation_prompt, bos_token, eos_token, tools; other keys become variables.
Result<text::ChatTemplateInputs> read_inputs(const std::string& path) {
  SHUO_ASSIGN(std::string data, read_text(path));
  Json j = Json::parse(data, nullptr, false);
  if (j.is_discarded()) return Error{ErrorCode::kBadFile, path, "not valid JSON"};
  text::ChatTemplateInputs in;
  in.add_generation_prompt = false;
  if (j.is_array()) {
    in.messages = std::move(j);
    return in;
  }
  if (!j.is_object() || !j.contains("messages") || !j["messages"].is_array())
    return Error{ErrorCode::kBadFile, path, "expected an array of messages or an object with \"messages\""};
  for (auto& [key, value] : j.items()) {
    if (key == "messages") {
      in.messages = value;
    } else if (key == "add_generation_prompt" && value.is_boolean()) {
      in.add_generation_prompt = value.get<bool>();
    } else if (key == "bos_token" && value.is_string()) {
      in.bos_token = value.get<std::string>();
    } else if (key == "eos_token" && value.is_string()) {
      in.eos_token = value.get<std::string>();
    } else if (key == "tools") {
      in.tools = value;
    } else if (key != "add_generation_prompt" && key != "bos_token" && key != "eos_token") {
      in.extra[key] = value;
    } else {
      return Error{ErrorCode::kBadFile, path + ": " + key, "has the wrong type"};
    }
  }
  return in;
}

int run_render_template(const RenderTemplateOptions& opt) {
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
  };
  if (opt.template_path.empty() == opt.model_path.empty()) {
    std::fprintf(stderr, "error: give exactly one of --template and --model\n");
    return 1;
  }
  auto inputs = read_inputs(opt.messages_path);
  if (!inputs) return fail(inputs.error());
  text::ChatTemplateInputs in = std::move(inputs).value();

  std::string source;
  if (!opt.template_path.empty()) {
    auto s = read_text(opt.template_path);
    if (!s) return fail(s.error());
    source = std::move(s).value();
  } else {
    auto f = format::GgufFile::open(opt.model_path);
    if (!f) return fail(f.error());
    auto s = f->get<std::string>("tokenizer.chat_template");
    if (!s) return fail(s.error());
    source = std::move(s).value();
    if (auto bos = token_text(*f, "tokenizer.ggml.bos_token_id")) in.bos_token = *bos;
    if (auto eos = token_text(*f, "tokenizer.ggml.eos_token_id")) in.eos_token = *eos;
  }
  if (opt.add_generation_prompt) in.add_generation_prompt = true;
  if (opt.bos) in.bos_token = *opt.bos;
  if (opt.eos) in.eos_token = *opt.eos;

  auto tpl = text::ChatTemplate::parse(source);
  if (!tpl) {
    std::fprintf(stderr, "%s\n", tpl.error().to_string().c_str());
    return 2;
  }
  auto out = tpl->render(in);
  if (!out) {
    // raise_exception's message alone, as the API returns it; other errors with their place.
    const Error& e = out.error();
    std::fprintf(stderr, "%s\n", text::is_raise_exception(e) ? e.message.c_str() : e.to_string().c_str());
    return 2;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  return 0;
}

}  // namespace

void add_render_template_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("render-template",
                                 "Render a chat template for a conversation and print the prompt");
  auto opt = std::make_shared<RenderTemplateOptions>();
  cmd->add_option("--template", opt->template_path, "Jinja2 chat template file");
  cmd->add_option("--model", opt->model_path, "GGUF model whose tokenizer.chat_template to use");
  cmd->add_option("--messages", opt->messages_path,
                  "JSON file: an array of messages, or an object with messages, "
                  "add_generation_prompt, bos_token, eos_token, tools and other variables")
      ->required();
  cmd->add_flag("--add-generation-prompt", opt->add_generation_prompt,
                "end with the assistant turn's opening");
  cmd->add_option("--bos", opt->bos, "bos_token text (default: the model's, or the file's)");
  cmd->add_option("--eos", opt->eos, "eos_token text (default: the model's, or the file's)");
  cmd->callback([=] { *exit_code = run_render_template(*opt); });
}

}  // namespace shuo::cli
