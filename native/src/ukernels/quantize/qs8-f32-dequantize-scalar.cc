// qint8 dequantize microkernel in portable C++: the specification the SIMD kernels are tested against.
#include "ukernels/quantize/quantize-scalar.h"

namespace qk {

void qk_qs8_f32_dequantize_ukernel__scalar(size_t n, const int8_t* q, float* y, const DequantizeParams* params) {
  DequantizeLoop(n, q, y, *params);
}

}  // namespace qk
