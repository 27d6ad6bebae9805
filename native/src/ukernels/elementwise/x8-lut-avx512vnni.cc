// x8 table lookup microkernel, AVX-512 (BW): 16 vpshufb sub-tables of 16 entries, merged under byte masks.
//
// As the AVX2 kernel (x8-lut-avx2.cc), 64 bytes per step: sub-table k serves the
// bytes whose high nibble is k, selected by a compare mask instead of a blend.
// (vpermb would do it in four steps but needs AVX512_VBMI, which this level does not assume.)
#include <immintrin.h>

#include <cstring>

#include "ukernels/ukernels.h"

namespace qk {

void qk_x8_lut_ukernel__avx512vnni(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y) {
  // vpshufb looks up within each 128-bit lane, so every lane holds the sub-table.
  __m512i sub_tables[16];
  for (int k = 0; k < 16; ++k) {
    uint8_t repeated[64];
    for (int lane = 0; lane < 4; ++lane) std::memcpy(repeated + 16 * lane, table + 16 * k, 16);
    sub_tables[k] = _mm512_loadu_si512(repeated);
  }
  const __m512i low_mask = _mm512_set1_epi8(0x0F);
  const __m512i high_mask = _mm512_set1_epi8(static_cast<char>(0xF0));
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i v = _mm512_loadu_si512(x + i);
    const __m512i low = _mm512_and_si512(v, low_mask);
    const __m512i high = _mm512_and_si512(v, high_mask);
    __m512i result = _mm512_setzero_si512();
    for (int k = 0; k < 16; ++k) {
      const __mmask64 hit = _mm512_cmpeq_epi8_mask(high, _mm512_set1_epi8(static_cast<char>(16 * k)));
      result = _mm512_mask_shuffle_epi8(result, hit, sub_tables[k], low);
    }
    _mm512_storeu_si512(y + i, result);
  }
  for (; i < n; ++i) y[i] = table[x[i]];
}

}  // namespace qk
