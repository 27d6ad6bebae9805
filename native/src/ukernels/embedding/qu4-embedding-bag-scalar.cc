// qk_qu4_embedding_bag_ukernel__scalar: the 4-bit bag kernel as plain C++, the specification the SIMD kernels match bit for bit.
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu4_embedding_bag_ukernel__scalar(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::ForEachBagRow<4>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    embedding::U4RowTail(0, dim, row, scale, bias, out);
  });
}

}  // namespace qk
