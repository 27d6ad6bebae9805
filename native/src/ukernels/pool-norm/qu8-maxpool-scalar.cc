// qu8 max pooling microkernel, plain C++ (the normative formulas): max over the window's rows, channel by channel.
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qu8_maxpool_ukernel__scalar(size_t rows, size_t channels, const uint8_t* const* input, uint8_t* y) {
  pool_norm_scalar::MaxPool(rows, channels, input, y);
}

}  // namespace qk
