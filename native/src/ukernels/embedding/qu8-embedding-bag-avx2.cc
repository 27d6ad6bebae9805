// qk_qu8_embedding_bag_ukernel__avx2: 8-bit rows, eight elements per step with PyTorch's double-precision rounding, prefetching ahead.
#include <immintrin.h>

#include "ukernels/embedding/embedding-avx2.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu8_embedding_bag_ukernel__avx2(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::ForEachBagRow<8>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    const embedding::RowConstantsAvx2 constants = embedding::MakeRowConstantsAvx2(scale, bias);
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
      const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j)));
      embedding::AccumulateEightAvx2(q, constants, out + j);
    }
    embedding::U8RowTail(j, dim, row, scale, bias, out);
  });
}

}  // namespace qk
