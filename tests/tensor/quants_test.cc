// GGML block types: dequantize is bit-exact and quantize byte-exact against the shared fixtures
// (made with llama.cpp's reference, see testdata/quants/README.md); fp16/bf16 scalar rounding;
// argument errors; round-trip error bounds for the K-quant encoders that have no fixture.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "test_support.h"

namespace {

using shuo::ErrorCode;
using shuo::format::GgmlType;
using shuo::format::ggml_type_from_name;
using shuo::format::ggml_type_info;
namespace tensor = shuo::tensor;

constexpr const char* kManifest = "quants/manifest.json";

// The manifest entry for a type, or nullopt (with a test failure) if it is missing.
std::optional<nlohmann::json> manifest_entry(const std::string& type) {
  const auto text = shuo::testing::read_file(shuo::testing::testdata_dir() / kManifest);
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "manifest.json does not parse: " << e.what();
    return std::nullopt;
  }
  for (const auto& e : manifest)
    if (e.value("type", "") == type) return e;
  ADD_FAILURE() << "type " << type << " not in manifest.json";
  return std::nullopt;
}

std::string fixture(const std::string& name) {
  return shuo::testing::read_file(shuo::testing::testdata_dir() / "quants" / name);
}

// Float arrays compared by bit pattern: -0.0 vs 0.0 or a different NaN is a failure too.
void expect_same_bits(const std::vector<float>& expected, const std::vector<float>& actual,
                      const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < expected.size() && reported < 8; ++i) {
    const uint32_t e = std::bit_cast<uint32_t>(expected[i]);
    const uint32_t a = std::bit_cast<uint32_t>(actual[i]);
    if (e != a) {
      ADD_FAILURE() << what << ": index " << i << " expected " << expected[i] << " (0x" << std::hex
                    << e << ") actual " << actual[i] << " (0x" << a << std::dec << ")";
      ++reported;
    }
  }
}

std::vector<float> as_floats(const std::string& bytes) {
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one case per type in the manifest.

// Types shuo must decode; the rest of the manifest (IQ1/IQ2/IQ3 grid types) must be refused.
const std::set<std::string> kMustDequantize = {
    "F16",  "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",   "Q8_0",   "Q2_K",  "Q3_K",
    "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"};

class DequantizeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(DequantizeFixture, MatchesReferenceBits) {
  SHUO_REQUIRE_TESTDATA(kManifest);
  const std::string name = GetParam();
  const auto entry = manifest_entry(name);
  ASSERT_TRUE(entry);
  const auto type = ggml_type_from_name(name);
  ASSERT_TRUE(type) << name;
  ASSERT_EQ(static_cast<uint32_t>(*type), (*entry)["ggml_type_id"].get<uint32_t>());
  const int64_t n = (*entry)["n_elements"].get<int64_t>();
  const std::string bin = fixture((*entry)["bin"].get<std::string>());
  ASSERT_EQ(bin.size(), (*entry)["n_blocks"].get<size_t>() * ggml_type_info(*type).type_size);

  std::vector<float> out(size_t(n), -12345.0f);
  const auto r = tensor::dequantize(*type, bin.data(), out.data(), n);
  if (!kMustDequantize.count(name)) {
    EXPECT_FALSE(tensor::can_dequantize(*type));
    ASSERT_FALSE(r.ok()) << name << " is expected to be refused";
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(r.error().to_string(), "dequantize: type " + name + " is not supported");
    return;
  }
  EXPECT_TRUE(tensor::can_dequantize(*type));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const std::vector<float> expected = as_floats(fixture((*entry)["f32"].get<std::string>()));
  ASSERT_EQ(expected.size(), size_t(n));
  expect_same_bits(expected, out, "dequantize " + name);
}

INSTANTIATE_TEST_SUITE_P(Quants, DequantizeFixture,
                         ::testing::Values("F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                           "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ2_XXS",
                                           "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M",
                                           "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"),
                         [](const auto& info) { return info.param; });

class QuantizeFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizeFixture, MatchesReferenceBytes) {
  SHUO_REQUIRE_TESTDATA(kManifest);
  const std::string name = GetParam();
  const auto entry = manifest_entry(name);
  ASSERT_TRUE(entry);
  ASSERT_TRUE(entry->contains("quantize_in")) << name << " has no quantize fixture";
  const GgmlType type = *ggml_type_from_name(name);
  ASSERT_TRUE(tensor::can_quantize(type));
  const int64_t n = (*entry)["quantize_n_elements"].get<int64_t>();
  const std::vector<float> in = as_floats(fixture((*entry)["quantize_in"].get<std::string>()));
  const std::string expected = fixture((*entry)["quantize_out"].get<std::string>());
  ASSERT_EQ(in.size(), size_t(n));
  ASSERT_EQ(expected.size(), *shuo::format::ggml_row_bytes(type, n));

