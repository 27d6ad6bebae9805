// Softmax's normalize-and-quantize microkernels (quint8, qint8), scalar: the definition the SIMD kernels match.
#include "ukernels/quantize/quantize-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

template <typename T>
void SoftmaxLoop(size_t n, const float* e, const float* divisors, T* y, const SoftmaxParams& p) {
  const QuantizeParams& q = *p.quantize;
  const QuantizeBounds bounds = MakeQuantizeBounds(q);
  for (size_t i = 0; i < n; ++i) {
    const float v = divisors != nullptr ? e[i] / divisors[i] : e[i] * p.reciprocal;
    y[i] = static_cast<T>(QuantizeValue(v, q.inv_scale, q.zero_point, bounds));
  }
}

}  // namespace

void qk_f32_qu8_softmax_ukernel__scalar(size_t n, const float* e, const float* divisors, uint8_t* y,
                                        const SoftmaxParams* params) {
  SoftmaxLoop(n, e, divisors, y, *params);
}

void qk_f32_qs8_softmax_ukernel__scalar(size_t n, const float* e, const float* divisors, int8_t* y,
                                        const SoftmaxParams* params) {
  SoftmaxLoop(n, e, divisors, y, *params);
}

}  // namespace qk
