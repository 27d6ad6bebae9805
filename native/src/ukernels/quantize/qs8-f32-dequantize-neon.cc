// qint8 dequantize microkernel, NEON; bit-identical to the scalar kernel (see quantize-neon.h for why).
#include "ukernels/quantize/quantize-neon.h"

namespace qk {

void qk_qs8_f32_dequantize_ukernel__neon(size_t n, const int8_t* q, float* y, const DequantizeParams* params) {
  DequantizeNeon(n, q, y, *params);
}

}  // namespace qk