  std::string out(expected.size(), '\xAA');
  const auto r = tensor::quantize(type, in.data(), out.data(), n);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const size_t block_bytes = ggml_type_info(type).type_size;
  int reported = 0;
  for (size_t i = 0; i < out.size() && reported < 8; ++i) {
    if (out[i] != expected[i]) {
      ADD_FAILURE() << "quantize " << name << ": byte " << i << " (block " << i / block_bytes
                    << ", offset " << i % block_bytes << ") expected "
                    << int(uint8_t(expected[i])) << " actual " << int(uint8_t(out[i]));
      ++reported;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Quants, QuantizeFixture,
                         ::testing::Values("F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                           "TQ1_0", "TQ2_0"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------------
// Errors.

TEST(Quants, LengthNotMultipleOfBlockIsAnError) {
  std::vector<uint8_t> blocks(1024);
  std::vector<float> f(1024);
  auto r = tensor::dequantize(GgmlType::Q4_0, blocks.data(), f.data(), 33);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
  EXPECT_NE(r.error().to_string().find("Q4_0"), std::string::npos) << r.error().to_string();
  EXPECT_NE(r.error().to_string().find("33"), std::string::npos) << r.error().to_string();

  r = tensor::quantize(GgmlType::Q6_K, f.data(), blocks.data(), 128);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
  EXPECT_NE(r.error().to_string().find("Q6_K"), std::string::npos) << r.error().to_string();

  r = tensor::dequantize(GgmlType::F16, blocks.data(), f.data(), -2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
}

TEST(Quants, NullBufferIsAnErrorUnlessEmpty) {
  std::vector<float> f(32);
  auto r = tensor::dequantize(GgmlType::Q8_0, nullptr, f.data(), 32);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
  EXPECT_TRUE(tensor::dequantize(GgmlType::Q8_0, nullptr, nullptr, 0).ok());
  EXPECT_TRUE(tensor::quantize(GgmlType::Q4_K, nullptr, nullptr, 0).ok());
}

TEST(Quants, UnsupportedTypesNameThemselves) {
  std::vector<uint8_t> blocks(4096);
  std::vector<float> f(256);
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS,
                     GgmlType::IQ3_S, GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::I32}) {
    const std::string name = ggml_type_info(t).name;
    EXPECT_FALSE(tensor::can_dequantize(t)) << name;
    EXPECT_FALSE(tensor::can_quantize(t)) << name;
    const auto r = tensor::dequantize(t, blocks.data(), f.data(), 256);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(r.error().to_string(), "dequantize: type " + name + " is not supported");
  }
  // Decodable but with no reference encoder.
  const auto r = tensor::quantize(GgmlType::Q2_K, f.data(), blocks.data(), 256);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(r.error().to_string(), "quantize: type Q2_K is not supported");
  // An id that is no GGML type at all (a corrupt file cast to the enum) is refused, not a crash.
  const auto bad = tensor::dequantize(static_cast<GgmlType>(99), blocks.data(), f.data(), 256);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(bad.error().message.find("99"), std::string::npos) << bad.error().message;
}

TEST(Quants, F32IsACopy) {
  const std::vector<float> in = {1.5f, -0.0f, 3e38f, -1e-40f};
  std::vector<float> mid(4), out(4);
  ASSERT_TRUE(tensor::quantize(GgmlType::F32, in.data(), mid.data(), 4).ok());
  ASSERT_TRUE(tensor::dequantize(GgmlType::F32, mid.data(), out.data(), 4).ok());
  expect_same_bits(in, out, "F32");
}

// Zero blocks take the "scale is 0, inverse scale is 0" path of every encoder.
TEST(Quants, ZerosRoundTripToZeros) {
  const std::vector<float> zeros(512, 0.0f);
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                     GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                     GgmlType::Q8_K, GgmlType::TQ1_0, GgmlType::TQ2_0}) {
    const std::string name = ggml_type_info(t).name;
    ASSERT_TRUE(tensor::can_quantize(t)) << name;
    std::vector<uint8_t> blocks(*shuo::format::ggml_row_bytes(t, 512), 0xAA);
    std::vector<float> out(512, 1.0f);
    ASSERT_TRUE(tensor::quantize(t, zeros.data(), blocks.data(), 512).ok()) << name;
    ASSERT_TRUE(tensor::dequantize(t, blocks.data(), out.data(), 512).ok()) << name;
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(std::fabs(out[i]), 0.0f) << name << " " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// fp16 / bf16 scalars.

// Plain-arithmetic value of a half, independent of the bit tricks in fp16.h.
double half_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(double(mant), -24);
  if (exp == 31) return mant ? NAN : sign * INFINITY;
  return sign * std::ldexp(double(1024 + mant), exp - 25);
}

TEST(Fp16, EveryHalfDecodesExactlyAndRoundTrips) {
  int nans = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = tensor::fp16_to_fp32(uint16_t(h));
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(half_value(uint16_t(h)))) << std::hex << h;
      ++nans;
      continue;
    }
    ASSERT_EQ(double(f), half_value(uint16_t(h))) << std::hex << "half 0x" << h;
    ASSERT_EQ(std::signbit(f), (h >> 15) != 0) << std::hex << h;
    ASSERT_EQ(tensor::fp32_to_fp16(f), h) << std::hex << "half 0x" << h;
  }
  EXPECT_EQ(nans, 2 * 1023);
}

