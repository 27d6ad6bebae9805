// x8 table lookup microkernel, AVX2: the 256-entry table as 16 vpshufb sub-tables of 16 entries.
//
// For sub-table k (entries 16k .. 16k+15) vpshufb looks up the low nibble of every
// byte; a byte takes that result where its high nibble equals k. Sixteen
// (shuffle, compare, blend) steps per 32 bytes, no gathers.
#include <immintrin.h>

#include "ukernels/ukernels.h"

namespace qk {

void qk_x8_lut_ukernel__avx2(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y) {
  __m256i sub_tables[16];
  for (int k = 0; k < 16; ++k) {
    sub_tables[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * k)));
  }
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i high_mask = _mm256_set1_epi8(static_cast<char>(0xF0));
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i low = _mm256_and_si256(v, low_mask);
    const __m256i high = _mm256_and_si256(v, high_mask);
    __m256i result = _mm256_setzero_si256();
    for (int k = 0; k < 16; ++k) {
      const __m256i hit = _mm256_cmpeq_epi8(high, _mm256_set1_epi8(static_cast<char>(16 * k)));
      result = _mm256_blendv_epi8(result, _mm256_shuffle_epi8(sub_tables[k], low), hit);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), result);
  }
  for (; i < n; ++i) y[i] = table[x[i]];
}

}  // namespace qk
