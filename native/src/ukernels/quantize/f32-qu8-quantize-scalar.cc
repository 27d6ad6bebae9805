// quint8 quantize microkernel in portable C++: the specification the SIMD kernels are tested against.
#include "ukernels/quantize/quantize-scalar.h"

namespace qk {

void qk_f32_qu8_quantize_ukernel__scalar(size_t n, const float* x, uint8_t* y, const QuantizeParams* params) {
  QuantizeLoop(n, x, y, *params);
}

}  // namespace qk
