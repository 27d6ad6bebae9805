// Emulated AVX-512 intrinsics used by the conv kernels (included by immintrin.h; see its end for the rules).
#pragma once

// VADDPS zmm, zmm, zmm AVX512F: dst[j] := a[j] + b[j] (NaN rules of SDM Vol. 1 Table 4-7)

// VPSLLD zmm, zmm, imm8 AVX512F: dst.dword[j] := imm8 > 31 ? 0 : ZeroExtend32(a.dword[j] << imm8)
#ifndef QK_EMU__mm512_slli_epi32
#define QK_EMU__mm512_slli_epi32
static inline __m512i _mm512_slli_epi32(__m512i a, unsigned int imm8) {
  return qk_avx512emu::Map<uint32_t>(a, [imm8](uint32_t x) { return imm8 > 31 ? 0u : x << imm8; });
}
#endif

// VPORD zmm, zmm, zmm AVX512F: dst := a OR b
#ifndef QK_EMU__mm512_or_si512
#define QK_EMU__mm512_or_si512
static inline __m512i _mm512_or_si512(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x | y; });
}
#endif

// VPDPWSSD zmm, zmm, zmm AVX512_VNNI:
//   tmp1.dword := SignExtend32(a.word[2*j]) * SignExtend32(b.word[2*j])
//   tmp2.dword := SignExtend32(a.word[2*j+1]) * SignExtend32(b.word[2*j+1])
//   dst.dword[j] := src.dword[j] + tmp1 + tmp2          (no saturation: wraps)
#ifndef QK_EMU__mm512_dpwssd_epi32
#define QK_EMU__mm512_dpwssd_epi32
static inline __m512i _mm512_dpwssd_epi32(__m512i src, __m512i a, __m512i b) {
  __m512i dst{};
  for (int j = 0; j < 16; ++j) {
    const int32_t tmp1 = static_cast<int32_t>(qk_avx512emu::Get<int16_t>(a, 2 * j)) *
                         static_cast<int32_t>(qk_avx512emu::Get<int16_t>(b, 2 * j));
    const int32_t tmp2 = static_cast<int32_t>(qk_avx512emu::Get<int16_t>(a, 2 * j + 1)) *
                         static_cast<int32_t>(qk_avx512emu::Get<int16_t>(b, 2 * j + 1));
    const int32_t sum = qk_avx512emu::AddInt32(qk_avx512emu::AddInt32(qk_avx512emu::Get<int32_t>(src, j), tmp1), tmp2);
    qk_avx512emu::Put<int32_t>(dst, j, sum);
  }
  return dst;
}
#endif
