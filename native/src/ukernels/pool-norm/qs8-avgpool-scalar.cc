// qs8 average pooling microkernel, scalar: one channels-last output row, window sums and their requantization.
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qs8_avgpool_ukernel__scalar(const int8_t* const* lines, int8_t* y, const AvgPoolRowParams* params) {
  pool_norm_scalar::AvgPoolRow(lines, y, *params);
}

}  // namespace qk
