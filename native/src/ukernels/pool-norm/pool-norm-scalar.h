// Pooling and batch-norm kernel bodies in plain C++: the scalar kernels, and the tails of the SIMD kernels.
//
// Header-only and internal to the pool-norm kernel files; the per-value formulas here are
// the normative ones (pool-norm.h states them), and every SIMD kernel must agree bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "ukernels/ukernels.h"

namespace qk {
namespace pool_norm_scalar {

template <typename T>
inline void MaxPool(size_t rows, size_t channels, const T* const* input, T* y, size_t begin = 0) {
  for (size_t c = begin; c < channels; ++c) {
    T m = input[0][c];
    for (size_t r = 1; r < rows; ++r) m = input[r][c] > m ? input[r][c] : m;
    y[c] = m;
  }
}

template <typename T>
inline void SumPool(size_t rows, size_t channels, const T* const* input, int32_t init, int32_t* acc, size_t begin = 0) {
  for (size_t c = begin; c < channels; ++c) {
    int32_t sum = init;
    for (size_t r = 0; r < rows; ++r) sum += input[r][c];
    acc[c] = sum;
  }
}

// |t| beyond 2^30 saturates whatever the zero point; NaN counts as -2^30 (x86 MAXPS with the
// bound as second operand gives exactly that, and the NEON kernel selects it explicitly).
constexpr float kBatchNormBound = 1073741824.0f;

inline int32_t BatchNormValue(int32_t x, float alpha, float beta, const BatchNormParams& p) {
  float t = std::fma(alpha, static_cast<float>(x - p.x_zero_point), beta);
  t = t >= -kBatchNormBound ? t : -kBatchNormBound;
  t = t <= kBatchNormBound ? t : kBatchNormBound;
  int32_t q = static_cast<int32_t>(std::nearbyint(t)) + p.y_zero_point;
  q = q < p.qmin ? p.qmin : q;
  return q > p.qmax ? p.qmax : q;
}

template <typename T>
inline void BatchNorm(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p,
                      size_t begin = 0) {
  for (size_t c = begin; c < channels; ++c) y[c] = static_cast<T>(BatchNormValue(x[c], alpha[c], beta[c], p));
}

}  // namespace pool_norm_scalar
}  // namespace qk
