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

// ---- the full-block depthwise path (ymm byte unpacks, packs) ----

// VMOVDQU ymm, m256 AVX: dst := MEM[mem_addr + 255:mem_addr]
#ifndef QK_EMU__mm256_loadu_si256
#define QK_EMU__mm256_loadu_si256
static inline __m256i _mm256_loadu_si256(__m256i const* mem_addr) {
  __m256i dst;
  std::memcpy(dst.bytes, mem_addr, 32);
  return dst;
}
#endif

// VMOVDQU m256, ymm AVX: MEM[mem_addr + 255:mem_addr] := a
#ifndef QK_EMU__mm256_storeu_si256
#define QK_EMU__mm256_storeu_si256
static inline void _mm256_storeu_si256(__m256i* mem_addr, __m256i a) { std::memcpy(mem_addr, a.bytes, 32); }
#endif

// VPUNPCKLBW ymm, ymm, ymm AVX2: per 128-bit lane l, dst.byte[16l + 2i] := a.byte[16l + i],
// dst.byte[16l + 2i + 1] := b.byte[16l + i], i = 0..7 (VPUNPCKHBW: i = 8..15 of each lane)
#ifndef QK_EMU__mm256_unpacklo_epi8
#define QK_EMU__mm256_unpacklo_epi8
static inline __m256i _mm256_unpacklo_epi8(__m256i a, __m256i b) { return qk_avx512emu::Unpack<uint8_t>(a, b, 0); }
static inline __m256i _mm256_unpackhi_epi8(__m256i a, __m256i b) { return qk_avx512emu::Unpack<uint8_t>(a, b, 1); }
#endif

// VPMOVZXBW zmm, ymm AVX512BW: dst.word[j] := ZeroExtend16(a.byte[j]), j = 0..31
#ifndef QK_EMU__mm512_cvtepu8_epi16
#define QK_EMU__mm512_cvtepu8_epi16
static inline __m512i _mm512_cvtepu8_epi16(__m256i a) {
  return qk_avx512emu::Convert<uint16_t, uint8_t, __m512i>(a, [](uint8_t x) { return static_cast<uint16_t>(x); });
}
#endif

// VSHUFI64X2 / VSHUFF32X4 zmm, zmm, zmm, imm8 AVX512F: 128-bit lanes 0, 1 of dst are lanes
// imm8[1:0], imm8[3:2] of a; lanes 2, 3 are lanes imm8[5:4], imm8[7:6] of b
#ifndef QK_EMU__mm512_shuffle_i64x2
#define QK_EMU__mm512_shuffle_i64x2
template <typename V>
static inline V qk_emu_shuffle_x4(const V& a, const V& b, int imm8) {
  V dst;
  for (int l = 0; l < 4; ++l) {
    const V& src = l < 2 ? a : b;
    std::memcpy(dst.bytes + 16 * l, src.bytes + 16 * ((imm8 >> (2 * l)) & 3), 16);
  }
  return dst;
}
static inline __m512i _mm512_shuffle_i64x2(__m512i a, __m512i b, const int imm8) { return qk_emu_shuffle_x4(a, b, imm8); }
static inline __m512 _mm512_shuffle_f32x4(__m512 a, __m512 b, const int imm8) { return qk_emu_shuffle_x4(a, b, imm8); }
#endif

// VPACKUSDW zmm, zmm, zmm AVX512BW: per 128-bit lane l, words 0-3 := SaturateU16(a.dword[4l + i]),
// words 4-7 := SaturateU16(b.dword[4l + i])
#ifndef QK_EMU__mm512_packus_epi32
#define QK_EMU__mm512_packus_epi32
static inline __m512i _mm512_packus_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::PackSaturate<int32_t, uint16_t>(a, b, 0, 65535);
}
#endif

// VPACKUSWB zmm, zmm, zmm AVX512BW: per 128-bit lane l, bytes 0-7 := SaturateU8(a.word[8l + i]),
// bytes 8-15 := SaturateU8(b.word[8l + i]) (words read as signed)
#ifndef QK_EMU__mm512_packus_epi16
#define QK_EMU__mm512_packus_epi16
static inline __m512i _mm512_packus_epi16(__m512i a, __m512i b) {
  return qk_avx512emu::PackSaturate<int16_t, uint8_t>(a, b, 0, 255);
}
#endif

// VPERMD zmm, zmm, zmm AVX512F: dst.dword[j] := a.dword[idx.dword[j] & 15]
#ifndef QK_EMU__mm512_permutexvar_epi32
#define QK_EMU__mm512_permutexvar_epi32
static inline __m512i _mm512_permutexvar_epi32(__m512i idx, __m512i a) {
  __m512i dst;
  for (int j = 0; j < 16; ++j) {
    qk_avx512emu::Put<int32_t>(dst, j, qk_avx512emu::Get<int32_t>(a, qk_avx512emu::Get<int32_t>(idx, j) & 15));
  }
  return dst;
}
#endif

