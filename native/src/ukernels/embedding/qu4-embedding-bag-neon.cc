// qk_qu4_embedding_bag_ukernel__neon: 4-bit rows, sixteen elements (eight bytes) per step with PyTorch's double-precision rounding, prefetching ahead.
#include <arm_neon.h>

#include "ukernels/embedding/embedding-neon.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu4_embedding_bag_ukernel__neon(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::ForEachBagRow<4>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    const embedding::RowConstantsNeon constants = embedding::MakeRowConstantsNeon(scale, bias);
    size_t j = 0;
    for (; j + 16 <= dim; j += 16) {
      // Element 2k is the low nibble of byte k: zipping low and high nibbles gives element order.
      const uint8x8_t bytes = vld1_u8(row + j / 2);
      const uint8x8x2_t values = vzip_u8(vand_u8(bytes, vdup_n_u8(0x0F)), vshr_n_u8(bytes, 4));
      embedding::AccumulateEightNeon(values.val[0], constants, out + j);
      embedding::AccumulateEightNeon(values.val[1], constants, out + j + 8);
    }
    embedding::U4RowTail(j, dim, row, scale, bias, out);
  });
}

}  // namespace qk
