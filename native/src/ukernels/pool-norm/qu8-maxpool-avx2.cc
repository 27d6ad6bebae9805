// qu8 max pooling microkernel, AVX2: one channels-last output row, max over each pixel's window.
#include "ukernels/pool-norm/pool-norm-avx2.h"

namespace qk {

void qk_qu8_maxpool_ukernel__avx2(const uint8_t* const* lines, uint8_t* y, const PoolRowParams* params) {
  MaxPoolRowAvx2(lines, y, *params);
}

}  // namespace qk
