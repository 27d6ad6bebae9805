// The AVX2 step of the embedding kernels: eight output elements from eight quantized values, in double precision as PyTorch.
#pragma once

#include <immintrin.h>

namespace qk {
namespace embedding {

// out[0..8) = float(double(scale) * q + double(out + bias)) for q the eight int32 lanes of q32.
// The product of a float and an integer < 256 is exact in double, so the FMA equals
// PyTorch's double multiply-add.
static inline void AccumulateEightAvx2(__m256i q32, __m256d scale, __m256 bias, float* out) {
  const __m256 t = _mm256_add_ps(_mm256_loadu_ps(out), bias);
  const __m256d lo = _mm256_fmadd_pd(scale, _mm256_cvtepi32_pd(_mm256_castsi256_si128(q32)),
                                     _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
  const __m256d hi = _mm256_fmadd_pd(scale, _mm256_cvtepi32_pd(_mm256_extracti128_si256(q32, 1)),
                                     _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
  _mm256_storeu_ps(out, _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1));
}

}  // namespace embedding
}  // namespace qk
