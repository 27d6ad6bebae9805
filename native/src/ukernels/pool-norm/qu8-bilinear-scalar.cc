// qu8 bilinear microkernel (one channels-last output pixel from its four source pixels), scalar reference.
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qu8_bilinear_ukernel__scalar(size_t channels, const uint8_t* q00, const uint8_t* q01, const uint8_t* q10, const uint8_t* q11, uint8_t* y,
                                      const BilinearParams* params) {
  pool_norm_scalar::Bilinear(channels, q00, q01, q10, q11, y, *params);
}

}  // namespace qk
