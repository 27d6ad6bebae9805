// qint8 quantize microkernel, AVX-512 (F/BW/VL); bit-identical to the scalar kernel (see quantize-avx512.h for why).
#include "ukernels/quantize/quantize-avx512.h"

namespace qk {

void qk_f32_qs8_quantize_ukernel__avx512vnni(size_t n, const float* x, int8_t* y, const QuantizeParams* params) {
  QuantizeAvx512(n, x, y, *params);
}

}  // namespace qk
