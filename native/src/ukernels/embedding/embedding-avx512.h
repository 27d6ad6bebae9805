// The AVX-512 step of the embedding kernels: eight output elements from eight quantized values, in one 512-bit double vector.
#pragma once

#include <immintrin.h>

namespace qk {
namespace embedding {

// out[0..8) = float(double(scale) * q + double(out + bias)) for q the eight int32 lanes of q32
// (exact product, so the FMA equals PyTorch's double multiply-add).
static inline void AccumulateEightAvx512(__m256i q32, __m512d scale, __m256 bias, float* out) {
  const __m256 t = _mm256_add_ps(_mm256_loadu_ps(out), bias);
  const __m512d r = _mm512_fmadd_pd(scale, _mm512_cvtepi32_pd(q32), _mm512_cvtps_pd(t));
  _mm256_storeu_ps(out, _mm512_cvtpd_ps(r));
}

}  // namespace embedding
}  // namespace qk
