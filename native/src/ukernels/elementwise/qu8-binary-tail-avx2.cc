// quint8 add / mul tail microkernel, AVX2: PyTorch's scalar formula (the formula: elementwise.h; the loop: binary-avx2.h).
#include "ukernels/elementwise/binary-avx2.h"

namespace qk {

void qk_qu8_binary_tail_ukernel__avx2(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y,
                                      const BinaryParams* params) {
  BinaryTailAvx2(n, a, b, y, *params);
}

}  // namespace qk
