// qu8 window-sum microkernel (average pooling's int32 sums), AVX2.
#include "ukernels/pool-norm/pool-norm-avx2.h"

namespace qk {

void qk_qu8_sumpool_ukernel__avx2(size_t rows, size_t channels, const uint8_t* const* input, int32_t init, int32_t* acc) {
  SumPoolAvx2(rows, channels, input, init, acc);
}

}  // namespace qk
