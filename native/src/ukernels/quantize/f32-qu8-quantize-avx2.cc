// quint8 quantize microkernel, AVX2; bit-identical to the scalar kernel (see quantize-avx2.h for why).
#include "ukernels/quantize/quantize-avx2.h"

namespace qk {

void qk_f32_qu8_quantize_ukernel__avx2(size_t n, const float* x, uint8_t* y, const QuantizeParams* params) {
  QuantizeAvx2(n, x, y, *params);
}

}  // namespace qk