TEST(Fp16, RoundsToNearestEven) {
  auto h = [](float f) { return tensor::fp32_to_fp16(f); };
  EXPECT_EQ(h(1.0f + 0x1p-11f), 0x3c00);        // tie between 1 and 1+2^-10: even is 1
  EXPECT_EQ(h(1.0f + 3 * 0x1p-11f), 0x3c02);    // tie: even is 1+2^-9
  EXPECT_EQ(h(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);  // just above the tie
  EXPECT_EQ(h(65504.0f), 0x7bff);
  EXPECT_EQ(h(65519.99f), 0x7bff);
  EXPECT_EQ(h(65520.0f), 0x7c00);  // tie to the even neighbour 2^16, which is inf
  EXPECT_EQ(h(-1e10f), 0xfc00);
  EXPECT_EQ(h(INFINITY), 0x7c00);
  EXPECT_EQ(h(0x1p-24f), 0x0001);        // smallest subnormal
  EXPECT_EQ(h(0x1p-25f), 0x0000);        // tie with zero: even is zero
  EXPECT_EQ(h(0x1.000002p-25f), 0x0001);
  EXPECT_EQ(h(3 * 0x1p-25f), 0x0002);    // tie between 1 and 2 ulps
  EXPECT_EQ(h(0x1p-14f - 0x1p-26f), 0x0400);  // rounds up into the smallest normal
  EXPECT_EQ(h(-0.0f), 0x8000);
  EXPECT_EQ(h(1e-30f), 0x0000);
  EXPECT_EQ(h(NAN), 0x7e00);
  EXPECT_EQ(h(-NAN), 0xfe00);
}

// Every float in a sweep goes to the nearest half (ties to even), checked with double arithmetic.
TEST(Fp16, SweepIsNearest) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits(0, 0x477fefffu);  // |f| below 65520 (above: inf)
  for (int i = 0; i < 200000; ++i) {
    const uint32_t b = bits(rng) | (i & 1 ? 0x80000000u : 0);
    const float f = std::bit_cast<float>(b);
    const uint16_t h = tensor::fp32_to_fp16(f);
    const double err = std::fabs(half_value(h) - double(f));
    for (int delta : {-1, 1}) {
      const int other = int(h & 0x7fff) + delta;
      if (other < 0 || other > 0x7c00) continue;
      const double other_err = std::fabs(half_value(uint16_t((h & 0x8000) | other)) - double(f));
      ASSERT_LE(err, other_err) << std::hex << "float 0x" << b << " -> 0x" << h;
      if (err == other_err) {
        ASSERT_EQ(h & 1, 0) << std::hex << "tie not even: 0x" << b;
      }
    }
  }
}

