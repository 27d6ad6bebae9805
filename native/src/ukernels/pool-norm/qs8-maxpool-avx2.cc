// qs8 max pooling microkernel, AVX2: max over the window's rows, channel by channel.
#include "ukernels/pool-norm/pool-norm-avx2.h"

namespace qk {

void qk_qs8_maxpool_ukernel__avx2(size_t rows, size_t channels, const int8_t* const* input, int8_t* y) {
  MaxPoolAvx2(rows, channels, input, y);
}

}  // namespace qk
