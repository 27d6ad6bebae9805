// qint8 add / mul tail microkernel, scalar: PyTorch's scalar formula one element at a time (elementwise-scalar.h), the reference of the SIMD tail kernels.
#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {

void qk_qs8_binary_tail_ukernel__scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                                        const BinaryParams* params) {
  BinaryScalarLoop(n, a, b, y, *params);
}

}  // namespace qk