TEST(Bf16, EdgeCases) {
  auto bf = [](uint32_t bits) { return tensor::fp32_to_bf16(std::bit_cast<float>(bits)); };
  EXPECT_EQ(bf(0x3f800000), 0x3f80);  // 1.0
  EXPECT_EQ(bf(0x3f808000), 0x3f80);  // tie, even stays
  EXPECT_EQ(bf(0x3f818000), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(bf(0x3f808001), 0x3f81);  // above the tie
  EXPECT_EQ(bf(0x3f807fff), 0x3f80);
  EXPECT_EQ(bf(0x80000000), 0x8000);  // -0.0
  EXPECT_EQ(bf(0x00018000), 0x0002);  // subnormals are rounded, not flushed
  EXPECT_EQ(bf(0x7f800000), 0x7f80);  // inf
  EXPECT_EQ(bf(0xff800000), 0xff80);
  EXPECT_EQ(bf(0x7f7fffff), 0x7f80);  // FLT_MAX rounds up to inf
  EXPECT_EQ(bf(0x7fc00000), 0x7fc0);  // quiet NaN
  EXPECT_EQ(bf(0x7f800001), 0x7fc0);  // signalling NaN: quieted, never turned into inf
  EXPECT_EQ(bf(0xffff0000), 0xffff);  // NaN payload kept
  EXPECT_EQ(tensor::bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(std::bit_cast<uint32_t>(tensor::bf16_to_fp32(0x8001)), 0x80010000u);
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = tensor::bf16_to_fp32(uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(tensor::fp32_to_bf16(f), h) << std::hex << h;
  }
}

// ---------------------------------------------------------------------------------------------
// K-quant encoders: no fixture exists, so check quantize → dequantize error against a bound.
//
// A quantizer with step Δ that rounds to the nearest level errs by at most Δ/2 per element, so the
// RMS error is at most Δ/2 (about Δ/√12 for smooth data). The encoders' extra losses (6/8-bit
// sub-block scales, codes clamped at the range ends) are small against that, so RMS ≤ Δ/2, with
// Δ taken per sub-block from the data itself, is a bound a correct encoder meets with margin and a
// wrong bit layout (errors of the order of the data) misses by far.

std::vector<float> test_data(int64_t n, uint32_t seed, float outlier_every) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[size_t(i)] = normal(rng) * (1.0f + float(i / 256) * 0.5f);  // vary the scale per block
    if (outlier_every > 0 && i % int64_t(outlier_every) == 7) x[size_t(i)] *= 8.0f;
  }
  return x;
}

struct RoundTrip {
  double rms_error = 0;
  double bound = 0;
};

// Δ per sub-block: the grid that covers the sub-block's values with `levels` steps (affine types
// span [min(min, 0), max]; symmetric ones span ±max|x| with `levels` steps per side).
RoundTrip round_trip(GgmlType t, const std::vector<float>& x, int sub, int levels, bool affine) {
  const int64_t n = int64_t(x.size());
  std::vector<uint8_t> blocks(*shuo::format::ggml_row_bytes(t, n));
  std::vector<float> y(x.size());
  EXPECT_TRUE(tensor::quantize(t, x.data(), blocks.data(), n).ok());
  EXPECT_TRUE(tensor::dequantize(t, blocks.data(), y.data(), n).ok());
  double err2 = 0, bound2 = 0;
  for (int64_t s = 0; s < n; s += sub) {
    float lo = 0, hi = 0, amax = 0;
    for (int i = 0; i < sub; ++i) {
      const float v = x[size_t(s + i)];
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      amax = std::max(amax, std::fabs(v));
      err2 += double(v - y[size_t(s + i)]) * double(v - y[size_t(s + i)]);
    }
    const double step = affine ? double(hi - lo) / levels : double(amax) / levels;
    bound2 += double(sub) * (step / 2) * (step / 2);
  }
  return {std::sqrt(err2 / double(n)), std::sqrt(bound2 / double(n))};
}

