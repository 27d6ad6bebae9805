// qk_qu8_embedding_bag_ukernel__neon: 8-bit rows, eight elements per step with PyTorch's double-precision rounding, prefetching ahead.
#include <arm_neon.h>

#include "ukernels/embedding/embedding-neon.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu8_embedding_bag_ukernel__neon(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::ForEachBagRow<8>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    const embedding::RowConstantsNeon constants = embedding::MakeRowConstantsNeon(scale, bias);
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) embedding::AccumulateEightNeon(vld1_u8(row + j), constants, out + j);
    embedding::U8RowTail(j, dim, row, scale, bias, out);
  });
}

}  // namespace qk
