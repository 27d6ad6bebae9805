// qu8 max pooling microkernel, AVX-512: one channels-last output row, max over each pixel's window.
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qu8_maxpool_ukernel__avx512vnni(const uint8_t* const* lines, uint8_t* y, const PoolRowParams* params) {
  MaxPoolRowAvx512(lines, y, *params);
}

}  // namespace qk
