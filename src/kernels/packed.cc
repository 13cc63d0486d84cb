// Load-time packing into the tile layouts of packed.h.
#include "kernels/packed.h"

#include <cstring>

#include "kernels/matmul.h"

namespace shuo::kernels {

PackedKind packed_kind_for(format::GgmlType t, int64_t cols) {
  if (cols <= 0 || cols % 32 != 0) return PackedKind::kNone;
  switch (t) {
    case format::GgmlType::Q8_0: return PackedKind::kQ8_0x16;
    case format::GgmlType::Q4_0: return PackedKind::kQ4_0x16;
    case format::GgmlType::F16: return PackedKind::kF16x16;
    case format::GgmlType::Q5_0: return PackedKind::kQ5_0x16;
    case format::GgmlType::Q4_K: return cols % 256 == 0 ? PackedKind::kQ4_Kx16 : PackedKind::kNone;
    default: return PackedKind::kNone;
  }
}

size_t packed_block_bytes(PackedKind k) {
  switch (k) {
    case PackedKind::kQ8_0x16: return 16 * 34;
    case PackedKind::kQ4_0x16: return 16 * 18;
    case PackedKind::kF16x16: return 16 * 64;
    case PackedKind::kQ5_0x16: return 16 * 22;
    case PackedKind::kQ4_Kx16: return 16 * 144 / 8;  // per 32 columns of a 256-column super-block
    case PackedKind::kNone: break;
  }
  return 0;
}

namespace {

// Q4_Kx16 (packed.h): per super-block, 2048 B of nibble groups, 2 × 96 B of scale words, d, dmin.
void pack_q4_k_tile(const WeightMatrix& w, int64_t tile, uint8_t* out) {
  const int64_t nsb = w.cols / 256;
  std::memset(out, 0, size_t(nsb) * 2304);
  for (int r = 0; r < 16; ++r) {
    const int64_t row = tile * 16 + r;
    if (row >= w.rows) break;
    for (int64_t sb = 0; sb < nsb; ++sb) {
      const uint8_t* s = w.row(row) + sb * 144;  // fp16 d, fp16 dmin, 12 scale bytes, 128 nibble bytes
      uint8_t* blk = out + size_t(sb) * 2304;
      for (int c = 0; c < 4; ++c)
        for (int i = 0; i < 8; ++i) std::memcpy(blk + (c * 8 + i) * 64 + r * 4, s + 16 + 32 * c + 4 * i, 4);
      for (int k = 0; k < 3; ++k) std::memcpy(blk + 2048 + 96 * (r / 8) + 32 * k + 4 * (r % 8), s + 4 + 4 * k, 4);
      std::memcpy(blk + 2240 + 2 * r, s, 2);
      std::memcpy(blk + 2272 + 2 * r, s + 2, 2);
    }
  }
}

}  // namespace

void pack_weight_tile(const WeightMatrix& w, PackedKind kind, int64_t tile, uint8_t* out) {
  if (kind == PackedKind::kQ4_Kx16) return pack_q4_k_tile(w, tile, out);
  const int64_t nb = w.cols / 32;
  const size_t bb = packed_block_bytes(kind);
  std::memset(out, 0, bb * size_t(nb));
  for (int r = 0; r < 16; ++r) {
    const int64_t row = tile * 16 + r;
    if (row >= w.rows) break;
    const uint8_t* src = w.row(row);
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = out + size_t(b) * bb;
      switch (kind) {
        case PackedKind::kQ8_0x16: {
          const uint8_t* s = src + b * 34;  // fp16 d, 32 × int8
          for (int k = 0; k < 8; ++k)
            for (int j = 0; j < 4; ++j) blk[(k * 16 + r) * 4 + j] = uint8_t(s[2 + 4 * k + j] ^ 0x80);
          std::memcpy(blk + 512 + 2 * r, s, 2);
          break;
        }
        case PackedKind::kQ4_0x16: {
          const uint8_t* s = src + b * 18;  // fp16 d, 16 bytes of nibbles
          for (int i = 0; i < 4; ++i) std::memcpy(blk + i * 64 + r * 4, s + 2 + 4 * i, 4);
          std::memcpy(blk + 256 + 2 * r, s, 2);
          break;
        }
        case PackedKind::kQ5_0x16: {
          const uint8_t* s = src + b * 22;  // fp16 d, 32 fifth bits (uint32 LE), 16 bytes of nibbles
          uint32_t qh;
          std::memcpy(&qh, s + 2, 4);
          for (int i = 0; i < 4; ++i) std::memcpy(blk + i * 64 + r * 4, s + 6 + 4 * i, 4);
          uint8_t* bits = blk + 256 + 32 * (r / 8) + (r % 8) * 4;
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j)
              for (int k = 0; k < 2; ++k) bits[j] |= uint8_t(((qh >> (16 * k + 4 * i + j)) & 1u) << (2 * i + k));
          std::memcpy(blk + 320 + 2 * r, s, 2);
          break;
        }
        case PackedKind::kF16x16: {
          const uint8_t* s = src + b * 64;  // 32 fp16
          for (int c = 0; c < 32; ++c) std::memcpy(blk + c * 32 + 2 * r, s + 2 * c, 2);
          break;
        }
        case PackedKind::kQ4_Kx16:  // packed above
        case PackedKind::kNone:
          return;
      }
    }
  }
}

}  // namespace shuo::kernels
