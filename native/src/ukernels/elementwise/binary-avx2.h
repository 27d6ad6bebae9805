// Quantized add / mul, AVX2: 8 elements per step in PyTorch's vectorized formula and in its scalar (tail) formula (BinaryParams), for both 8-bit dtypes.
//
// Bit-identical to BinaryVectorValue (elementwise-scalar.h): the same fp32
// operations in the same order, fused where PyTorch fuses (the dequantize fma),
// and the x86 NaN rules written into the scalar formula (maxps/minps return
// their second operand when either is NaN, so operand order matters here).
// BinaryTailAvx2 is bit-identical to BinaryScalarValue the same way (no fma there).
#pragma once

#include <immintrin.h>

#include <type_traits>

#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {
namespace {

template <typename T>
inline __m256i LoadEight(const T* p) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return std::is_signed<T>::value ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

// Stores the eight int32 lanes of r (each in the dtype's range) as bytes.
template <typename T>
inline void StoreEight(T* p, __m256i r) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  const __m128i bytes = std::is_signed<T>::value ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), bytes);
}

template <typename T>
void BinaryAvx2(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  const __m256 a_scale = _mm256_set1_ps(p.a_scale), a_premul = _mm256_set1_ps(p.a_premul);
  const __m256 b_scale = _mm256_set1_ps(p.b_scale), b_premul = _mm256_set1_ps(p.b_premul);
  const __m256 inv_scale = _mm256_set1_ps(p.inv_out_scale);
  const __m256 bound = _mm256_set1_ps(kInt32FloatMax);
  const __m256 zero = _mm256_setzero_ps();
  const __m256i zero_point = _mm256_set1_epi32(p.out_zero_point);
  const __m256i qmin = _mm256_set1_epi32(p.qmin), qmax = _mm256_set1_epi32(p.qmax);
  const __m256i a_zero_point = _mm256_set1_epi32(p.a_zero_point), b_zero_point = _mm256_set1_epi32(p.b_zero_point);
  const __m256 multiplier = _mm256_set1_ps(p.multiplier);
  // Locals: y may alias `p` as far as the compiler knows, so fields read in the loop would be reloaded after every store.
  const bool multiply = p.multiply, relu = p.relu;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i r;
    if (multiply) {
      const __m256i c = _mm256_mullo_epi32(_mm256_sub_epi32(LoadEight(a + i), a_zero_point),
                                           _mm256_sub_epi32(LoadEight(b + i), b_zero_point));
      r = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(c), multiplier)), zero_point);
      r = _mm256_max_epi32(_mm256_min_epi32(r, qmax), qmin);
      if (relu) r = _mm256_max_epi32(r, zero_point);
    } else {
      const __m256 da = _mm256_fmadd_ps(a_scale, _mm256_cvtepi32_ps(LoadEight(a + i)), a_premul);
      const __m256 db = _mm256_fmadd_ps(b_scale, _mm256_cvtepi32_ps(LoadEight(b + i)), b_premul);
      __m256 c = _mm256_add_ps(da, db);
      if (relu) c = _mm256_max_ps(zero, c);  // NaN c stays NaN, as in PyTorch's vec::maximum
      const __m256 t = _mm256_min_ps(_mm256_mul_ps(c, inv_scale), bound);
      r = _mm256_add_epi32(_mm256_cvtps_epi32(t), zero_point);
      r = _mm256_max_epi32(_mm256_min_epi32(r, qmax), qmin);
    }
    StoreEight(y + i, r);
  }
  BinaryVectorLoop(n - i, a + i, b + i, y + i, p);
}

// PyTorch's scalar formula (the tail kernels; elementwise.h): x, then
// |x| < 2^63 ? clamp(nearbyint(x) + zp) : qmin. x is clamped to +-2^30 before cvtps2dq
// (which rounds as nearbyint does, by MXCSR): beyond that the clamp to [qmin, qmax] decides
// either way, and the sum with the zero point stays exact in int32.
template <typename T>
void BinaryTailAvx2(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  const __m256 a_scale = _mm256_set1_ps(p.a_scale), b_scale = _mm256_set1_ps(p.b_scale);
  const __m256 inv_scale = _mm256_set1_ps(p.inv_out_scale), multiplier = _mm256_set1_ps(p.multiplier);
  const __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
  const __m256 limit = _mm256_set1_ps(0x1p63f), span = _mm256_set1_ps(0x1p30f), neg_span = _mm256_set1_ps(-0x1p30f);
  const __m256i zero_point = _mm256_set1_epi32(p.out_zero_point);
  const __m256i qmin = _mm256_set1_epi32(p.qmin), qmax = _mm256_set1_epi32(p.qmax);
  const __m256i a_zero_point = _mm256_set1_epi32(p.a_zero_point), b_zero_point = _mm256_set1_epi32(p.b_zero_point);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i qa = _mm256_sub_epi32(LoadEight(a + i), a_zero_point);
    const __m256i qb = _mm256_sub_epi32(LoadEight(b + i), b_zero_point);
    __m256 x;
    if (p.multiply) {
      x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(qa, qb)), multiplier);
    } else {
      __m256 c = _mm256_add_ps(_mm256_mul_ps(a_scale, _mm256_cvtepi32_ps(qa)), _mm256_mul_ps(b_scale, _mm256_cvtepi32_ps(qb)));
      if (p.relu) c = _mm256_max_ps(zero, c);  // c < 0 ? 0 : c (NaN and -0 stay)
      x = _mm256_mul_ps(c, inv_scale);
    }
    const __m256 in_range = _mm256_cmp_ps(_mm256_andnot_ps(sign, x), limit, _CMP_LT_OQ);  // false for NaN
    const __m256 clipped = _mm256_blendv_ps(neg_span, _mm256_min_ps(_mm256_max_ps(x, neg_span), span), in_range);
    __m256i r = _mm256_add_epi32(_mm256_cvtps_epi32(clipped), zero_point);  // out of range: -2^30, so qmin below
    r = _mm256_max_epi32(_mm256_min_epi32(r, qmax), qmin);
    if (p.multiply && p.relu) r = _mm256_max_epi32(r, zero_point);
    StoreEight(y + i, r);
  }
  BinaryScalarLoop(n - i, a + i, b + i, y + i, p);
}

}  // namespace
}  // namespace qk
