// Quantized add / mul, AVX-512: 16 elements per step in PyTorch's vectorized formula and in its scalar (tail) formula (BinaryParams), for both 8-bit dtypes.
//
// The same operations in the same order as the AVX2 loops (binary-avx2.h), which is
// what makes them bit-identical to BinaryVectorValue and BinaryScalarValue.
#pragma once

#include <immintrin.h>

// GCC 12 reports its own AVX-512 intrinsics' _mm512_undefined_*() merge sources as
// maybe-uninitialized once inlined (GCC bug 105593); the warning is about the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <type_traits>

#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {
namespace {

template <typename T>
inline __m512i LoadSixteen(const T* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return std::is_signed<T>::value ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}

// Four vectors of 16 int32 values, each already within the 8-bit type's range, as 64 bytes in
// order: two saturating packs (exact here) interleave them per 128-bit lane, a dword permutation
// puts them back. Cheaper than four VPMOVDBs on Zen 4.
template <typename T>
inline __m512i NarrowSixtyFour(__m512i r0, __m512i r1, __m512i r2, __m512i r3) {
  const __m512i w01 = _mm512_packs_epi32(r0, r1), w23 = _mm512_packs_epi32(r2, r3);
  const __m512i bytes = std::is_signed<T>::value ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
  // Dword 4l + k of `bytes` holds values 4l..4l+3 of r_k.
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), bytes);
}

template <typename T>
void BinaryAvx512(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  const __m512 a_scale = _mm512_set1_ps(p.a_scale), a_premul = _mm512_set1_ps(p.a_premul);
  const __m512 b_scale = _mm512_set1_ps(p.b_scale), b_premul = _mm512_set1_ps(p.b_premul);
  const __m512 inv_scale = _mm512_set1_ps(p.inv_out_scale);
  const __m512 bound = _mm512_set1_ps(kInt32FloatMax);
  const __m512 zero = _mm512_set1_ps(0.0f);
  const __m512i zero_point = _mm512_set1_epi32(p.out_zero_point);
  const __m512i qmin = _mm512_set1_epi32(p.qmin), qmax = _mm512_set1_epi32(p.qmax);
  const __m512i a_zero_point = _mm512_set1_epi32(p.a_zero_point), b_zero_point = _mm512_set1_epi32(p.b_zero_point);
  const __m512 multiplier = _mm512_set1_ps(p.multiplier);
  // Locals: y may alias `p` as far as the compiler knows, so fields read in the loop would be reloaded after every store.
  const bool multiply = p.multiply, relu = p.relu;
  // 16 results as int32 in [qmin, qmax].
  auto sixteen = [&](size_t i) {
    __m512i r;
    if (multiply) {
      const __m512i c = _mm512_mullo_epi32(_mm512_sub_epi32(LoadSixteen(a + i), a_zero_point),
                                           _mm512_sub_epi32(LoadSixteen(b + i), b_zero_point));
      r = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c), multiplier)), zero_point);
      r = _mm512_max_epi32(_mm512_min_epi32(r, qmax), qmin);
      if (relu) r = _mm512_max_epi32(r, zero_point);
    } else {
      const __m512 da = _mm512_fmadd_ps(a_scale, _mm512_cvtepi32_ps(LoadSixteen(a + i)), a_premul);
      const __m512 db = _mm512_fmadd_ps(b_scale, _mm512_cvtepi32_ps(LoadSixteen(b + i)), b_premul);
      __m512 c = _mm512_add_ps(da, db);
      if (relu) c = _mm512_max_ps(zero, c);  // NaN c stays NaN (second operand)
      const __m512 t = _mm512_min_ps(_mm512_mul_ps(c, inv_scale), bound);
      r = _mm512_add_epi32(_mm512_cvtps_epi32(t), zero_point);
      r = _mm512_max_epi32(_mm512_min_epi32(r, qmax), qmin);
    }
    return r;
  };
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i r0 = sixteen(i), r1 = sixteen(i + 16), r2 = sixteen(i + 32), r3 = sixteen(i + 48);
    _mm512_storeu_si512(y + i, NarrowSixtyFour<T>(r0, r1, r2, r3));
  }
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtepi32_epi8(sixteen(i)));
  BinaryVectorLoop(n - i, a + i, b + i, y + i, p);
}

// PyTorch's scalar formula, as BinaryTailAvx2 (binary-avx2.h): the lanes out of range
// (|x| >= 2^63 or NaN) are replaced by -2^30 with a masked max, so they clamp to qmin.
template <typename T>
void BinaryTailAvx512(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  const __m512 a_scale = _mm512_set1_ps(p.a_scale), b_scale = _mm512_set1_ps(p.b_scale);
  const __m512 inv_scale = _mm512_set1_ps(p.inv_out_scale), multiplier = _mm512_set1_ps(p.multiplier);
  const __m512 zero = _mm512_set1_ps(0.0f);
  const __m512 limit = _mm512_set1_ps(0x1p63f), span = _mm512_set1_ps(0x1p30f), neg_span = _mm512_set1_ps(-0x1p30f);
  const __m512i zero_point = _mm512_set1_epi32(p.out_zero_point);
  const __m512i qmin = _mm512_set1_epi32(p.qmin), qmax = _mm512_set1_epi32(p.qmax);
  const __m512i a_zero_point = _mm512_set1_epi32(p.a_zero_point), b_zero_point = _mm512_set1_epi32(p.b_zero_point);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i qa = _mm512_sub_epi32(LoadSixteen(a + i), a_zero_point);
    const __m512i qb = _mm512_sub_epi32(LoadSixteen(b + i), b_zero_point);
    __m512 x;
    if (p.multiply) {
      x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(qa, qb)), multiplier);
    } else {
      __m512 c = _mm512_add_ps(_mm512_mul_ps(a_scale, _mm512_cvtepi32_ps(qa)), _mm512_mul_ps(b_scale, _mm512_cvtepi32_ps(qb)));
      if (p.relu) c = _mm512_max_ps(zero, c);  // c < 0 ? 0 : c (NaN and -0 stay)
      x = _mm512_mul_ps(c, inv_scale);
    }
    const __mmask16 in_range = _mm512_cmp_ps_mask(_mm512_abs_ps(x), limit, _CMP_LT_OQ);  // false for NaN
    const __m512 clipped = _mm512_mask_max_ps(neg_span, in_range, _mm512_min_ps(x, span), neg_span);
    __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(clipped), zero_point);
    r = _mm512_max_epi32(_mm512_min_epi32(r, qmax), qmin);
    if (p.multiply && p.relu) r = _mm512_max_epi32(r, zero_point);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtepi32_epi8(r));
  }
  BinaryScalarLoop(n - i, a + i, b + i, y + i, p);
}

}  // namespace
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
