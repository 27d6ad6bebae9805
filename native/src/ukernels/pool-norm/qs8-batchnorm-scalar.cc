// qs8 batch-norm microkernel (per-channel fused multiply-add and requantization), plain C++ (the normative formulas).
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qs8_batchnorm_ukernel__scalar(size_t channels, const int8_t* x, const float* alpha, const float* beta, int8_t* y,
                                      const BatchNormParams* params) {
  pool_norm_scalar::BatchNorm(channels, x, alpha, beta, y, *params);
}

}  // namespace qk
