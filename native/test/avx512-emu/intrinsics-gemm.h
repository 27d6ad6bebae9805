// Emulated AVX-512 intrinsics used by the gemm kernels (included by immintrin.h; see its end for the rules).
#pragma once

// VPMULLD zmm, zmm, zmm AVX512F: dst.dword[j] := low 32 bits of a.dword[j] * b.dword[j]

#ifndef QK_EMU__mm256_mask_storeu_epi8
#define QK_EMU__mm256_mask_storeu_epi8
// VMOVDQU8 m256 {k}, ymm AVX512BW+VL: MEM[p + j] := a.byte[j] where k[j], j = 0..31 (the rest untouched)
static inline void _mm256_mask_storeu_epi8(void* p, __mmask32 k, __m256i a) { qk_avx512emu::MaskStore<uint8_t>(p, k, a); }
#endif

#ifndef QK_EMU__mm512_extracti32x4_epi32
#define QK_EMU__mm512_extracti32x4_epi32
// VEXTRACTI32X4 xmm, zmm, imm8 AVX512F: dst := a[128 * imm8[1:0] + 127 : 128 * imm8[1:0]]
static inline __m128i _mm512_extracti32x4_epi32(__m512i a, int imm8) {
  __m128i dst;
  std::memcpy(dst.bytes, a.bytes + 16 * (imm8 & 3), 16);
  return dst;
}
#endif
