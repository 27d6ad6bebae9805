// quint8 add / mul tail microkernel, scalar: PyTorch's scalar formula one element at a time (elementwise-scalar.h), the reference of the SIMD tail kernels.
#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {

void qk_qu8_binary_tail_ukernel__scalar(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y,
                                        const BinaryParams* params) {
  BinaryScalarLoop(n, a, b, y, *params);
}

}  // namespace qk
