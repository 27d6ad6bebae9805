// Emulated AVX-512 intrinsics used by the embedding kernels (included by immintrin.h; see its end for the rules).
#pragma once

// ---- set, load, store ----------------------------------------------------------------

#ifndef QK_EMU__mm256_set1_ps
#define QK_EMU__mm256_set1_ps
// (sequence) AVX: dst[j] := a for every lane
static inline __m256 _mm256_set1_ps(float a) { return qk_avx512emu::Broadcast<float, __m256>(a); }
#endif

#ifndef QK_EMU__mm512_set1_pd
#define QK_EMU__mm512_set1_pd
// VBROADCASTSD zmm AVX512F: dst.qword[j] := a
static inline __m512d _mm512_set1_pd(double a) { return qk_avx512emu::Broadcast<double, __m512d>(a); }
#endif

#ifndef QK_EMU__mm_set1_epi8
#define QK_EMU__mm_set1_epi8
// (sequence) SSE2: dst.byte[j] := a
static inline __m128i _mm_set1_epi8(char a) { return qk_avx512emu::Broadcast<int8_t, __m128i>(static_cast<int8_t>(a)); }
#endif

#ifndef QK_EMU__mm256_loadu_ps
#define QK_EMU__mm256_loadu_ps
// VMOVUPS ymm, m256 AVX: dst := MEM[mem_addr], 32 bytes, no alignment
static inline __m256 _mm256_loadu_ps(float const* mem_addr) {
  __m256 dst;
  std::memcpy(dst.bytes, mem_addr, 32);
  return dst;
}
#endif

#ifndef QK_EMU__mm256_storeu_ps
#define QK_EMU__mm256_storeu_ps
// VMOVUPS m256, ymm AVX: MEM[mem_addr] := a, 32 bytes, no alignment
static inline void _mm256_storeu_ps(float* mem_addr, __m256 a) { std::memcpy(mem_addr, a.bytes, 32); }
#endif

#ifndef QK_EMU__mm_loadl_epi64
#define QK_EMU__mm_loadl_epi64
// MOVQ xmm, m64 SSE2: dst.qword[0] := MEM[mem_addr], dst.qword[1] := 0
static inline __m128i _mm_loadl_epi64(__m128i const* mem_addr) {
  __m128i dst{};
  std::memcpy(dst.bytes, mem_addr, 8);
  return dst;
}
#endif

// ---- integer ---------------------------------------------------------------------------

#ifndef QK_EMU__mm_and_si128
#define QK_EMU__mm_and_si128
// PAND xmm, xmm SSE2: dst := a AND b
static inline __m128i _mm_and_si128(__m128i a, __m128i b) {
  return qk_avx512emu::Map<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return static_cast<uint8_t>(x & y); });
}
#endif

#ifndef QK_EMU__mm_srli_epi16
#define QK_EMU__mm_srli_epi16
// PSRLW xmm, imm8 SSE2: dst.word[j] := imm8 > 15 ? 0 : ZeroExtend(a.word[j] >> imm8)
static inline __m128i _mm_srli_epi16(__m128i a, int imm8) {
  return qk_avx512emu::Map<uint16_t>(a, [imm8](uint16_t x) {
    return static_cast<uint16_t>((imm8 & 0xFF) > 15 ? 0 : x >> (imm8 & 0xFF));
  });
}
#endif

