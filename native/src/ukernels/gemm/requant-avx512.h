// AVX-512 form of the GEMM/conv output stage (requant-scalar.h), 16 int32 lanes at a time; include only from avx512vnni files.
//
// Lane by lane the operations of RequantizeGemmValue / ScaleGemmValue, as in requant-avx2.h:
// vpaddd bias_int, vcvtdq2ps, add, mul, maxps(t, lo) (NaN -> lo), minps(t, hi), + y_zp_f,
// vcvtps2dq (nearest even), + y_zp_i;
// the fp32 stage multiplies, adds the bias and applies ReLU as maxps(0, y).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace qk {
namespace {

inline __mmask16 Avx512FirstLanes(size_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : ((1u << n) - 1u));
}

struct Avx512Requant {
  __m512 lo, hi, y_zero_point_f;
  __m512i y_zero_point;
  Avx512Requant(float lo_value, float hi_value, float y_zp_f, int32_t y_zp)
      : lo(_mm512_set1_ps(lo_value)), hi(_mm512_set1_ps(hi_value)), y_zero_point_f(_mm512_set1_ps(y_zp_f)),
        y_zero_point(_mm512_set1_epi32(y_zp)) {}
  __m512i Apply(__m512i acc, __m512i bias_int, __m512 bias_term, __m512 multiplier) const {
    const __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(acc, bias_int));
    __m512 t = _mm512_mul_ps(_mm512_add_ps(sum, bias_term), multiplier);
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_add_ps(t, y_zero_point_f)), y_zero_point);
  }
};

// Stores the first n (0..16) of 16 values already in [0, 255] as bytes.
inline void Avx512StoreU8x16(uint8_t* y, __m512i q, size_t n) {
  _mm512_mask_cvtepi32_storeu_epi8(y, Avx512FirstLanes(n), q);
}

// y = float(acc) * scale (+ bias), ReLU as maxps(0, y); stores the first n (0..16) lanes.
inline void Avx512StoreScaledF32x16(float* y, __m512i acc, __m512 scale, const float* bias, bool relu, size_t n) {
  const __mmask16 mask = Avx512FirstLanes(n);
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  if (bias != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias));
  if (relu) v = _mm512_max_ps(_mm512_set1_ps(0.0f), v);
  _mm512_mask_storeu_ps(y, mask, v);
}

}  // namespace
}  // namespace qk
