// Emulated AVX-512 intrinsics used by the pool-norm kernels (included by immintrin.h; see its end for the rules).
#pragma once

#ifndef QK_EMU__mm512_max_epu8
#define QK_EMU__mm512_max_epu8
// VPMAXUB zmm, zmm, zmm AVX512BW: dst[j] := MAX(a[j], b[j]) over 64 unsigned bytes
static inline __m512i _mm512_max_epu8(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x > y ? x : y; });
}
#endif

#ifndef QK_EMU__mm512_max_epi8
#define QK_EMU__mm512_max_epi8
// VPMAXSB zmm, zmm, zmm AVX512BW: dst[j] := MAX(a[j], b[j]) over 64 signed bytes
static inline __m512i _mm512_max_epi8(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int8_t>(a, b, [](int8_t x, int8_t y) { return x > y ? x : y; });
}
#endif

