// Reading a Hugging Face folder's tokenizer files; see hf_tokenizer.h.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "text/hf_tokenizer.h"
#include "text/hf_tokenizer_json.h"
#include "text/spm_model.h"

namespace shuo::text {

namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxFileBytes = 512ull << 20;  // far above any real tokenizer file

Result<std::string> read_file(const fs::path& p) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(p, ec);
  if (ec) return Error{ErrorCode::kIo, p.string(), "cannot read: " + ec.message()};
  if (size > kMaxFileBytes)
    return Error{ErrorCode::kLimit, p.string(), "is " + std::to_string(size) + " bytes, more than the " +
                                                    std::to_string(kMaxFileBytes) + " a tokenizer file may have"};
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error{ErrorCode::kIo, p.string(), "cannot open"};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) return Error{ErrorCode::kIo, p.string(), "read failed"};
  return ss.str();
}

}  // namespace

Result<HfTokenizer> build_hf_tokenizer(const HfTokenizerSpec& spec, const HfTokenizerOptions& options) {
  HfTokenizer out;
  SHUO_ASSIGN(out.tokenizer, make_hf_tokenizer(spec));
  out.gguf_metadata = hf_tokenizer_gguf_metadata(spec, options);
  for (const auto& [name, text] : spec.chat_templates)
    if (name == "default") out.chat_template = text;
  return out;
}

Result<HfTokenizer> load_hf_tokenizer(const std::string& dir, const HfTokenizerOptions& options) {
  const fs::path d(dir);
  const fs::path json_path = d / "tokenizer.json";
  const fs::path model_path = d / "tokenizer.model";
  HfTokenizerSpec spec;
  std::string source;
  std::error_code ec;
  if (fs::exists(json_path, ec)) {
    SHUO_ASSIGN(std::string text, read_file(json_path));
    SHUO_ASSIGN(spec, parse_hf_tokenizer_json(text, json_path.string()));
    source = json_path.string();
  } else if (fs::exists(model_path, ec)) {
    SHUO_ASSIGN(std::string bytes, read_file(model_path));
    SHUO_ASSIGN(spec, parse_spm_model(bytes, model_path.string()));
    source = model_path.string();
  } else {
    return Error{ErrorCode::kNotFound, dir, "has neither tokenizer.json nor tokenizer.model"};
  }
  const fs::path config_path = d / "tokenizer_config.json";
  if (fs::exists(config_path, ec)) {
    SHUO_ASSIGN(std::string text, read_file(config_path));
    SHUO_TRY(parse_hf_tokenizer_config(text, &spec, config_path.string()));
  }
  // Newer folders keep the template in its own file.
  const fs::path jinja_path = d / "chat_template.jinja";
  if (spec.chat_templates.empty() && fs::exists(jinja_path, ec)) {
    SHUO_ASSIGN(std::string text, read_file(jinja_path));
    spec.chat_templates.emplace_back("default", std::move(text));
  }
  SHUO_ASSIGN(HfTokenizer out, build_hf_tokenizer(spec, options));
  out.source = source;
  return out;
}

}  // namespace shuo::text
