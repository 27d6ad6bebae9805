// qs8 window-sum microkernel (average pooling's int32 sums), AVX-512 (F/BW).
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qs8_sumpool_ukernel__avx512vnni(size_t rows, size_t channels, const int8_t* const* input, int32_t init, int32_t* acc) {
  SumPoolAvx512(rows, channels, input, init, acc);
}

}  // namespace qk
