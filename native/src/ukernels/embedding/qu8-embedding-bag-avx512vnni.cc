// qk_qu8_embedding_bag_ukernel__avx512vnni: 8-bit rows, sixteen elements per step with PyTorch's double-precision rounding, prefetching ahead.
#include <immintrin.h>

#include "ukernels/embedding/embedding-avx512.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu8_embedding_bag_ukernel__avx512vnni(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::ForEachBagRow<8>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    const embedding::RowConstantsAvx512 constants = embedding::MakeRowConstantsAvx512(scale, bias);
    size_t j = 0;
    for (; j + 16 <= dim; j += 16) {
      const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j)));
      embedding::AccumulateSixteenAvx512(q, constants, out + j);
    }
    embedding::U8RowTail(j, dim, row, scale, bias, out);
  });
}

}  // namespace qk
