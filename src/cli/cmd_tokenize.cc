// `shuo tokenize --model M [--special] [--ids] [--file F] [TEXT]`: shows how a model's tokenizer
// cuts text. Default output is one `id<TAB>piece` line per token (piece escaped); --ids prints
// the ids on one line in llama.cpp's .out format (" 15496 995"). Text comes from TEXT, --file, or
// stdin when neither is given.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/model_source.h"
#include "format/gguf.h"
#include "text/tokenizer.h"

namespace shuo::cli {

namespace {

struct TokenizeArgs {
  std::string model;
  ModelSourceOptions source;  // --tokenizer, …
  std::string file;
  std::string text;
  bool special = false;
  bool ids_only = false;
};

// Pieces are raw bytes: show control characters, backslashes and bytes that are not part of a
// complete UTF-8 character as escapes so that every line stays one line and nothing is hidden.
std::string escape_piece(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool complete = n > 0 && i + n <= s.size();
    for (size_t k = 1; complete && k < n; ++k)
      complete = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!complete) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        default:
          if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02X", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  return out;
}

int run_tokenize(const TokenizeArgs& a, bool have_text) {
  std::string text;
  if (!a.file.empty() && have_text) {
    std::fprintf(stderr, "error: give TEXT or --file, not both\n");
    return 1;
  }
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: %s: cannot open\n", a.file.c_str());
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else if (have_text) {
    text = a.text;
  } else {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  }

  auto source = open_model_source(a.model, a.source);
  if (!source) {
    std::fprintf(stderr, "error: %s\n", source.error().to_string().c_str());
    return 1;
  }
  const std::unique_ptr<text::Tokenizer>& tok = source->tokenizer;
  const auto ids = tok->encode(text, /*add_special=*/a.special, /*parse_special=*/a.special);
  std::string out;
  if (a.ids_only) {
    for (int32_t id : ids) out += " " + std::to_string(id);
    out += '\n';
  } else {
    for (int32_t id : ids)
      out += std::to_string(id) + "\t" + escape_piece(tok->token_to_piece(id, true)) + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("tokenize", "Print the tokens a model's tokenizer makes of text");
  auto a = std::make_shared<TokenizeArgs>();
  cmd->add_option("--model,-m,--base_model", a->model, "GGUF file or Hugging Face model folder with the tokenizer")->required();
  add_model_source_flags(*cmd, a->source);
  cmd->add_flag("--special", a->special,
                "add BOS/EOS as the model does and match special-token text like <|im_start|>");
  cmd->add_flag("--ids", a->ids_only, "print only the ids, on one line");
  cmd->add_option("--file,-f", a->file, "read the text from this file");
  auto* text = cmd->add_option("text", a->text, "text to tokenize (default: stdin)");
  cmd->callback([=] { *exit_code = run_tokenize(*a, text->count() > 0); });
}

}  // namespace shuo::cli
