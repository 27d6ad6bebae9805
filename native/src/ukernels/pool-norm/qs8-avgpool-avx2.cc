// qs8 average pooling microkernel, AVX2: one channels-last output row, window sums and their requantization.
#include "ukernels/pool-norm/pool-norm-avx2.h"

namespace qk {

void qk_qs8_avgpool_ukernel__avx2(const int8_t* const* lines, int8_t* y, const AvgPoolRowParams* params) {
  AvgPoolRowAvx2(lines, y, *params);
}

}  // namespace qk
