// quint8 quantize microkernel, NEON; bit-identical to the scalar kernel (see quantize-neon.h for why).
#include "ukernels/quantize/quantize-neon.h"

namespace qk {

void qk_f32_qu8_quantize_ukernel__neon(size_t n, const float* x, uint8_t* y, const QuantizeParams* params) {
  QuantizeNeon(n, x, y, *params);
}

}  // namespace qk
