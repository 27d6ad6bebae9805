// Emulated AVX-512 intrinsics used by the binary (XNOR-popcount) kernels (included by immintrin.h; see its end for the rules).
#pragma once

#ifndef QK_EMU__mm_setr_epi8
#define QK_EMU__mm_setr_epi8
// (sequence) SSE2: dst.byte[j] := e_j, e0 in the lowest byte
static inline __m128i _mm_setr_epi8(char e0, char e1, char e2, char e3, char e4, char e5, char e6, char e7, char e8,
                                    char e9, char e10, char e11, char e12, char e13, char e14, char e15) {
  const char e[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
  __m128i dst;
  std::memcpy(dst.bytes, e, 16);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_broadcast_i32x4
#define QK_EMU__mm512_broadcast_i32x4
// VBROADCASTI32X4 zmm, m128 AVX512F: dst.xmm[j] := a for j in 0..3
static inline __m512i _mm512_broadcast_i32x4(__m128i a) {
  __m512i dst;
  for (int j = 0; j < 4; ++j) std::memcpy(dst.bytes + 16 * j, a.bytes, 16);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_set1_epi64
#define QK_EMU__mm512_set1_epi64
// VPBROADCASTQ zmm AVX512F: dst.qword[j] := a
static inline __m512i _mm512_set1_epi64(long long a) { return qk_avx512emu::Broadcast<int64_t, __m512i>(a); }
#endif

#ifndef QK_EMU__mm512_xor_si512
#define QK_EMU__mm512_xor_si512
// VPXORQ zmm, zmm, zmm AVX512F: dst := a XOR b
static inline __m512i _mm512_xor_si512(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x ^ y; });
}
#endif

#ifndef QK_EMU__mm512_add_epi64
#define QK_EMU__mm512_add_epi64
// VPADDQ zmm, zmm, zmm AVX512F: dst.qword[j] := a.qword[j] + b.qword[j] (wrapping)
static inline __m512i _mm512_add_epi64(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x + y; });
}
#endif

#ifndef QK_EMU__mm512_add_epi8
#define QK_EMU__mm512_add_epi8
// VPADDB zmm, zmm, zmm AVX512BW: dst.byte[j] := a.byte[j] + b.byte[j] (wrapping)
static inline __m512i _mm512_add_epi8(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return static_cast<uint8_t>(x + y); });
}
#endif

#ifndef QK_EMU__mm512_srli_epi16
#define QK_EMU__mm512_srli_epi16
// VPSRLW zmm, zmm, imm8 AVX512BW: dst.word[j] := imm8 > 15 ? 0 : ZeroExtend(a.word[j] >> imm8)
static inline __m512i _mm512_srli_epi16(__m512i a, unsigned int imm8) {
  return qk_avx512emu::Map<uint16_t>(a, [imm8](uint16_t x) { return static_cast<uint16_t>(imm8 > 15 ? 0 : x >> imm8); });
}
#endif

#ifndef QK_EMU__mm512_shuffle_epi8
#define QK_EMU__mm512_shuffle_epi8
// VPSHUFB zmm, zmm, zmm AVX512BW: within each 128-bit lane L,
// dst.byte[16L + j] := b.byte[16L + j] & 0x80 ? 0 : a.byte[16L + (b.byte[16L + j] & 15)]
static inline __m512i _mm512_shuffle_epi8(__m512i a, __m512i b) {
  __m512i dst;
  for (int j = 0; j < 64; ++j) {
    const uint8_t index = b.bytes[j];
    dst.bytes[j] = (index & 0x80) ? 0 : a.bytes[(j & ~15) + (index & 15)];
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm512_sad_epu8
#define QK_EMU__mm512_sad_epu8
// VPSADBW zmm, zmm, zmm AVX512BW: dst.qword[j] := sum over bytes i of qword j of |a.byte[i] - b.byte[i]|
static inline __m512i _mm512_sad_epu8(__m512i a, __m512i b) {
  __m512i dst;
  for (int j = 0; j < 8; ++j) {
    uint64_t sum = 0;
    for (int i = 8 * j; i < 8 * j + 8; ++i) sum += a.bytes[i] > b.bytes[i] ? a.bytes[i] - b.bytes[i] : b.bytes[i] - a.bytes[i];
    qk_avx512emu::Put<uint64_t>(dst, j, sum);
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm512_popcnt_epi64
#define QK_EMU__mm512_popcnt_epi64
// VPOPCNTQ zmm, zmm AVX512_VPOPCNTDQ: dst.qword[j] := number of set bits of a.qword[j]
static inline __m512i _mm512_popcnt_epi64(__m512i a) {
  return qk_avx512emu::Map<uint64_t>(a, [](uint64_t x) {
    uint64_t n = 0;
    for (; x != 0; x &= x - 1) ++n;
    return n;
  });
}
#endif

#ifndef QK_EMU__mm512_cvtepi64_epi32
#define QK_EMU__mm512_cvtepi64_epi32
// VPMOVQD ymm, zmm AVX512F: dst.dword[j] := Truncate32(a.qword[j])
static inline __m256i _mm512_cvtepi64_epi32(__m512i a) {
  __m256i dst;
  for (int j = 0; j < 8; ++j) qk_avx512emu::Put<uint32_t>(dst, j, static_cast<uint32_t>(qk_avx512emu::Get<uint64_t>(a, j)));
  return dst;
}
#endif

#ifndef QK_EMU__mm256_mask_storeu_epi32
#define QK_EMU__mm256_mask_storeu_epi32
// VMOVDQU32 m256 {k}, ymm AVX512F+VL: MEM.dword[j] := a.dword[j] where k[j]; other dwords untouched
static inline void _mm256_mask_storeu_epi32(void* mem_addr, __mmask8 k, __m256i a) {
  for (int j = 0; j < 8; ++j) {
    if (k & (1u << j)) std::memcpy(static_cast<unsigned char*>(mem_addr) + 4 * j, a.bytes + 4 * j, 4);
  }
}
#endif

#ifndef QK_EMU__mm512_cmpgt_epi64_mask
#define QK_EMU__mm512_cmpgt_epi64_mask
// VPCMPGTQ k, zmm, zmm AVX512F: k[j] := a.qword[j] > b.qword[j] (signed)
static inline __mmask8 _mm512_cmpgt_epi64_mask(__m512i a, __m512i b) {
  __mmask8 k = 0;
  for (int j = 0; j < 8; ++j) {
    if (qk_avx512emu::Get<int64_t>(a, j) > qk_avx512emu::Get<int64_t>(b, j)) k = static_cast<__mmask8>(k | (1u << j));
  }
  return k;
}
#endif

#ifndef QK_EMU__mm512_mask_or_epi32
#define QK_EMU__mm512_mask_or_epi32
// VPORD zmm {k}, zmm, zmm AVX512F: dst.dword[j] := k[j] ? a.dword[j] OR b.dword[j] : src.dword[j]
static inline __m512i _mm512_mask_or_epi32(__m512i src, __mmask16 k, __m512i a, __m512i b) {
  __m512i dst = src;
  for (int j = 0; j < 16; ++j) {
    if (k & (1u << j)) qk_avx512emu::Put<uint32_t>(dst, j, qk_avx512emu::Get<uint32_t>(a, j) | qk_avx512emu::Get<uint32_t>(b, j));
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm256_castps_si256
#define QK_EMU__mm256_castps_si256
// (no instruction) AVX: the same 32 bytes as integers
static inline __m256i _mm256_castps_si256(__m256 a) {
  __m256i dst;
  std::memcpy(dst.bytes, a.bytes, 32);
  return dst;
}
#endif
