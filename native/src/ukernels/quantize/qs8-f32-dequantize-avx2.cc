// qint8 dequantize microkernel, AVX2; bit-identical to the scalar kernel (see quantize-avx2.h for why).
#include "ukernels/quantize/quantize-avx2.h"

namespace qk {

void qk_qs8_f32_dequantize_ukernel__avx2(size_t n, const int8_t* q, float* y, const DequantizeParams* params) {
  DequantizeAvx2(n, q, y, *params);
}

}  // namespace qk
