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

#ifndef QK_EMU__mm512_max_epi32
#define QK_EMU__mm512_max_epi32
// VPMAXSD zmm, zmm, zmm AVX512F: dst[j] := MAX(a[j], b[j]) over 16 signed dwords
static inline __m512i _mm512_max_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) { return x > y ? x : y; });
}
#endif

#ifndef QK_EMU__mm512_min_epi32
#define QK_EMU__mm512_min_epi32
// VPMINSD zmm, zmm, zmm AVX512F: dst[j] := MIN(a[j], b[j]) over 16 signed dwords
static inline __m512i _mm512_min_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) { return x < y ? x : y; });
}
#endif

#ifndef QK_EMU__mm512_fmadd_ps
#define QK_EMU__mm512_fmadd_ps
// VFMADD231PS zmm, zmm, zmm AVX512F: dst[j] := a[j] * b[j] + c[j], rounded once (RoundFPControl_MXCSR)
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  __m512 dst{};
  for (int j = 0; j < 16; ++j) {
    qk_avx512emu::Put<float>(dst, j, std::fma(qk_avx512emu::Get<float>(a, j), qk_avx512emu::Get<float>(b, j),
                                              qk_avx512emu::Get<float>(c, j)));
  }
  return dst;
}
#endif
