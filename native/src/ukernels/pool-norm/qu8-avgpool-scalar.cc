// qu8 average pooling microkernel, scalar: one channels-last output row, window sums and their requantization.
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qu8_avgpool_ukernel__scalar(const uint8_t* const* lines, uint8_t* y, const AvgPoolRowParams* params) {
  pool_norm_scalar::AvgPoolRow(lines, y, *params);
}

}  // namespace qk
