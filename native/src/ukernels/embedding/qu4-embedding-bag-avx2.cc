// qk_qu4_embedding_bag_ukernel__avx2: 4-bit rows, sixteen elements (eight bytes) per step with PyTorch's double-precision rounding, prefetching ahead.
#include <immintrin.h>

#include "ukernels/embedding/embedding-avx2.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu4_embedding_bag_ukernel__avx2(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  embedding::ForEachBagRow<4>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    const embedding::RowConstantsAvx2 constants = embedding::MakeRowConstantsAvx2(scale, bias);
    size_t j = 0;
    for (; j + 16 <= dim; j += 16) {
      // Eight bytes hold elements j..j+15, element 2k in the low nibble of byte k:
      // interleaving the low and the high nibbles puts them in element order.
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j / 2));
      const __m128i lo = _mm_and_si128(bytes, low_nibbles);
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
      const __m128i values = _mm_unpacklo_epi8(lo, hi);
      embedding::AccumulateEightAvx2(_mm256_cvtepu8_epi32(values), constants, out + j);
      embedding::AccumulateEightAvx2(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(values, values)), constants, out + j + 8);
    }
    embedding::U4RowTail(j, dim, row, scale, bias, out);
  });
}

}  // namespace qk
