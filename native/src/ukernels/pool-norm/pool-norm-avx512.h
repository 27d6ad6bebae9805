// Pooling and batch-norm kernel bodies with AVX-512 (F/BW) intrinsics (compiled only into the avx512vnni kernel files).
//
// The same steps as pool-norm-avx2.h at twice the width: vpmaxub / vpmaxsb over 64
// channels, 16-channel int32 sums, 16-channel batch norm ending in vpmovdb (the values
// are already clamped to the output type, so truncation is exact). Tails run the scalar bodies.
#pragma once

#include <immintrin.h>

#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {
namespace {

inline __m512i Max8x64(__m512i a, __m512i b, uint8_t) { return _mm512_max_epu8(a, b); }
inline __m512i Max8x64(__m512i a, __m512i b, int8_t) { return _mm512_max_epi8(a, b); }
inline __m512i Widen16(__m128i v, uint8_t) { return _mm512_cvtepu8_epi32(v); }
inline __m512i Widen16(__m128i v, int8_t) { return _mm512_cvtepi8_epi32(v); }

template <typename T>
void MaxPoolAvx512(size_t rows, size_t channels, const T* const* input, T* y) {
  size_t c = 0;
  for (; c + 64 <= channels; c += 64) {
    __m512i m = _mm512_loadu_si512(input[0] + c);
    for (size_t r = 1; r < rows; ++r) m = Max8x64(m, _mm512_loadu_si512(input[r] + c), T());
    _mm512_storeu_si512(y + c, m);
  }
  pool_norm_scalar::MaxPool(rows, channels, input, y, c);
}

template <typename T>
void SumPoolAvx512(size_t rows, size_t channels, const T* const* input, int32_t init, int32_t* acc) {
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    __m512i sum = _mm512_set1_epi32(init);
    for (size_t r = 0; r < rows; ++r) {
      sum = _mm512_add_epi32(sum, Widen16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(input[r] + c)), T()));
    }
    _mm512_storeu_si512(acc + c, sum);
  }
  pool_norm_scalar::SumPool(rows, channels, input, init, acc, c);
}

template <typename T>
void BatchNormAvx512(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p) {
  const __m512i x_zero_point = _mm512_set1_epi32(p.x_zero_point);
  const __m512i y_zero_point = _mm512_set1_epi32(p.y_zero_point);
  const __m512i qmin = _mm512_set1_epi32(p.qmin);
  const __m512i qmax = _mm512_set1_epi32(p.qmax);
  const __m512 low = _mm512_set1_ps(-pool_norm_scalar::kBatchNormBound);
  const __m512 high = _mm512_set1_ps(pool_norm_scalar::kBatchNormBound);
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    const __m512i raw = Widen16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c)), T());
    const __m512 centered = _mm512_cvtepi32_ps(_mm512_sub_epi32(raw, x_zero_point));
    __m512 t = _mm512_fmadd_ps(_mm512_loadu_ps(alpha + c), centered, _mm512_loadu_ps(beta + c));
    t = _mm512_min_ps(_mm512_max_ps(t, low), high);  // MAXPS returns the bound for NaN
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(t), y_zero_point);
    q = _mm512_min_epi32(_mm512_max_epi32(q, qmin), qmax);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + c), _mm512_cvtepi32_epi8(q));
  }
  pool_norm_scalar::BatchNorm(channels, x, alpha, beta, y, p, c);
}

}  // namespace
}  // namespace qk
