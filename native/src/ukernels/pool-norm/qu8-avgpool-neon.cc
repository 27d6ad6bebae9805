// qu8 average pooling microkernel, NEON: one channels-last output row, window sums and their requantization.
#include "ukernels/pool-norm/pool-norm-neon.h"

namespace qk {

void qk_qu8_avgpool_ukernel__neon(const uint8_t* const* lines, uint8_t* y, const AvgPoolRowParams* params) {
  AvgPoolRowNeon(lines, y, *params);
}

}  // namespace qk
