// qu8 bilinear microkernel (one channels-last output pixel from its four source pixels), AVX-512.
#include "ukernels/pool-norm/pool-norm-avx512.h"

namespace qk {

void qk_qu8_bilinear_ukernel__avx512vnni(size_t channels, const uint8_t* q00, const uint8_t* q01, const uint8_t* q10, const uint8_t* q11, uint8_t* y,
                                  const BilinearParams* params) {
  BilinearAvx512(channels, q00, q01, q10, q11, y, *params);
}

}  // namespace qk
