// qu8 window-sum microkernel (average pooling's int32 sums), NEON.
#include "ukernels/pool-norm/pool-norm-neon.h"

namespace qk {

void qk_qu8_sumpool_ukernel__neon(size_t rows, size_t channels, const uint8_t* const* input, int32_t init, int32_t* acc) {
  SumPoolNeon(rows, channels, input, init, acc);
}

}  // namespace qk
