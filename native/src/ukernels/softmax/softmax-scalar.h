// Softmax's normalize-and-quantize formula, value by value: the scalar kernels and the SIMD kernels' tails share it.
#pragma once

#include <cstddef>

#include "ukernels/quantize/quantize-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

template <typename T>
inline void SoftmaxScalarLoop(size_t n, const float* e, const float* divisors, T* y, const SoftmaxParams& p) {
  const QuantizeParams& q = *p.quantize;
  const QuantizeBounds bounds = MakeQuantizeBounds(q);
  for (size_t i = 0; i < n; ++i) {
    const float v = divisors != nullptr ? e[i] / divisors[i] : e[i] * p.reciprocal;
    y[i] = static_cast<T>(QuantizeValue(v, q.inv_scale, q.zero_point, bounds));
  }
}

}  // namespace
}  // namespace qk
