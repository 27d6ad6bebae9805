// qs8 max pooling microkernel, AVX-512 (F/BW): max over the window's rows, channel by channel.
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qs8_maxpool_ukernel__avx512vnni(size_t rows, size_t channels, const int8_t* const* input, int8_t* y) {
  MaxPoolAvx512(rows, channels, input, y);
}

}  // namespace qk
