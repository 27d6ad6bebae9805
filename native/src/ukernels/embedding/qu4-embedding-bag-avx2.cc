// qk_qu4_embedding_bag_ukernel__avx2: 4-bit rows, up to 64 output columns in registers per pass over the bag, with PyTorch's double-precision rounding, prefetching ahead.
#include <immintrin.h>

#include <cstring>

#include "ukernels/embedding/embedding-avx2.h"
#include "ukernels/embedding/embedding-common.h"
#include "ukernels/ukernels.h"

namespace qk {

void qk_qu4_embedding_bag_ukernel__avx2(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
    const float* weights, float* out) {
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i nibble = _mm256_set1_epi32(0xF);
  embedding::BagAvx2<4>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, size_t j) {
    // Four bytes hold elements j..j+7 (j is a multiple of 8), element 2k in the low nibble
    // of byte k: as a little-endian word, element k is bits 4k..4k+3, so each lane shifts
    // the broadcast word by its own 4k and keeps four bits.
    int32_t word;
    std::memcpy(&word, row + j / 2, 4);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(word), shifts), nibble);
  }, out);
}

}  // namespace qk
