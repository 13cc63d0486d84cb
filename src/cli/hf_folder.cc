// Joining a Hugging Face folder's weights and tokenizer into one assembled GgufFile.
#include "cli/hf_folder.h"

#include "model/hf_model.h"
#include "text/hf_tokenizer.h"

namespace shuo::cli {

namespace {

// Adds the tokenizer's keys to `metadata` (dropping any tokenizer.* already there).
Result<HfFolder> with_tokenizer(format::GgufAssembly parts, const std::string& tokenizer_dir, int32_t n_vocab) {
  text::HfTokenizerOptions opts;
  opts.vocab_size = n_vocab;
  auto tok = text::load_hf_tokenizer(tokenizer_dir, opts);
  if (!tok) return tok.error();
  if (tok->tokenizer->n_vocab() > n_vocab)
    return Error{ErrorCode::kBadFile, tok->source, "has " + std::to_string(tok->tokenizer->n_vocab()) +
                                                       " tokens, but the model's embedding has only " + std::to_string(n_vocab) + " rows"};
  std::erase_if(parts.metadata, [](const auto& kv) { return kv.first.rfind("tokenizer.", 0) == 0; });
  std::optional<Error> gguf_error;
  if (tok->gguf_metadata) {
    for (auto& kv : *tok->gguf_metadata) parts.metadata.push_back(std::move(kv));
  } else {
    gguf_error = tok->gguf_metadata.error();
    if (!tok->chat_template.empty())  // serving still renders chats with it
      parts.metadata.emplace_back("tokenizer.chat_template", format::GgufValue{tok->chat_template});
  }
  SHUO_ASSIGN(auto file, format::GgufFile::assemble(std::move(parts)));
  return HfFolder{std::move(file), std::move(tok->tokenizer), std::move(gguf_error)};
}

}  // namespace

Result<HfFolder> open_hf_folder(const std::string& dir, const std::string& tokenizer_dir) {
  SHUO_ASSIGN(model::HfModel m, model::load_hf_model(dir));
  return with_tokenizer(std::move(m.assembly), tokenizer_dir.empty() ? dir : tokenizer_dir, m.vocab_size);
}

Result<HfFolder> replace_tokenizer(format::GgufFile file, const std::string& tokenizer_dir) {
  const auto* emb = file.find_tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2) return Error{ErrorCode::kBadFile, file.path(), "token_embd.weight: missing or not 2-D"};
  format::GgufAssembly parts = file.share();
  parts.name = file.path() + " + " + tokenizer_dir;
  return with_tokenizer(std::move(parts), tokenizer_dir, int32_t(emb->ne[1]));
}

}  // namespace shuo::cli