// ---- the depthwise kernel's quad path (256-bit AVX512_VNNI + AVX512VL forms, AVX2 shuffles) ----
// Each is its 512-bit counterpart's per-element operation on 8 (or 32) lanes; shim-test.cc
// checks them against those counterparts lane by lane.

// VMOVDQA ymm, m256 AVX (aligned: the emulation does not check the alignment)
static inline __m256i _mm256_load_si256(__m256i const* mem_addr) { return _mm256_loadu_si256(mem_addr); }

// VINSERTI128 / VINSERTF128 of two unaligned 128-bit loads: low 128 bits := MEM[lo], high := MEM[hi]
static inline __m256i _mm256_loadu2_m128i(__m128i const* hi, __m128i const* lo) {
  __m256i dst;
  std::memcpy(dst.bytes, lo, 16);
  std::memcpy(dst.bytes + 16, hi, 16);
  return dst;
}
static inline __m256 _mm256_loadu2_m128(float const* hi, float const* lo) {
  __m256 dst;
  std::memcpy(dst.bytes, lo, 16);
  std::memcpy(dst.bytes + 16, hi, 16);
  return dst;
}

// VPBROADCASTB / VPBROADCASTD / VBROADCASTSS ymm, VPXOR ymm (zero)
static inline __m256i _mm256_set1_epi8(char a) { return qk_avx512emu::Broadcast<char, __m256i>(a); }
static inline __m256i _mm256_set1_epi32(int a) { return qk_avx512emu::Broadcast<int32_t, __m256i>(a); }
static inline __m256 _mm256_set1_ps(float a) { return qk_avx512emu::Broadcast<float, __m256>(a); }
static inline __m256i _mm256_setzero_si256() { return __m256i{}; }

// VPADDD / VPSUBD ymm (wrapping)
static inline __m256i _mm256_add_epi32(__m256i a, __m256i b) { return qk_avx512emu::Map<int32_t>(a, b, qk_avx512emu::AddInt32); }
static inline __m256i _mm256_sub_epi32(__m256i a, __m256i b) { return qk_avx512emu::Map<int32_t>(a, b, qk_avx512emu::SubInt32); }

// VADDPS / VMULPS / VMINPS / VMAXPS ymm (a is the first source: NaN rules of SDM Vol. 1 Table 4-7)
static inline __m256 _mm256_add_ps(__m256 a, __m256 b) {
  return qk_avx512emu::Map<float>(a, b, [](float x, float y) { return qk_avx512emu::Arithmetic(x, y, [](float p, float q) { return p + q; }); });
}
static inline __m256 _mm256_mul_ps(__m256 a, __m256 b) { return qk_avx512emu::Map<float>(a, b, qk_avx512emu::MulFp32); }
static inline __m256 _mm256_min_ps(__m256 a, __m256 b) { return qk_avx512emu::Map<float>(a, b, qk_avx512emu::MinFp32); }
static inline __m256 _mm256_max_ps(__m256 a, __m256 b) { return qk_avx512emu::Map<float>(a, b, qk_avx512emu::MaxFp32); }

// VCVTDQ2PS / VCVTPS2DQ ymm (MXCSR.RC)
static inline __m256 _mm256_cvtepi32_ps(__m256i a) {
  return qk_avx512emu::Convert<float, int32_t, __m256>(a, qk_avx512emu::ConvertInt32ToFp32);
}
static inline __m256i _mm256_cvtps_epi32(__m256 a) {
  const int rounding_mode = std::fegetround();
  return qk_avx512emu::Convert<int32_t, float, __m256i>(
      a, [rounding_mode](float x) { return qk_avx512emu::ConvertFp32ToInt32(x, rounding_mode); });
}

// VPUNPCKLWD / VPUNPCKHWD ymm: per 128-bit lane, words 0-3 (4-7) of a and b interleaved
static inline __m256i _mm256_unpacklo_epi16(__m256i a, __m256i b) { return qk_avx512emu::Unpack<uint16_t>(a, b, 0); }
static inline __m256i _mm256_unpackhi_epi16(__m256i a, __m256i b) { return qk_avx512emu::Unpack<uint16_t>(a, b, 1); }

// VPACKUSDW / VPACKUSWB ymm: per 128-bit lane, as the 512-bit forms
static inline __m256i _mm256_packus_epi32(__m256i a, __m256i b) {
  return qk_avx512emu::PackSaturate<int32_t, uint16_t>(a, b, 0, 65535);
}
static inline __m256i _mm256_packus_epi16(__m256i a, __m256i b) { return qk_avx512emu::PackSaturate<int16_t, uint8_t>(a, b, 0, 255); }

// VPDPBUSD ymm AVX512_VNNI + AVX512VL: dword j := src.dword[j] + four u8 x s8 products (wrapping)
static inline __m256i _mm256_dpbusd_epi32(__m256i src, __m256i a, __m256i b) {
  __m256i dst{};
  for (int j = 0; j < 8; ++j) qk_avx512emu::Put<int32_t>(dst, j, qk_avx512emu::DotBytesUnsignedSigned(src, a, b, j));
  return dst;
}
