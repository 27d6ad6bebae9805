// qs8 max pooling microkernel, scalar: one channels-last output row, max over each pixel's window.
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qs8_maxpool_ukernel__scalar(const int8_t* const* lines, int8_t* y, const PoolRowParams* params) {
  pool_norm_scalar::MaxPoolRow(lines, y, *params);
}

}  // namespace qk
