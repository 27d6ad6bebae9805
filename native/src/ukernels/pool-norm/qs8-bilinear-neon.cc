// qs8 bilinear microkernel (one channels-last output pixel from its four source pixels), NEON.
#include "ukernels/pool-norm/pool-norm-neon.h"

namespace qk {

void qk_qs8_bilinear_ukernel__neon(size_t channels, const int8_t* q00, const int8_t* q01, const int8_t* q10, const int8_t* q11, int8_t* y,
                                  const BilinearParams* params) {
  BilinearNeon(channels, q00, q01, q10, q11, y, *params);
}

}  // namespace qk
