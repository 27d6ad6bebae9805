// qs8 batch-norm microkernel (per-channel fused multiply-add and requantization), AVX-512 (F/BW).
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qs8_batchnorm_ukernel__avx512vnni(size_t channels, const int8_t* x, const float* alpha, const float* beta, int8_t* y,
                                      const BatchNormParams* params) {
  BatchNormAvx512(channels, x, alpha, beta, y, *params);
}

}  // namespace qk
