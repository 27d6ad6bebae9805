// quint8 add / mul tail microkernel, AVX-512: PyTorch's scalar formula (the formula: elementwise.h; the loop: binary-avx512.h).
#include "ukernels/elementwise/binary-avx512.h"

namespace qk {

void qk_qu8_binary_tail_ukernel__avx512vnni(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y,
                                            const BinaryParams* params) {
  BinaryTailAvx512(n, a, b, y, *params);
}

}  // namespace qk
