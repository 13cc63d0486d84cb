// Decoding of the non-linear 4-bit types IQ4_NL (32-element blocks) and IQ4_XS (256-element
// super-blocks with 6-bit sub-block scales). Both map a 4-bit code through a fixed codebook.
#include "tensor/quants_impl.h"

namespace shuo::tensor::detail {
namespace {

// The IQ4 codebook: 16 levels, denser near zero where weights cluster. Part of the format.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

// Layouts (bytes):  IQ4_NL = d:f16, qs[16]                                              (18)
//                   IQ4_XS = d:f16, scales_h:u16, scales_l[4], qs[128]                  (136)
// Nibble order as Q4_0: qs[j] holds element j (low) and j + 16 (high) of a 32-element group.
constexpr size_t kIq4NlBytes = 18, kIq4XsBytes = 136;

void decode_group(const uint8_t* qs, float scale, float* dst) {
  for (int j = 0; j < 16; ++j) {
    dst[j] = scale * float(kIq4Values[qs[j] & 0x0f]);
    dst[j + 16] = scale * float(kIq4Values[qs[j] >> 4]);
  }
}

}  // namespace

void dequant_iq4_nl(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kIq4NlBytes, dst += 32)
    decode_group(src + 2, load_f16(src), dst);
}

void dequant_iq4_xs(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kIq4XsBytes) {
    const float d = load_f16(src);
    const uint16_t scales_h = load_u16(src + 2);
    const uint8_t* scales_l = src + 4;
    const uint8_t* qs = src + 8;
    // Eight 32-element groups; group g's 6-bit scale (bias 32) has its low 4 bits in a nibble of
    // scales_l and its top 2 bits in scales_h.
    for (int g = 0; g < 8; ++g, qs += 16, dst += 32) {
      const int low = (scales_l[g / 2] >> (4 * (g % 2))) & 0x0f;
      const int high = (scales_h >> (2 * g)) & 3;
      decode_group(qs, d * float((low | (high << 4)) - 32), dst);
    }
  }
}

}  // namespace shuo::tensor::detail
