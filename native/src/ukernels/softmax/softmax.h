// Softmax microkernels: function types and parameters (declarations come from registry.inc via ukernels.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

struct QuantizeParams;  // ukernels.h

// Softmax's last step (ops/softmax.cc has the rest): each exponential divided by its sum, or
// multiplied by the sum's reciprocal, then quantized:
//   v    = divisors != nullptr ? e[i] / divisors[i] : e[i] * reciprocal    one fp32 rounding
//   y[i] = clamp(zero_point + nearbyint(v * inv_scale), qmin, qmax)       quantize-scalar.h
// Both are exact fp32 operations, so every ISA gives the same bytes.
struct SoftmaxParams {
  float reciprocal;           // used when divisors is null
  const QuantizeParams* quantize;
};

using SoftmaxU8Fn = void(size_t n, const float* e, const float* divisors, uint8_t* y, const SoftmaxParams* params);
using SoftmaxS8Fn = void(size_t n, const float* e, const float* divisors, int8_t* y, const SoftmaxParams* params);

}  // namespace qk
