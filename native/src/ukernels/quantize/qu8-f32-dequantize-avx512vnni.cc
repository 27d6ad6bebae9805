// quint8 dequantize microkernel, AVX-512 (F/BW/VL); bit-identical to the scalar kernel (see quantize-avx512.h for why).
#include "ukernels/quantize/quantize-avx512.h"

namespace qk {

void qk_qu8_f32_dequantize_ukernel__avx512vnni(size_t n, const uint8_t* q, float* y, const DequantizeParams* params) {
  DequantizeAvx512(n, q, y, *params);
}

}  // namespace qk
