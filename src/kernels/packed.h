// Weights repacked once at load into the 16-row tile layouts the GEMM kernels read directly
// (gemm.h explains the lanes = rows idea). Every matmul of a packed matrix — one decode token or
// a 512-token prompt — then reads each weight byte once, with no per-call packing, no sign
// tricks and no horizontal sums. The packed copy has exactly the size of the stored one (it is
// the same bytes, permuted; Q8_0 adds 128 to each quant), so the model loader drops the mmap's
// pages of the original (GgufFile::release_pages) and resident memory does not double.
//
// Layouts, per tile of 16 rows (rows past the end of the matrix are zero), per 32-column block:
//   Q8_0x16 (544 B): 8 × 64 B — byte (k·16 + r)·4 + j = q[r][4k + j] + 128 (k < 8, j < 4) —
//                    then the 16 rows' fp16 scales d[r].
//   Q4_0x16 (288 B): 4 × 64 B — byte r·4 + j of group i = stored byte qs[r][4i + j], whose low
//                    nibble is element 4i + j and high nibble element 16 + 4i + j (values
//                    nibble − 8) — then the 16 fp16 scales.
//   Q5_0x16 (352 B): the 4 × 64 B of nibbles as Q4_0x16, then 2 × 32 B of fifth bits, one per
//                    8-row half h: bit 2i + k of byte (r·4 + j) is the fifth bit of element
//                    16k + 4i + j of row 8h + r (the element whose nibble is byte r·4 + j of
//                    group i, low k = 0, high k = 1), then the 16 fp16 scales. A kernel moves
//                    group i's bits to bit 4 of each byte with one 16-bit shift and a mask.
//   F16x16 (1 KiB):  32 × 32 B — column c of the block: the 16 rows' fp16 values.
//   Q4_Kx16 (2304 B per 256-column super-block, i.e. 288 B per 32 columns): 32 × 64 B of
//                    nibbles — group 8c + i holds stored bytes qs[r][32c + 4i + j] at r·4 + j
//                    (low nibbles: sub-block 2c, elements 4i + j; high: sub-block 2c + 1) —
//                    then per 8-row half h (96 B at 2048 + 96h) the 12 scale bytes of its rows
//                    as three 32-byte vectors of 32-bit words (bytes 0–3, 4–7, 8–11 of row
//                    8h + r in word r), so 6-bit scales and mins decode for 8 rows at once;
//                    then the 16 fp16 d, then the 16 fp16 dmin.
// A tile is tile_bytes(kind, cols) = (cols / 32) × block bytes (per 32 columns; Q4_Kx16 counts
// an eighth of its super-block); tile t starts at t × that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "format/ggml_types.h"

namespace shuo::kernels {

struct WeightMatrix;

enum class PackedKind : uint8_t { kNone, kQ8_0x16, kQ4_0x16, kF16x16, kQ5_0x16, kQ4_Kx16 };

// The packed kind for a matrix of this type and width, or kNone (other types; cols not whole
// blocks of the type).
// Whether a kernel set reads that kind is VecDotKernels::packs.
PackedKind packed_kind_for(format::GgmlType t, int64_t cols);
constexpr uint32_t packed_kind_bits(std::initializer_list<PackedKind> kinds) {
  uint32_t bits = 0;
  for (PackedKind k : kinds) bits |= 1u << unsigned(k);
  return bits;
}
size_t packed_block_bytes(PackedKind k);
inline size_t packed_tile_bytes(PackedKind k, int64_t cols) { return size_t(cols / 32) * packed_block_bytes(k); }
inline int64_t packed_tiles(int64_t rows) { return (rows + 15) / 16; }

// Writes tile `tile` of w (rows 16·tile …) in w's packed kind (w.packed) to out.
void pack_weight_tile(const WeightMatrix& w, PackedKind kind, int64_t tile, uint8_t* out);

// One packed tile as the kernels see it.
struct PackedTile {
  PackedKind kind = PackedKind::kNone;
  const uint8_t* data = nullptr;
  int64_t cols = 0;
};

}  // namespace shuo::kernels
