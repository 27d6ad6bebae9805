// qk_qu8_embedding_bag_ukernel__avx2: 8-bit rows, up to 64 output columns in registers per pass over the bag, with PyTorch's double-precision rounding, prefetching ahead.
#include <immintrin.h>

#include "ukernels/embedding/embedding-avx2.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu8_embedding_bag_ukernel__avx2(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  embedding::BagAvx2<8>(dim, count, lookahead, rows, weights, [](const uint8_t* row, size_t j) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j)));
  }, out);
}

}  // namespace qk
