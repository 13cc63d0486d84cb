// Writing small safetensors files in tests (shuo itself only reads them): tensors are laid out
// back to back in the order given, the header padded with spaces to a multiple of 8 as the
// reference writer does.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shuo::testing {

struct StTensor {
  std::string name;
  std::string dtype;            // "F32", "F16", …
  std::vector<int64_t> shape;   // row-major
  std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// `header_extra` is merged into the header (e.g. {"__metadata__": {...}}).
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StTensor>& tensors,
                                              const nlohmann::json& header_extra = nlohmann::json::object()) {
  nlohmann::json h = header_extra;
  uint64_t off = 0;
  for (const auto& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string text = h.dump();
  while (text.size() % 8) text += ' ';
  std::vector<uint8_t> out;
  out.reserve(8 + text.size() + off);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(n >> (8 * i)));
  for (char ch : text) out.push_back(uint8_t(ch));
  for (const auto& t : tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

}  // namespace shuo::testing
