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
    default: return PackedKind::kNone;
  }
}

size_t packed_block_bytes(PackedKind k) {
  switch (k) {
    case PackedKind::kQ8_0x16: return 16 * 34;
    case PackedKind::kQ4_0x16: return 16 * 18;
    case PackedKind::kF16x16: return 16 * 64;
    case PackedKind::kQ5_0x16: return 16 * 22;
    case PackedKind::kNone: break;
  }
  return 0;
}

void pack_weight_tile(const WeightMatrix& w, PackedKind kind, int64_t tile, uint8_t* out) {
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
        case PackedKind::kNone:
          return;
      }
    }
  }
}

}  // namespace shuo::kernels
