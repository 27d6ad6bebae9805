// qint8 add / mul tail microkernel, NEON: PyTorch's scalar formula (the formula: elementwise.h; the loop: binary-neon.h).
#include "ukernels/elementwise/binary-neon.h"

namespace qk {

void qk_qs8_binary_tail_ukernel__neon(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                                      const BinaryParams* params) {
  BinaryNeon<true>(n, a, b, y, *params);
}

}  // namespace qk
