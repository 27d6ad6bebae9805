// Emulated AVX-512 intrinsics used by the gemm kernels (included by immintrin.h; see its end for the rules).
#pragma once

// VPMULLD zmm, zmm, zmm AVX512F: dst.dword[j] := low 32 bits of a.dword[j] * b.dword[j]
#ifndef QK_EMU__mm512_mullo_epi32
#define QK_EMU__mm512_mullo_epi32
static inline __m512i _mm512_mullo_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x * y; });
}
#endif
