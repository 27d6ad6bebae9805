// qu8 batch-norm microkernel (per-channel fused multiply-add and requantization), NEON.
#include "ukernels/pool-norm/pool-norm-neon.h"

namespace qk {

void qk_qu8_batchnorm_ukernel__neon(size_t channels, const uint8_t* x, const float* alpha, const float* beta, uint8_t* y,
                                      const BatchNormParams* params) {
  BatchNormNeon(channels, x, alpha, beta, y, *params);
}

}  // namespace qk
