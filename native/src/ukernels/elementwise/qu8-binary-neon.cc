// quint8 add / mul microkernel, NEON (the formula: BinaryParams; the loop: binary-neon.h).
#include "ukernels/elementwise/binary-neon.h"

namespace qk {

void qk_qu8_binary_ukernel__neon(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const BinaryParams* params) {
  BinaryNeon(n, a, b, y, *params);
}

}  // namespace qk
