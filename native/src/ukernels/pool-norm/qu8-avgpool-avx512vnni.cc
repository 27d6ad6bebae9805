// qu8 average pooling microkernel, AVX-512: one channels-last output row, window sums and their requantization.
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qu8_avgpool_ukernel__avx512vnni(const uint8_t* const* lines, uint8_t* y, const AvgPoolRowParams* params) {
  AvgPoolRowAvx512(lines, y, *params);
}

}  // namespace qk
