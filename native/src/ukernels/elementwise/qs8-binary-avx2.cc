// qint8 add / mul microkernel, AVX2 (the formula: BinaryParams; the loop: binary-avx2.h).
#include "ukernels/elementwise/binary-avx2.h"

namespace qk {

void qk_qs8_binary_ukernel__avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* y, const BinaryParams* params) {
  BinaryAvx2(n, a, b, y, *params);
}

}  // namespace qk
