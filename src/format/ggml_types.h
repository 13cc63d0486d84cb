// The GGML tensor type ids that GGUF files store, with their block geometry. This is part of the
// file format (what bytes a tensor occupies), so it lives in format/; the arithmetic on the
// blocks (dequantize, quantize, dot products) lives in tensor/ and kernels/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace shuo::format {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35,
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;      // as llama.cpp prints it: "Q4_K", "F16"
  int64_t block_size;    // elements per block
  size_t type_size;      // bytes per block
};

// Info for a raw type id read from a file; nullopt for ids GGUF does not define (or retired ones).
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id);
GgmlTypeInfo ggml_type_info(GgmlType type);
const char* ggml_type_name(GgmlType type);
// Parse "q4_k" / "Q4_K" / "f16"; nullopt when unknown.
std::optional<GgmlType> ggml_type_from_name(const std::string& name);

// Bytes of a row of n elements; nullopt when n is not a multiple of the block size.
std::optional<size_t> ggml_row_bytes(GgmlType type, int64_t n);

}  // namespace shuo::format