TEST(QuantsKRef, Q4KRoundTripWithinBound) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto x = test_data(256 * 8, seed, seed == 3 ? 37.0f : 0.0f);
    const RoundTrip r = round_trip(GgmlType::Q4_K, x, 32, 15, true);
    EXPECT_LT(r.rms_error, r.bound) << "seed " << seed;
    EXPECT_GT(r.rms_error, 0.0) << "lossy type cannot be exact on random data";
  }
}

TEST(QuantsKRef, Q5KRoundTripWithinBound) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto x = test_data(256 * 8, seed, seed == 3 ? 37.0f : 0.0f);
    const RoundTrip r = round_trip(GgmlType::Q5_K, x, 32, 31, true);
    EXPECT_LT(r.rms_error, r.bound) << "seed " << seed;
  }
}

TEST(QuantsKRef, Q6KRoundTripWithinBound) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto x = test_data(256 * 8, seed, seed == 3 ? 37.0f : 0.0f);
    const RoundTrip r = round_trip(GgmlType::Q6_K, x, 16, 32, false);
    EXPECT_LT(r.rms_error, r.bound) << "seed " << seed;
  }
}

// More bits must mean less error on the same data: Q4_K > Q5_K > Q6_K > Q8_K.
TEST(QuantsKRef, ErrorShrinksWithBits) {
  const auto x = test_data(256 * 8, 11, 0.0f);
  const double e4 = round_trip(GgmlType::Q4_K, x, 32, 15, true).rms_error;
  const double e5 = round_trip(GgmlType::Q5_K, x, 32, 31, true).rms_error;
  const double e6 = round_trip(GgmlType::Q6_K, x, 16, 32, false).rms_error;
  const double e8 = round_trip(GgmlType::Q8_K, x, 256, 127, false).rms_error;
  EXPECT_GT(e4, e5);
  EXPECT_GT(e5, e6);
  EXPECT_GT(e6, e8);
}

// Q8_K has a single float scale, so the bound is per element: |x - x̂| ≤ d/2 with d = max|x|/127
// (plus float rounding of d·q), and bsums must be the per-16 sums of the codes.
TEST(QuantsKRef, Q8KPerElementBoundAndBsums) {
  const auto x = test_data(256 * 4, 5, 29.0f);
  std::vector<uint8_t> blocks(*shuo::format::ggml_row_bytes(GgmlType::Q8_K, 1024));
  std::vector<float> y(1024);
  ASSERT_TRUE(tensor::quantize(GgmlType::Q8_K, x.data(), blocks.data(), 1024).ok());
  ASSERT_TRUE(tensor::dequantize(GgmlType::Q8_K, blocks.data(), y.data(), 1024).ok());
  for (int b = 0; b < 4; ++b) {
    float amax = 0;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[size_t(b * 256 + i)]));
    const float d = amax / 127.0f;
    for (int i = 0; i < 256; ++i) {
      const size_t k = size_t(b * 256 + i);
      ASSERT_LE(std::fabs(x[k] - y[k]), d * 0.5f * 1.0001f) << "block " << b << " index " << i;
    }
    const uint8_t* blk = blocks.data() + b * 292;
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += int8_t(blk[4 + 16 * g + i]);
      const int16_t stored = int16_t(blk[260 + 2 * g] | (blk[261 + 2 * g] << 8));
      ASSERT_EQ(stored, sum) << "block " << b << " group " << g;
    }
  }
}

}  // namespace
