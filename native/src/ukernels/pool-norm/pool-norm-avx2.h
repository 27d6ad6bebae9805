// Pooling and batch-norm kernel bodies with AVX2 intrinsics (compiled only into the avx2 kernel files).
//
// Max pooling is vpmaxub / vpmaxsb over 32 channels; sums widen 16 channels to int32
// per row; batch norm runs 8 channels through vfmadd231ps and vcvtps2dq (round half to
// even under the default MXCSR). Leftover channels go through the scalar bodies, so every
// value has the scalar formula.
#pragma once

#include <immintrin.h>

#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {
namespace {

inline __m256i Max8x32(__m256i a, __m256i b, uint8_t) { return _mm256_max_epu8(a, b); }
inline __m256i Max8x32(__m256i a, __m256i b, int8_t) { return _mm256_max_epi8(a, b); }
inline __m256i Widen8(__m128i v, uint8_t) { return _mm256_cvtepu8_epi32(v); }
inline __m256i Widen8(__m128i v, int8_t) { return _mm256_cvtepi8_epi32(v); }
inline __m128i Narrow16(__m128i v, uint8_t) { return _mm_packus_epi16(v, v); }
inline __m128i Narrow16(__m128i v, int8_t) { return _mm_packs_epi16(v, v); }

template <typename T>
void MaxPoolAvx2(size_t rows, size_t channels, const T* const* input, T* y) {
  size_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input[0] + c));
    for (size_t r = 1; r < rows; ++r) {
      m = Max8x32(m, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input[r] + c)), T());
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + c), m);
  }
  pool_norm_scalar::MaxPool(rows, channels, input, y, c);
}

template <typename T>
void SumPoolAvx2(size_t rows, size_t channels, const T* const* input, int32_t init, int32_t* acc) {
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    __m256i lo = _mm256_set1_epi32(init);
    __m256i hi = lo;
    for (size_t r = 0; r < rows; ++r) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(input[r] + c));
      lo = _mm256_add_epi32(lo, Widen8(v, T()));
      hi = _mm256_add_epi32(hi, Widen8(_mm_srli_si128(v, 8), T()));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + c), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + c + 8), hi);
  }
  pool_norm_scalar::SumPool(rows, channels, input, init, acc, c);
}

template <typename T>
void BatchNormAvx2(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p) {
  const __m256i x_zero_point = _mm256_set1_epi32(p.x_zero_point);
  const __m256i y_zero_point = _mm256_set1_epi32(p.y_zero_point);
  const __m256i qmin = _mm256_set1_epi32(p.qmin);
  const __m256i qmax = _mm256_set1_epi32(p.qmax);
  const __m256 low = _mm256_set1_ps(-pool_norm_scalar::kBatchNormBound);
  const __m256 high = _mm256_set1_ps(pool_norm_scalar::kBatchNormBound);
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + c));
    const __m256 centered = _mm256_cvtepi32_ps(_mm256_sub_epi32(Widen8(raw, T()), x_zero_point));
    __m256 t = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + c), centered, _mm256_loadu_ps(beta + c));
    t = _mm256_min_ps(_mm256_max_ps(t, low), high);  // MAXPS returns the bound for NaN
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(t), y_zero_point);
    q = _mm256_min_epi32(_mm256_max_epi32(q, qmin), qmax);
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), Narrow16(q16, T()));
  }
  pool_norm_scalar::BatchNorm(channels, x, alpha, beta, y, p, c);
}

}  // namespace
}  // namespace qk
