// qk_qu4_embedding_bag_ukernel__avx512vnni: 4-bit rows, up to 128 output columns in registers per pass over the bag, checked once per bag for PyTorch's double-precision rounding (exact per-row pass otherwise).
#include <immintrin.h>

#include "ukernels/embedding/embedding-avx512.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu4_embedding_bag_ukernel__avx512vnni(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::BagAvx512<4>(dim, count, lookahead, rows, weights, out);
}

}  // namespace qk
