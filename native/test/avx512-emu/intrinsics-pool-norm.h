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


// ---- the channels-last pooling rows (sums in 16-bit lanes, SIMD requantization, masked tails) ----

#ifndef QK_EMU__mm512_add_epi16
#define QK_EMU__mm512_add_epi16
// VPADDW zmm, zmm, zmm AVX512BW: dst.word[j] := a.word[j] + b.word[j] (wraps modulo 2^16)
static inline __m512i _mm512_add_epi16(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return static_cast<uint16_t>(x + y); });
}
#endif

#ifndef QK_EMU__mm512_cmplt_epi32_mask
#define QK_EMU__mm512_cmplt_epi32_mask
// VPCMPD k, zmm, zmm, 1 (LT) AVX512F: k[j] := a.dword[j] < b.dword[j] (signed)
static inline __mmask16 _mm512_cmplt_epi32_mask(__m512i a, __m512i b) {
  __mmask16 k = 0;
  for (int j = 0; j < 16; ++j) {
    if (qk_avx512emu::Get<int32_t>(a, j) < qk_avx512emu::Get<int32_t>(b, j)) k = static_cast<__mmask16>(k | (1u << j));
  }
  return k;
}
#endif

#ifndef QK_EMU__mm512_mask_blend_ps
#define QK_EMU__mm512_mask_blend_ps
// VBLENDMPS zmm {k}, zmm, zmm AVX512F: dst[j] := k[j] ? b[j] : a[j]
static inline __m512 _mm512_mask_blend_ps(__mmask16 k, __m512 a, __m512 b) {
  __m512 dst;
  for (int j = 0; j < 16; ++j) {
    qk_avx512emu::Put<float>(dst, j, qk_avx512emu::Selected(k, j) ? qk_avx512emu::Get<float>(b, j) : qk_avx512emu::Get<float>(a, j));
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm512_maskz_loadu_epi8
#define QK_EMU__mm512_maskz_loadu_epi8
// VMOVDQU8 zmm {k}{z}, m512 AVX512BW: dst.byte[j] := k[j] ? MEM[p + j] : 0 (masked-off bytes not read)
static inline __m512i _mm512_maskz_loadu_epi8(__mmask64 k, const void* p) { return qk_avx512emu::MaskzLoad<uint8_t, __m512i>(k, p); }
#endif

#ifndef QK_EMU__mm512_mask_storeu_epi8
#define QK_EMU__mm512_mask_storeu_epi8
// VMOVDQU8 m512 {k}, zmm AVX512BW: MEM[p + j] := a.byte[j] where k[j] (the rest untouched)
static inline void _mm512_mask_storeu_epi8(void* p, __mmask64 k, __m512i a) { qk_avx512emu::MaskStore<uint8_t>(p, k, a); }
#endif

#ifndef QK_EMU__mm512_packs_epi32
#define QK_EMU__mm512_packs_epi32
// VPACKSSDW zmm, zmm, zmm AVX512BW: per 128-bit lane l, words 0-3 := SaturateS16(a.dword[4l + i]),
// words 4-7 := SaturateS16(b.dword[4l + i])
static inline __m512i _mm512_packs_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::PackSaturate<int32_t, int16_t>(a, b, -32768, 32767);
}
#endif

#ifndef QK_EMU__mm512_packs_epi16
#define QK_EMU__mm512_packs_epi16
// VPACKSSWB zmm, zmm, zmm AVX512BW: per 128-bit lane l, bytes 0-7 := SaturateS8(a.word[8l + i]),
// bytes 8-15 := SaturateS8(b.word[8l + i])
static inline __m512i _mm512_packs_epi16(__m512i a, __m512i b) {
  return qk_avx512emu::PackSaturate<int16_t, int8_t>(a, b, -128, 127);
}
#endif

#ifndef QK_EMU__mm512_setr_epi32
#define QK_EMU__mm512_setr_epi32
// dst.dword[j] := e_j (in the argument order)
static inline __m512i _mm512_setr_epi32(int e0, int e1, int e2, int e3, int e4, int e5, int e6, int e7, int e8, int e9,
                                        int e10, int e11, int e12, int e13, int e14, int e15) {
  const int32_t e[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
  __m512i dst;
  for (int j = 0; j < 16; ++j) qk_avx512emu::Put<int32_t>(dst, j, e[j]);
  return dst;
}
#endif

// VPUNPCK{L,H}{BW,WD} zmm, zmm, zmm AVX512BW: per 128-bit lane, interleave of the low (high) halves.
#ifndef QK_EMU__mm512_unpacklo_epi8
#define QK_EMU__mm512_unpacklo_epi8
static inline __m512i _mm512_unpacklo_epi8(__m512i a, __m512i b) { return qk_avx512emu::Unpack<uint8_t>(a, b, 0); }
#endif
#ifndef QK_EMU__mm512_unpackhi_epi8
#define QK_EMU__mm512_unpackhi_epi8
static inline __m512i _mm512_unpackhi_epi8(__m512i a, __m512i b) { return qk_avx512emu::Unpack<uint8_t>(a, b, 1); }
#endif
#ifndef QK_EMU__mm512_unpacklo_epi16
#define QK_EMU__mm512_unpacklo_epi16
static inline __m512i _mm512_unpacklo_epi16(__m512i a, __m512i b) { return qk_avx512emu::Unpack<uint16_t>(a, b, 0); }
#endif
#ifndef QK_EMU__mm512_unpackhi_epi16
#define QK_EMU__mm512_unpackhi_epi16
static inline __m512i _mm512_unpackhi_epi16(__m512i a, __m512i b) { return qk_avx512emu::Unpack<uint16_t>(a, b, 1); }
#endif

// ---- the normalize kernels (layer / group / instance norm: a float row step and int16 pair sums) ----

#ifndef QK_EMU__mm512_sub_ps
#define QK_EMU__mm512_sub_ps
// VSUBPS zmm, zmm, zmm AVX512F: dst[j] := a[j] - b[j] (MXCSR rounding; NaN rules as VADDPS)
static inline __m512 _mm512_sub_ps(__m512 a, __m512 b) {
  return qk_avx512emu::Map<float>(a, b, [](float x, float y) {
    return qk_avx512emu::Arithmetic(x, y, [](float u, float v) { return u - v; });
  });
}
#endif

// Rounding-control immediates (imm8 of VRNDSCALEPS / VROUNDPS), as Intel's headers define them.
#ifndef _MM_FROUND_TO_NEAREST_INT
#define _MM_FROUND_TO_NEAREST_INT 0x00
#define _MM_FROUND_TO_NEG_INF 0x01
#define _MM_FROUND_TO_POS_INF 0x02
#define _MM_FROUND_TO_ZERO 0x03
#define _MM_FROUND_CUR_DIRECTION 0x04
#define _MM_FROUND_NO_EXC 0x08
#endif

#ifndef QK_EMU__mm512_roundscale_ps
#define QK_EMU__mm512_roundscale_ps
// VRNDSCALEPS zmm, zmm, imm8 AVX512F with imm8[7:4] = 0 (M = 0: round to an integer):
// imm8[2] set uses MXCSR.RC, else imm8[1:0] (0 nearest even, 1 down, 2 up, 3 toward zero);
// a NaN comes back quieted. Only M = 0 is emulated (the kernels use no other).
static inline __m512 _mm512_roundscale_ps(__m512 a, int imm8) {
  static const int kModes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
  const int saved = std::fegetround();
  const int mode = (imm8 & 4) ? saved : kModes[imm8 & 3];
  std::fesetround(mode);
  __m512 dst = qk_avx512emu::Map<float>(a, [](float x) { return qk_avx512emu::IsNaN(x) ? qk_avx512emu::Quiet(x) : std::nearbyint(x); });
  std::fesetround(saved);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_madd_epi16
#define QK_EMU__mm512_madd_epi16
// VPMADDWD zmm, zmm, zmm AVX512BW: dst.dword[j] := a.word[2j] * b.word[2j] + a.word[2j+1] * b.word[2j+1]
// (signed words; the one overflow, all four -32768, wraps to INT32_MIN)
static inline __m512i _mm512_madd_epi16(__m512i a, __m512i b) {
  __m512i dst{};
  for (int j = 0; j < 16; ++j) {
    const int64_t sum = int64_t{qk_avx512emu::Get<int16_t>(a, 2 * j)} * qk_avx512emu::Get<int16_t>(b, 2 * j) +
                        int64_t{qk_avx512emu::Get<int16_t>(a, 2 * j + 1)} * qk_avx512emu::Get<int16_t>(b, 2 * j + 1);
    qk_avx512emu::Put<int32_t>(dst, j, static_cast<int32_t>(static_cast<uint32_t>(sum)));
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm512_cvtepi8_epi16
#define QK_EMU__mm512_cvtepi8_epi16
// VPMOVSXBW zmm, ymm AVX512BW: dst.word[j] := SignExtend16(a.byte[j]), j = 0..31
static inline __m512i _mm512_cvtepi8_epi16(__m256i a) {
  return qk_avx512emu::Convert<int16_t, int8_t, __m512i>(a, [](int8_t x) { return static_cast<int16_t>(x); });
}
#endif

#ifndef QK_EMU__mm512_set1_epi16
#define QK_EMU__mm512_set1_epi16
// VPBROADCASTW zmm, r16 AVX512BW
static inline __m512i _mm512_set1_epi16(short a) { return qk_avx512emu::Broadcast<int16_t, __m512i>(a); }
#endif

#ifndef QK_EMU__mm512_store_si512
#define QK_EMU__mm512_store_si512
// VMOVDQA32 m512, zmm AVX512F (the address must be 64-byte aligned, as the instruction faults otherwise)
static inline void _mm512_store_si512(void* mem_addr, __m512i a) { std::memcpy(mem_addr, a.bytes, 64); }
#endif

#ifndef QK_EMU__mm512_set_epi32
#define QK_EMU__mm512_set_epi32
// dst.dword[j] := e_j, the arguments from e15 down to e0: _mm512_setr_epi32 with them reversed
static inline __m512i _mm512_set_epi32(int e15, int e14, int e13, int e12, int e11, int e10, int e9, int e8, int e7,
                                       int e6, int e5, int e4, int e3, int e2, int e1, int e0) {
  return _mm512_setr_epi32(e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15);
}
#endif

// VPERMPS zmm, zmm, zmm AVX512F: dst.float[j] := a.float[idx.dword[j] & 15], which is VPERMD
// on the same bits (intrinsics-conv.h; the casts are intrinsics-embedding.h's)
#ifndef QK_EMU__mm512_permutexvar_ps
#define QK_EMU__mm512_permutexvar_ps
static inline __m512 _mm512_permutexvar_ps(__m512i idx, __m512 a) {
  return _mm512_castsi512_ps(_mm512_permutexvar_epi32(idx, _mm512_castps_si512(a)));
}
#endif

#ifndef QK_EMU__mm_mask_storeu_epi8
#define QK_EMU__mm_mask_storeu_epi8
// VMOVDQU8 m128 {k}, xmm AVX512BW+VL: MEM[p + j] := a.byte[j] where k[j], j = 0..15 (the rest untouched)
static inline void _mm_mask_storeu_epi8(void* p, __mmask16 k, __m128i a) { qk_avx512emu::MaskStore<uint8_t>(p, k, a); }
#endif
