// qu8 max pooling microkernel, NEON: one channels-last output row, max over each pixel's window.
#include "ukernels/pool-norm/pool-norm-neon.h"

namespace qk {

void qk_qu8_maxpool_ukernel__neon(const uint8_t* const* lines, uint8_t* y, const PoolRowParams* params) {
  MaxPoolRowNeon(lines, y, *params);
}

}  // namespace qk
