// qs8 average pooling microkernel, AVX-512: one channels-last output row, window sums and their requantization.
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qs8_avgpool_ukernel__avx512vnni(const int8_t* const* lines, int8_t* y, const AvgPoolRowParams* params) {
  AvgPoolRowAvx512(lines, y, *params);
}

}  // namespace qk
