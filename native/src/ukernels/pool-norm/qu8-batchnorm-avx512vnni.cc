// qu8 batch-norm microkernel (per-channel fused multiply-add and requantization), AVX-512 (F/BW).
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qu8_batchnorm_ukernel__avx512vnni(size_t channels, const uint8_t* x, const float* alpha, const float* beta, uint8_t* y,
                                      const BatchNormParams* params) {
  BatchNormAvx512(channels, x, alpha, beta, y, *params);
}

}  // namespace qk
