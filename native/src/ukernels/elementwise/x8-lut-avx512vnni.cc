// x8 table lookup microkernel, AVX-512 (BW): 16 vpshufb sub-tables of 16 entries, merged under byte masks; two vpermi2b where the CPU has AVX512_VBMI.
//
// As the AVX2 kernel (x8-lut-avx2.cc), 64 bytes per step: sub-table k serves the
// bytes whose high nibble is k, selected by a compare mask instead of a blend (32
// instructions per 64 bytes). AVX512_VBMI is not part of this level, but every CPU
// with VNNI since Ice Lake and Zen 4 has it; there vpermi2b looks up 128 entries at
// once, so two of them and a blend on the byte's top bit do the 256 entries (4
// instructions). Both are exact lookups: the same bytes.
#include <immintrin.h>

#include <cstring>

#include "base/cpu.h"
#include "ukernels/ukernels.h"

namespace qk {

// The VBMI path exists only in the real build: the AVX-512 emulation (native/test/avx512-emu),
// which compiles this file without -mavx512 flags, checks the path every CPU of the level runs.
#if defined(__AVX512BW__)
namespace {

__attribute__((target("avx512vbmi"))) void LookupVbmi(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y) {
  const __m512i t0 = _mm512_loadu_si512(table);
  const __m512i t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128);
  const __m512i t3 = _mm512_loadu_si512(table + 192);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i v = _mm512_loadu_si512(x + i);
    // Index bits 0-6 pick one of 128 entries of (t0, t1) or (t2, t3); bit 7 picks the pair.
    const __m512i low = _mm512_permutex2var_epi8(t0, v, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, v, t3);
    _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), low, high));
  }
  if (i < n) {
    // The tail under a load/store mask: no byte outside [x, x + n) or [y, y + n) is touched.
    const __mmask64 rest = ~uint64_t{0} >> (64 - (n - i));  // n - i in [1, 63]
    const __m512i v = _mm512_maskz_loadu_epi8(rest, x + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, v, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, v, t3);
    _mm512_mask_storeu_epi8(y + i, rest, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), low, high));
  }
}

}  // namespace
#endif

void qk_x8_lut_ukernel__avx512vnni(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y) {
#if defined(__AVX512BW__)
  static const bool vbmi = GetCpuFeatures().avx512vbmi;
  if (vbmi) {
    LookupVbmi(n, x, table, y);
    return;
  }
#endif
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
