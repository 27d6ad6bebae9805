// The AVX2 step of the embedding kernels: eight output elements from eight quantized values, as PyTorch's double multiply-add rounds them.
//
// PyTorch computes out = float(double(s) * q + double(t)) with t = out + b. The product
// s * q (24-bit significand times an integer < 256) is exact, so the double result is the
// exact sum S = s*q + t rounded to double, then to float. Whenever S itself fits in a
// double (53 bits), that is S rounded once to float: exactly what an fp32 FMA computes.
// S fits when the exponents of s and t are close: with E(x) the biased exponent field
// (at least 1), msb(s*q) <= E(s) - 119 and lsb >= E(s) - 150, msb(t) <= E(t) - 127 and
// lsb >= E(t) - 150, so the span of S is at most 53 bits when
//   E(s) - 20 <= E(t) <= E(s) + 28.
// A zero t (the first row of a bag whose bias is 0) always fits: S = s*q. Each step checks
// this for its eight t (and that none is inf/NaN, nor s) and takes the fp32 FMA; otherwise
// it computes the double multiply-add, as the scalar kernel always does. (A subnormal t
// counts as exponent 0 here, not 1: rejected a little more often, never wrongly accepted.)
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace qk {
namespace embedding {

// A row's constants: s as float and double, b, and the exponent window of the fast path.
struct RowConstantsAvx2 {
  __m256 scale;
  __m256d scale_double;
  __m256 bias;
  __m256i exponent_low;   // E(s) - 21: lanes must be above
  __m256i exponent_high;  // min(E(s) + 28, 254) + 1: lanes must be below
  __m256i zero_magnitude;  // 0, or an impossible magnitude when s is inf/NaN (then no lane is safe)
};

static inline RowConstantsAvx2 MakeRowConstantsAvx2(float scale, float bias) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF);
  if (e == 0) e = 1;
  RowConstantsAvx2 c;
  c.scale = _mm256_set1_ps(scale);
  c.scale_double = _mm256_set1_pd(scale);
  c.bias = _mm256_set1_ps(bias);
  // s inf or NaN: an empty window, so every step takes the double path.
  c.exponent_low = _mm256_set1_epi32(e == 255 ? 1000 : e - 21);
  c.exponent_high = _mm256_set1_epi32((e + 28 < 254 ? e + 28 : 254) + 1);
  c.zero_magnitude = _mm256_set1_epi32(e == 255 ? -1 : 0);
  return c;
}

// out[0..8) = float(double(s) * q + double(out + b)) for q the eight int32 lanes of q32.
static inline void AccumulateEightAvx2(__m256i q32, const RowConstantsAvx2& c, float* out) {
  const __m256 t = _mm256_add_ps(_mm256_loadu_ps(out), c.bias);
  const __m256i magnitude = _mm256_and_si256(_mm256_castps_si256(t), _mm256_set1_epi32(0x7FFFFFFF));
  const __m256i e = _mm256_srli_epi32(magnitude, 23);
  const __m256i in_window = _mm256_and_si256(_mm256_cmpgt_epi32(e, c.exponent_low), _mm256_cmpgt_epi32(c.exponent_high, e));
  const __m256i inside = _mm256_or_si256(in_window, _mm256_cmpeq_epi32(magnitude, c.zero_magnitude));
  if (_mm256_movemask_ps(_mm256_castsi256_ps(inside)) == 0xFF) {
    _mm256_storeu_ps(out, _mm256_fmadd_ps(c.scale, _mm256_cvtepi32_ps(q32), t));
    return;
  }
  const __m256d lo = _mm256_fmadd_pd(c.scale_double, _mm256_cvtepi32_pd(_mm256_castsi256_si128(q32)),
                                     _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
  const __m256d hi = _mm256_fmadd_pd(c.scale_double, _mm256_cvtepi32_pd(_mm256_extracti128_si256(q32, 1)),
                                     _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
  _mm256_storeu_ps(out, _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1));
}

}  // namespace embedding
}  // namespace qk
