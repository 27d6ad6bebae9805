// qu8 max pooling microkernel, NEON: max over the window's rows, channel by channel.
#include "ukernels/pool-norm/pool-norm-neon.h"

namespace qk {

void qk_qu8_maxpool_ukernel__neon(size_t rows, size_t channels, const uint8_t* const* input, uint8_t* y) {
  MaxPoolNeon(rows, channels, input, y);
}

}  // namespace qk
