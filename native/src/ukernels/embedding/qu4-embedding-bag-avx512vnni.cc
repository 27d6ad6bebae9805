// qk_qu4_embedding_bag_ukernel__avx512vnni: 4-bit rows, sixteen elements (eight bytes) per step with PyTorch's double-precision rounding, prefetching ahead.
#include <immintrin.h>

#include "ukernels/embedding/embedding-avx512.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu4_embedding_bag_ukernel__avx512vnni(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  embedding::ForEachBagRow<4>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
    const embedding::RowConstantsAvx512 constants = embedding::MakeRowConstantsAvx512(scale, bias);
    size_t j = 0;
    for (; j + 16 <= dim; j += 16) {
      // Low and high nibbles interleaved are the sixteen elements in order (see the AVX2 kernel).
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j / 2));
      const __m128i lo = _mm_and_si128(bytes, low_nibbles);
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
      embedding::AccumulateSixteenAvx512(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)), constants, out + j);
    }
    embedding::U4RowTail(j, dim, row, scale, bias, out);
  });
}

}  // namespace qk
