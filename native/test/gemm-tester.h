// Shared pieces of the GEMM tests: problem generation (weights, zero points, scales) and exact comparisons with guard checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"
#include "reference/gemm-ref.h"

namespace qk {
namespace test {

// Weight patterns: random, and the vpmaddubsw saturation edges (a <= 255 times a pair whose
// same-sign parts sum past 128 overflows int16; exactly 128 does not).
enum class WeightPattern { kRandom, kMinPairs, kMaxPairs, kEdge128, kEdge129, kSparse, kCount };

inline const char* WeightPatternName(WeightPattern p) {
  switch (p) {
    case WeightPattern::kRandom: return "random";
    case WeightPattern::kMinPairs: return "all -128";
    case WeightPattern::kMaxPairs: return "all 127";
    case WeightPattern::kEdge128: return "pairs summing to +-128";
    case WeightPattern::kEdge129: return "pairs summing to +-129/-256";
    case WeightPattern::kSparse: return "sparse";
    default: return "?";
  }
}

struct GemmProblem {
  size_t m = 0, n = 0, k = 0, lda = 0;
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> w_zp;
  std::vector<float> w_scales;
  std::vector<float> bias;  // empty: none
  float a_scale = 0.02f, y_scale = 1;
  int32_t a_zp = 0, y_zp = 0, y_min = 0, y_max = 255;
  bool relu = false;
  const char* pattern = "";
  std::string Describe() const {
    return std::string("weights ") + pattern + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
           " a_zp=" + std::to_string(a_zp) + " y_zp=" + std::to_string(y_zp) + " y=[" + std::to_string(y_min) + "," +
           std::to_string(y_max) + "] bias=" + (bias.empty() ? "no" : "yes") + (relu ? " relu" : "");
  }
};

// A problem whose outputs spread over the whole quint8 range (some clamp).
inline GemmProblem MakeGemmProblem(Random& rng, size_t m, size_t n, size_t k, int variant) {
  GemmProblem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.lda = k + static_cast<size_t>(variant % 3);  // strided rows too
  p.a.resize(m * p.lda + 1);
  const int a_kind = variant % 4;
  for (uint8_t& v : p.a) v = a_kind == 0 ? 255 : static_cast<uint8_t>(rng.Int(0, 255));
  const WeightPattern pattern = static_cast<WeightPattern>(variant % static_cast<int>(WeightPattern::kCount));
  p.w.resize(n * k);
  p.pattern = WeightPatternName(pattern);
  // Pairs (w[j][2t], w[j][2t+1]) at the int16 edge of u8 x s8 pair products: 255 * 128 fits, 255 * 129 does not.
  static const int32_t kEdge128Pairs[8][2] = {{64, 64}, {127, 1}, {1, 127}, {-64, -64}, {-128, 0}, {0, -128}, {-100, -28}, {100, 28}};
  static const int32_t kEdge129Pairs[5][2] = {{127, 2}, {-128, -1}, {-128, -128}, {127, 127}, {65, 64}};
  for (size_t i = 0; i < p.w.size(); ++i) {
    int32_t v = static_cast<int32_t>(rng.Int(-128, 127));
    const size_t row = i / k, col = i % k, pair = (row * 31 + (col / 2) * 17);
    switch (pattern) {
      case WeightPattern::kRandom: break;
      case WeightPattern::kMinPairs: v = -128; break;
      case WeightPattern::kMaxPairs: v = 127; break;
      case WeightPattern::kEdge128: v = kEdge128Pairs[pair % 8][col % 2]; break;
      case WeightPattern::kEdge129: v = kEdge129Pairs[pair % 5][col % 2]; break;
      case WeightPattern::kSparse: v = rng.Int(0, 7) == 0 ? v : 0; break;
      default: break;
    }
    p.w[i] = static_cast<int8_t>(v);
  }
  const int zp_kind = (variant / 2) % 4;
  const int32_t a_zps[] = {0, 255, static_cast<int32_t>(rng.Int(1, 254)), 128};
  p.a_zp = a_zps[(variant / 3) % 4];
  p.w_zp.resize(n);
  for (size_t j = 0; j < n; ++j) {
    p.w_zp[j] = zp_kind == 0 ? 0 : zp_kind == 1 ? static_cast<int32_t>(rng.Int(-128, 127))
                              : zp_kind == 2 ? (j % 2 ? 127 : -128) : 5;
  }
  p.w_scales.resize(n);
  for (float& s : p.w_scales) s = static_cast<float>(rng.LogUniform(-3, -1));
  if (variant % 2 == 1) {
    p.bias.resize(n);
    for (float& b : p.bias) b = static_cast<float>(rng.Uniform(-3, 3));
  }
  p.a_scale = static_cast<float>(rng.LogUniform(-3, -1));
  // y_scale from the largest |acc * a_scale * w_scale|, so outputs use the range and some clamp.
  std::vector<int32_t> acc(m * n);
  ref::GemmAcc(m, n, k, p.a.data(), p.lda, p.a_zp, p.w.data(), p.w_zp.data(), acc.data());
  double largest = 1e-6;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      // A plain compare, not std::fmax: aarch64 GCC 12 crashes vectorizing an fmax reduction here.
      const double v = std::fabs(acc[i * n + j] * 1.0 * p.a_scale * p.w_scales[j]);
      if (v > largest) largest = v;
    }
  }
  p.y_scale = static_cast<float>(largest / rng.Uniform(60, 200));
  p.y_zp = static_cast<int32_t>(rng.Int(0, 255));
  p.relu = variant % 5 == 2;
  p.y_min = p.relu ? p.y_zp : (variant % 7 == 3 ? static_cast<int32_t>(rng.Int(0, 100)) : 0);
  p.y_max = variant % 7 == 4 ? static_cast<int32_t>(rng.Int(std::max(p.y_min, 150), 255)) : 255;
  return p;
}

