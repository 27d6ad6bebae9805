// qk_qu8_embedding_bag_ukernel__scalar: the 8-bit bag kernel as plain C++, the specification the SIMD kernels match bit for bit.
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu8_embedding_bag_ukernel__scalar(size_t dim, size_t count, const uint8_t* const* rows, const float* weights,
                                          float* out) {
  const size_t row_bytes = embedding::U8RowBytes(dim);
  for (size_t i = 0; i < count; ++i) {
    embedding::PrefetchRow(rows, i, count, row_bytes);
    float scale, bias;
    embedding::U8ScaleBias(rows[i], dim, weights != nullptr ? weights[i] : 1.0f, &scale, &bias);
    embedding::U8RowTail(0, dim, rows[i], scale, bias, out);
  }
}

}  // namespace qk
