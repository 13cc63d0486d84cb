// Dispatch for dequantize/quantize: one table row per GGML type with its block converters, and the
// argument checks that turn bad sizes or unsupported types into errors that name the type.
#include "tensor/quants.h"

#include <cstring>
#include <string>

#include "tensor/quants_impl.h"

namespace shuo::tensor {
namespace {

using format::GgmlType;

// The float types as one-element "blocks", so they share the table with the block types.
void dequant_f32(const uint8_t* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void quant_f32(const float* src, uint8_t* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void dequant_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = detail::load_f16(src + 2 * i);
}
void quant_f16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) detail::store_f16(dst + 2 * i, src[i]);
}
void dequant_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(detail::load_u16(src + 2 * i));
}
void quant_bf16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) detail::store_u16(dst + 2 * i, fp32_to_bf16(src[i]));
}

struct Codec {
  GgmlType type;
  detail::DequantFn dequant;  // null: not supported
  detail::QuantFn quant;      // null: not supported
};

constexpr Codec kCodecs[] = {
    {GgmlType::F32, dequant_f32, quant_f32},
    {GgmlType::F16, dequant_f16, quant_f16},
    {GgmlType::BF16, dequant_bf16, quant_bf16},
    {GgmlType::Q4_0, detail::dequant_q4_0, detail::quant_q4_0},
    {GgmlType::Q4_1, detail::dequant_q4_1, detail::quant_q4_1},
    {GgmlType::Q5_0, detail::dequant_q5_0, detail::quant_q5_0},
    {GgmlType::Q5_1, detail::dequant_q5_1, detail::quant_q5_1},
    {GgmlType::Q8_0, detail::dequant_q8_0, detail::quant_q8_0},
    {GgmlType::Q2_K, detail::dequant_q2_k, nullptr},
    {GgmlType::Q3_K, detail::dequant_q3_k, nullptr},
    {GgmlType::Q4_K, detail::dequant_q4_k, detail::quant_q4_k},
    {GgmlType::Q5_K, detail::dequant_q5_k, detail::quant_q5_k},
    {GgmlType::Q6_K, detail::dequant_q6_k, detail::quant_q6_k},
    {GgmlType::Q8_K, detail::dequant_q8_k, detail::quant_q8_k},
    {GgmlType::IQ4_NL, detail::dequant_iq4_nl, nullptr},
    {GgmlType::IQ4_XS, detail::dequant_iq4_xs, nullptr},
    {GgmlType::TQ1_0, detail::dequant_tq1_0, detail::quant_tq1_0},
    {GgmlType::TQ2_0, detail::dequant_tq2_0, detail::quant_tq2_0},
};

const Codec* find_codec(GgmlType t) {
  for (const Codec& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

// The type's name, or its raw id when the enum value is not a GGML type at all (a corrupt file
// cast straight to the enum must still produce an error, not a crash).
std::string type_label(GgmlType t) {
  const auto info = format::ggml_type_info(static_cast<uint32_t>(t));
  if (info) return info->name;
  return "id " + std::to_string(static_cast<uint32_t>(t));
}

// Validates (t, n, pointers) and returns the block count.
Result<int64_t> check_args(const char* op, GgmlType t, bool supported, const void* src,
                           const void* dst, int64_t n) {
  const auto info = format::ggml_type_info(static_cast<uint32_t>(t));
  if (!info || !supported)
    return make_error(ErrorCode::kUnsupported, op, "type " + type_label(t) + " is not supported");
  if (n < 0 || n % info->block_size != 0)
    return make_error(ErrorCode::kBadField, op,
                      "n = " + std::to_string(n) + " is not a multiple of the " + info->name +
                          " block size " + std::to_string(info->block_size));
  if (n > 0 && (src == nullptr || dst == nullptr))
    return make_error(ErrorCode::kBadField, op, "null buffer for " + std::to_string(n) + " " +
                                                    info->name + " elements");
  return n / info->block_size;
}

}  // namespace

bool can_dequantize(GgmlType t) {
  const Codec* c = find_codec(t);
  return c && c->dequant;
}

bool can_quantize(GgmlType t) {
  const Codec* c = find_codec(t);
  return c && c->quant;
}

Result<void> dequantize(GgmlType t, const void* src, float* dst, int64_t n) {
  const Codec* c = find_codec(t);
  SHUO_ASSIGN(const int64_t n_blocks,
              check_args("dequantize", t, c && c->dequant, src, dst, n));
  if (n_blocks > 0) c->dequant(static_cast<const uint8_t*>(src), dst, n_blocks);
  return {};
}

Result<void> quantize(GgmlType t, const float* src, void* dst, int64_t n) {
  const Codec* c = find_codec(t);
  SHUO_ASSIGN(const int64_t n_blocks, check_args("quantize", t, c && c->quant, src, dst, n));
  if (n_blocks > 0) c->quant(src, static_cast<uint8_t*>(dst), n_blocks);
  return {};
}

}  // namespace shuo::tensor
