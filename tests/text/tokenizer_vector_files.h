// Reading llama.cpp-style tokenizer test vectors (.inp strings separated by
// "\n__ggml_vocab_test__\n", .out lines of space-separated ids), shared by the GGUF vocab tests
// and the tokenizer.json tests, plus a printable form of a test string for failure messages.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace shuo::text::testing_vectors {

inline std::vector<std::string> split_inp(const std::string& inp) {
  static constexpr std::string_view kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  for (size_t pos = 0;;) {
    const size_t next = inp.find(kSep, pos);
    if (next == std::string::npos) break;
    out.push_back(inp.substr(pos, next - pos));
    pos = next + kSep.size();
  }
  return out;
}

inline std::vector<std::vector<int32_t>> parse_out(const std::string& out) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<int32_t> ids;
    std::istringstream ls(line);
    int32_t id;
    while (ls >> id) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

inline std::string escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) out += "\\x" + std::to_string(c);
    else out += static_cast<char>(c);
  }
  return out;
}

}  // namespace shuo::text::testing_vectors
