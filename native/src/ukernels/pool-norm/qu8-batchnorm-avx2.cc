// qu8 batch-norm microkernel (per-channel fused multiply-add and requantization), AVX2.
#include "ukernels/pool-norm/pool-norm-avx2.h"

namespace qk {

void qk_qu8_batchnorm_ukernel__avx2(size_t channels, const uint8_t* x, const float* alpha, const float* beta, uint8_t* y,
                                      const BatchNormParams* params) {
  BatchNormAvx2(channels, x, alpha, beta, y, *params);
}

}  // namespace qk