constexpr uint8_t kGemmSentinel = 0xA5;
constexpr float kGemmF32Sentinel = -12345.5f;

// Compares an m x n quint8 result stored with stride ldy (the rest of each row, and `guard`
// bytes after the last row, must still be the sentinel). Reports the first mismatch ruy-style.
inline bool CheckGemmU8(Context& ctx, const std::string& what, const GemmProblem& p, const std::vector<uint8_t>& got,
                        size_t ldy) {
  std::vector<uint8_t> expected(p.m * p.n);
  ref::QGemmU8(p.m, p.n, p.k, p.a.data(), p.lda, p.a_scale, p.a_zp, p.w.data(), p.w_scales.data(), p.w_zp.data(),
               p.bias.empty() ? nullptr : p.bias.data(), p.y_scale, p.y_zp, p.y_min, p.y_max, expected.data(), p.n);
  for (size_t idx = 0; idx < got.size(); ++idx) {
    const size_t i = idx / ldy, j = idx % ldy;
    const bool inside = i < p.m && j < p.n;
    const uint8_t want = inside ? expected[i * p.n + j] : kGemmSentinel;
    if (got[idx] != want) {
      ctx.Fail(what + " " + p.Describe() + ": first mismatch at " +
               (inside ? "row " + std::to_string(i) + " column " + std::to_string(j)
                       : "byte " + std::to_string(idx) + " outside the output (guard or row gap)") +
               ": expected " + std::to_string(want) + ", got " + std::to_string(got[idx]));
      return false;
    }
  }
  return true;
}

inline bool SameFloat(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y || (std::isnan(a) && std::isnan(b));
}

inline bool CheckGemmF32(Context& ctx, const std::string& what, const GemmProblem& p, const std::vector<float>& got,
                         size_t ldy) {
  std::vector<float> expected(p.m * p.n);
  ref::QGemmF32(p.m, p.n, p.k, p.a.data(), p.lda, p.a_scale, p.a_zp, p.w.data(), p.w_scales.data(), p.w_zp.data(),
                p.bias.empty() ? nullptr : p.bias.data(), p.relu, expected.data(), p.n);
  for (size_t idx = 0; idx < got.size(); ++idx) {
    const size_t i = idx / ldy, j = idx % ldy;
    const bool inside = i < p.m && j < p.n;
    const float want = inside ? expected[i * p.n + j] : kGemmF32Sentinel;
    if (!SameFloat(got[idx], want)) {
      ctx.Fail(what + " fp32 " + p.Describe() + ": first mismatch at " +
               (inside ? "row " + std::to_string(i) + " column " + std::to_string(j)
                       : "element " + std::to_string(idx) + " outside the output") +
               ": expected " + DescribeFloat(want) + ", got " + DescribeFloat(got[idx]));
      return false;
    }
  }
  return true;
}

}  // namespace test
}  // namespace qk