#ifndef QK_EMU__mm_unpacklo_epi8
#define QK_EMU__mm_unpacklo_epi8
// PUNPCKLBW xmm, xmm SSE2: dst.byte[2i] := a.byte[i], dst.byte[2i+1] := b.byte[i], i in [0, 8)
static inline __m128i _mm_unpacklo_epi8(__m128i a, __m128i b) {
  __m128i dst{};
  for (int i = 0; i < 8; ++i) {
    dst.bytes[2 * i] = a.bytes[i];
    dst.bytes[2 * i + 1] = b.bytes[i];
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm_unpackhi_epi64
#define QK_EMU__mm_unpackhi_epi64
// PUNPCKHQDQ xmm, xmm SSE2: dst.qword[0] := a.qword[1], dst.qword[1] := b.qword[1]
static inline __m128i _mm_unpackhi_epi64(__m128i a, __m128i b) {
  __m128i dst{};
  std::memcpy(dst.bytes, a.bytes + 8, 8);
  std::memcpy(dst.bytes + 8, b.bytes + 8, 8);
  return dst;
}
#endif

#ifndef QK_EMU__mm256_cvtepu8_epi32
#define QK_EMU__mm256_cvtepu8_epi32
// VPMOVZXBD ymm, xmm AVX2: dst.dword[j] := ZeroExtend32(a.byte[j]), j in [0, 8)
static inline __m256i _mm256_cvtepu8_epi32(__m128i a) {
  return qk_avx512emu::Convert<int32_t, uint8_t, __m256i>(a, [](uint8_t x) { return static_cast<int32_t>(x); });
}
#endif

// ---- floating point --------------------------------------------------------------------
// Conversions between float and double are exact one way and a rounding in the current
// mode the other, as C++'s conversions on x86 (cvtss2sd / cvtsd2ss): NaNs stay NaN,
// quiet, with the payload kept (float -> double) or truncated (double -> float).

#ifndef QK_EMU__mm256_add_ps
#define QK_EMU__mm256_add_ps
// VADDPS ymm, ymm, ymm AVX: dst[j] := a[j] + b[j]
static inline __m256 _mm256_add_ps(__m256 a, __m256 b) {
  return qk_avx512emu::Map<float>(
      a, b, [](float x, float y) { return qk_avx512emu::Arithmetic(x, y, [](float p, float q) { return p + q; }); });
}
#endif

#ifndef QK_EMU__mm512_cvtepi32_pd
#define QK_EMU__mm512_cvtepi32_pd
// VCVTDQ2PD zmm, ymm AVX512F: dst.qword[j] := Convert_Int32_To_FP64(a.dword[j]) (exact)
static inline __m512d _mm512_cvtepi32_pd(__m256i a) {
  return qk_avx512emu::Convert<double, int32_t, __m512d>(a, [](int32_t x) { return static_cast<double>(x); });
}
#endif

#ifndef QK_EMU__mm512_cvtps_pd
#define QK_EMU__mm512_cvtps_pd
// VCVTPS2PD zmm, ymm AVX512F: dst.qword[j] := Convert_FP32_To_FP64(a[j]) (exact; NaN quieted)
static inline __m512d _mm512_cvtps_pd(__m256 a) {
  return qk_avx512emu::Convert<double, float, __m512d>(a, [](float x) {
    return static_cast<double>(qk_avx512emu::IsNaN(x) ? qk_avx512emu::Quiet(x) : x);
  });
}
#endif

#ifndef QK_EMU__mm512_cvtpd_ps
#define QK_EMU__mm512_cvtpd_ps
// VCVTPD2PS ymm, zmm AVX512F: dst[j] := Convert_FP64_To_FP32(a.qword[j]), rounded per MXCSR.RC
static inline __m256 _mm512_cvtpd_ps(__m512d a) {
  return qk_avx512emu::Convert<float, double, __m256>(a, [](double x) { return static_cast<float>(x); });
}
#endif

#ifndef QK_EMU__mm512_fmadd_pd
#define QK_EMU__mm512_fmadd_pd
// VFMADD231PD zmm, zmm, zmm AVX512F: dst.qword[j] := a[j] * b[j] + c[j], one rounding
static inline __m512d _mm512_fmadd_pd(__m512d a, __m512d b, __m512d c) {
  __m512d dst{};
  for (int j = 0; j < 8; ++j) {
    qk_avx512emu::Put<double>(dst, j,
                              std::fma(qk_avx512emu::Get<double>(a, j), qk_avx512emu::Get<double>(b, j),
                                       qk_avx512emu::Get<double>(c, j)));
  }
  return dst;
}
#endif
