// x8 table lookup microkernel, scalar: the reference loop every SIMD lookup kernel must equal.
#include "ukernels/ukernels.h"

namespace qk {

void qk_x8_lut_ukernel__scalar(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

}  // namespace qk
