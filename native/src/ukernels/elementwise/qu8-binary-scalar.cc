// quint8 add / mul microkernel, scalar: PyTorch's vectorized formula one element at a time (elementwise-scalar.h).
#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {

void qk_qu8_binary_ukernel__scalar(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const BinaryParams* params) {
  BinaryVectorLoop(n, a, b, y, *params);
}

}  // namespace qk
