// Softmax's normalize-and-quantize microkernels (quint8, qint8), scalar: the definition the SIMD kernels match.
#include "ukernels/softmax/softmax-scalar.h"

namespace qk {

void qk_f32_qu8_softmax_ukernel__scalar(size_t n, const float* e, const float* divisors, uint8_t* y,
                                        const SoftmaxParams* params) {
  SoftmaxScalarLoop(n, e, divisors, y, *params);
}

void qk_f32_qs8_softmax_ukernel__scalar(size_t n, const float* e, const float* divisors, int8_t* y,
                                        const SoftmaxParams* params) {
  SoftmaxScalarLoop(n, e, divisors, y, *params);
}

}  // namespace qk
