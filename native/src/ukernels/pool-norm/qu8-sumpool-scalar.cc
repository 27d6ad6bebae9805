// qu8 window-sum microkernel (average pooling's int32 sums), plain C++ (the normative formulas).
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qu8_sumpool_ukernel__scalar(size_t rows, size_t channels, const uint8_t* const* input, int32_t init, int32_t* acc) {
  pool_norm_scalar::SumPool(rows, channels, input, init, acc);
}

}  // namespace qk
