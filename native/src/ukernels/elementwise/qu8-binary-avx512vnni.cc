// quint8 add / mul microkernel, AVX-512 (the formula: BinaryParams; the loop: binary-avx512.h).
#include "ukernels/elementwise/binary-avx512.h"

namespace qk {

void qk_qu8_binary_ukernel__avx512vnni(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y,
                                       const BinaryParams* params) {
  BinaryAvx512(n, a, b, y, *params);
}

}  // namespace qk
