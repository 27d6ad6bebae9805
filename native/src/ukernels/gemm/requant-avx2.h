// AVX2 form of the GEMM/conv output stage (requant-scalar.h), 8 int32 lanes at a time; include only from -mavx2 files.
//
// Lane by lane the same operations as RequantizeGemmValue:
//   t = (cvtdq2ps(acc + bias_int) + bias_term) * multiplier   paddd wraps; cvtdq2ps rounds like the cast
//   t = maxps(t, lo)                                  maxps returns its second operand for NaN: lo
//   t = minps(t, hi)
//   q = cvtps2dq(t + y_zp_f) + y_zp_i                 round half to even (MXCSR default), t is small
// and ScaleGemmValue: y = cvtdq2ps(acc) * scale (+ bias); relu = maxps(0, y) = (0 > y) ? 0 : y.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qk {
namespace {

struct Avx2Requant {
  __m256 lo, hi, y_zero_point_f;
  __m256i y_zero_point;
  Avx2Requant(float lo_value, float hi_value, float y_zp_f, int32_t y_zp)
      : lo(_mm256_set1_ps(lo_value)), hi(_mm256_set1_ps(hi_value)), y_zero_point_f(_mm256_set1_ps(y_zp_f)),
        y_zero_point(_mm256_set1_epi32(y_zp)) {}
  // q (int32 lanes, already in [y_min, y_max]) of 8 accumulators.
  __m256i Apply(__m256i acc, __m256i bias_int, __m256 bias_term, __m256 multiplier) const {
    const __m256 sum = _mm256_cvtepi32_ps(_mm256_add_epi32(acc, bias_int));
    __m256 t = _mm256_mul_ps(_mm256_add_ps(sum, bias_term), multiplier);
    t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_add_ps(t, y_zero_point_f)), y_zero_point);
  }
};

// Stores n (1..16) bytes of the 16 values q0 (elements 0-7) and q1 (8-15), each in [0, 255].
inline void Avx2StoreU8x16(uint8_t* y, __m256i q0, __m256i q1, size_t n) {
  // packs work per 128-bit lane: words [q0 0-3, q1 0-3, q0 4-7, q1 4-7]; bytes likewise in each
  // lane's low half, so one permute gathers dwords 0, 2 (lane 0) and 4, 6 (lane 1).
  const __m256i words = _mm256_packs_epi32(q0, q1);
  const __m256i bytes = _mm256_packus_epi16(words, words);
  const __m128i ordered =
      _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0)));
  if (n == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), ordered);
  } else {
    alignas(16) uint8_t buffer[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(buffer), ordered);
    std::memcpy(y, buffer, n);
  }
}

// Lane mask selecting the first n (0..8) of 8 lanes.
inline __m256i Avx2GemmFirstLanes(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// y = float(acc) * scale (+ bias), ReLU as maxps(0, y); stores the first n (0..8) lanes.
inline void Avx2StoreScaledF32x8(float* y, __m256i acc, __m256 scale, const float* bias, bool relu, size_t n) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
  const __m256i mask = Avx2GemmFirstLanes(n);
  if (bias != nullptr) v = _mm256_add_ps(v, _mm256_maskload_ps(bias, mask));
  if (relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  if (n == 8) {
    _mm256_storeu_ps(y, v);
  } else {
    _mm256_maskstore_ps(y, mask, v);
  }
}

}  // namespace
}  // namespace qk
