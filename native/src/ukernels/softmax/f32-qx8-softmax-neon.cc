// Softmax's normalize-and-quantize microkernels (quint8, qint8), NEON: 8 lanes of fmul/fdiv then the shared quantizer; bit-identical to scalar.
#include "ukernels/quantize/quantize-neon.h"
#include "ukernels/softmax/softmax-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

template <typename T>
void SoftmaxNeon(size_t n, const float* e, const float* divisors, T* y, const SoftmaxParams& p) {
  const NeonQuantizer quantizer(*p.quantize);
  const float32x4_t reciprocal = vdupq_n_f32(p.reciprocal);
  // AArch64's fdiv and fmul are IEEE single operations: each lane is the scalar formula's value.
  auto four = [&](size_t i) {
    const float32x4_t x = vld1q_f32(e + i);
    return divisors != nullptr ? vdivq_f32(x, vld1q_f32(divisors + i)) : vmulq_f32(x, reciprocal);
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float v[8];  // the quantizer reads its 8 values from memory (quantize-neon.h)
    vst1q_f32(v, four(i));
    vst1q_f32(v + 4, four(i + 4));
    NeonBytes<T>::Store8(y + i, quantizer.Quantize8(v));
  }
  // The tail with the scalar formula, which the lanes above match exactly.
  SoftmaxScalarLoop(n - i, e + i, divisors != nullptr ? divisors + i : nullptr, y + i, p);
}

}  // namespace

void qk_f32_qu8_softmax_ukernel__neon(size_t n, const float* e, const float* divisors, uint8_t* y,
                                      const SoftmaxParams* params) {
  SoftmaxNeon(n, e, divisors, y, *params);
}

void qk_f32_qs8_softmax_ukernel__neon(size_t n, const float* e, const float* divisors, int8_t* y,
                                      const SoftmaxParams* params) {
  SoftmaxNeon(n, e, divisors, y, *params);
}

}  // namespace qk
