// Emulated AVX-512 intrinsics used by the embedding kernels (included by immintrin.h; see its end for the rules).
#pragma once

// ---- set, load, store ----------------------------------------------------------------

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
static inline __m128i _mm_unpacklo_epi8(__m128i a, __m128i b) { return qk_avx512emu::Unpack<uint8_t>(a, b, 0); }
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

// ---- floating point --------------------------------------------------------------------
// Conversions between float and double are exact one way and a rounding in the current
// mode the other, as C++'s conversions on x86 (cvtss2sd / cvtsd2ss): NaNs stay NaN,
// quiet, with the payload kept (float -> double) or truncated (double -> float).

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

// ---- integer lanes of float vectors ------------------------------------------------------

#ifndef QK_EMU__mm512_castps_si512
#define QK_EMU__mm512_castps_si512
// (no instruction) AVX512F: the same 64 bytes as integers
static inline __m512i _mm512_castps_si512(__m512 a) {
  __m512i dst;
  std::memcpy(dst.bytes, a.bytes, 64);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_srli_epi32
#define QK_EMU__mm512_srli_epi32
// VPSRLD zmm, zmm, imm8 AVX512F: dst.dword[j] := imm8 > 31 ? 0 : a.dword[j] >> imm8 (logical)
static inline __m512i _mm512_srli_epi32(__m512i a, unsigned int imm8) {
  return qk_avx512emu::Map<uint32_t>(a, [imm8](uint32_t x) { return (imm8 & 0xFF) > 31 ? 0u : x >> (imm8 & 0xFF); });
}
#endif

#ifndef QK_EMU__mm512_cmpeq_epi32_mask
#define QK_EMU__mm512_cmpeq_epi32_mask
// VPCMPEQD k, zmm, zmm AVX512F: k[j] := a.dword[j] == b.dword[j]
static inline __mmask16 _mm512_cmpeq_epi32_mask(__m512i a, __m512i b) {
  __mmask16 k = 0;
  for (int j = 0; j < 16; ++j) {
    if (qk_avx512emu::Get<int32_t>(a, j) == qk_avx512emu::Get<int32_t>(b, j)) k = static_cast<__mmask16>(k | (1u << j));
  }
  return k;
}
#endif

#ifndef QK_EMU__mm512_cmpgt_epi32_mask
#define QK_EMU__mm512_cmpgt_epi32_mask
// VPCMPGTD k, zmm, zmm AVX512F: k[j] := a.dword[j] > b.dword[j] (signed)
static inline __mmask16 _mm512_cmpgt_epi32_mask(__m512i a, __m512i b) {
  __mmask16 k = 0;
  for (int j = 0; j < 16; ++j) {
    if (qk_avx512emu::Get<int32_t>(a, j) > qk_avx512emu::Get<int32_t>(b, j)) k = static_cast<__mmask16>(k | (1u << j));
  }
  return k;
}
#endif

// ---- halves of 512-bit vectors ---------------------------------------------------------

#ifndef QK_EMU__mm512_castsi512_si256
#define QK_EMU__mm512_castsi512_si256
// (no instruction) AVX512F: the low 256 bits
static inline __m256i _mm512_castsi512_si256(__m512i a) {
  __m256i dst;
  std::memcpy(dst.bytes, a.bytes, 32);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_extracti64x4_epi64
#define QK_EMU__mm512_extracti64x4_epi64
// VEXTRACTI64X4 ymm, zmm, imm8 AVX512F: dst := a[255:0] or a[511:256] by imm8[0]
static inline __m256i _mm512_extracti64x4_epi64(__m512i a, int imm8) {
  __m256i dst;
  std::memcpy(dst.bytes, a.bytes + 32 * (imm8 & 1), 32);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_castps512_ps256
#define QK_EMU__mm512_castps512_ps256
// (no instruction) AVX512F: the low 256 bits
static inline __m256 _mm512_castps512_ps256(__m512 a) {
  __m256 dst;
  std::memcpy(dst.bytes, a.bytes, 32);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_extractf32x8_ps
#define QK_EMU__mm512_extractf32x8_ps
// VEXTRACTF32X8 ymm, zmm, imm8 AVX512DQ: dst := a[255:0] or a[511:256] by imm8[0]
static inline __m256 _mm512_extractf32x8_ps(__m512 a, int imm8) {
  __m256 dst;
  std::memcpy(dst.bytes, a.bytes + 32 * (imm8 & 1), 32);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_castps256_ps512
#define QK_EMU__mm512_castps256_ps512
// (no instruction) AVX512F: a in the low 256 bits; the upper bits are undefined (zero here)
static inline __m512 _mm512_castps256_ps512(__m256 a) {
  __m512 dst{};
  std::memcpy(dst.bytes, a.bytes, 32);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_insertf32x8
#define QK_EMU__mm512_insertf32x8
// VINSERTF32X8 zmm, zmm, ymm, imm8 AVX512DQ: dst := a with its imm8[0] half replaced by b
static inline __m512 _mm512_insertf32x8(__m512 a, __m256 b, int imm8) {
  __m512 dst = a;
  std::memcpy(dst.bytes + 32 * (imm8 & 1), b.bytes, 32);
  return dst;
}
#endif

// ---- the optimistic bag loop (embedding-avx512.h BagChunkAvx512) --------------------------

#ifndef QK_EMU__mm_unpackhi_epi8
#define QK_EMU__mm_unpackhi_epi8
// PUNPCKHBW xmm, xmm SSE2: dst.byte[2i] := a.byte[8+i], dst.byte[2i+1] := b.byte[8+i], i in [0, 8)
static inline __m128i _mm_unpackhi_epi8(__m128i a, __m128i b) { return qk_avx512emu::Unpack<uint8_t>(a, b, 1); }
#endif

#ifndef QK_EMU__mm_cvtsi32_si128
#define QK_EMU__mm_cvtsi32_si128
// MOVD xmm, r32 SSE2: dst.dword[0] := a, the other dwords 0
static inline __m128i _mm_cvtsi32_si128(int a) {
  __m128i dst{};
  qk_avx512emu::Put<int32_t>(dst, 0, a);
  return dst;
}
#endif

#ifndef QK_EMU__mm_set1_ps
#define QK_EMU__mm_set1_ps
// (sequence) SSE: dst.fp32[j] := a
static inline __m128 _mm_set1_ps(float a) { return qk_avx512emu::Broadcast<float, __m128>(a); }
#endif

#ifndef QK_EMU__mm_mul_ps
#define QK_EMU__mm_mul_ps
// MULPS xmm, xmm SSE: dst.fp32[j] := a.fp32[j] * b.fp32[j] (C++ float multiply: IEEE, round to nearest)
static inline __m128 _mm_mul_ps(__m128 a, __m128 b) {
  return qk_avx512emu::Map<float>(a, b, [](float x, float y) { return x * y; });
}
#endif

#ifndef QK_EMU__mm_cvtss_f32
#define QK_EMU__mm_cvtss_f32
// MOVSS: the low fp32 lane
static inline float _mm_cvtss_f32(__m128 a) { return qk_avx512emu::Get<float>(a, 0); }
#endif

#ifndef QK_EMU__mm_movehdup_ps
#define QK_EMU__mm_movehdup_ps
// MOVSHDUP xmm, xmm SSE3: dst.fp32[2i] := dst.fp32[2i+1] := a.fp32[2i+1]
static inline __m128 _mm_movehdup_ps(__m128 a) {
  __m128 dst{};
  for (int i = 0; i < 2; ++i) {
    const uint32_t bits = qk_avx512emu::Get<uint32_t>(a, 2 * i + 1);
    qk_avx512emu::Put<uint32_t>(dst, 2 * i, bits);
    qk_avx512emu::Put<uint32_t>(dst, 2 * i + 1, bits);
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm_cvtph_ps
#define QK_EMU__mm_cvtph_ps
// VCVTPH2PS xmm, xmm F16C: dst.fp32[j] := Convert_FP16_To_FP32(a.word[j]), j in [0, 4): exact
// (subnormal halves become normal floats, DAZ not applied); a NaN is quieted (bit 22 set).
static inline __m128 _mm_cvtph_ps(__m128i a) {
  __m128 dst{};
  for (int j = 0; j < 4; ++j) {
    const uint16_t h = qk_avx512emu::Get<uint16_t>(a, j);
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
    if (exponent == 0x1Fu) {
      bits = sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0u);
    } else if (exponent != 0) {
      bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
      bits = sign;
    } else {
      exponent = 113u;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    qk_avx512emu::Put<uint32_t>(dst, j, bits);
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm512_setzero_ps
#define QK_EMU__mm512_setzero_ps
// VXORPS zmm AVX512F: all lanes +0.0
static inline __m512 _mm512_setzero_ps() { return __m512{}; }
#endif

#ifndef QK_EMU__mm512_castsi512_ps
#define QK_EMU__mm512_castsi512_ps
// (no instruction) AVX512F: the same 512 bits as fp32 lanes
static inline __m512 _mm512_castsi512_ps(__m512i a) {
  __m512 dst;
  std::memcpy(dst.bytes, a.bytes, 64);
  return dst;
}
#endif

#ifndef QK_EMU__mm512_range_ps
#define QK_EMU__mm512_range_ps
// VRANGEPS zmm, zmm, zmm, imm8 AVX512DQ: RangeFP32(a, b, imm8[1:0], imm8[3:2]) per lane.
//   imm8[1:0]: 0 min, 1 max, 2 min of |.|, 3 max of |.| (ties pick a for min, b for max);
//   imm8[3:2]: 0 the chosen lane's sign, 1 a's sign, 2 sign cleared, 3 sign set.
// A NaN operand gives that NaN quieted (a's first), with no sign control (SDM, VRANGEPS).
static inline __m512 _mm512_range_ps(__m512 a, __m512 b, int imm8) {
  return qk_avx512emu::Map<float>(a, b, [imm8](float x, float y) {
    uint32_t xb = qk_avx512emu::Bits(x), yb = qk_avx512emu::Bits(y);
    if (qk_avx512emu::IsNaN(x)) return qk_avx512emu::FromBits(xb | 0x00400000u);
    if (qk_avx512emu::IsNaN(y)) return qk_avx512emu::FromBits(yb | 0x00400000u);
    const bool absolute = (imm8 & 2) != 0;
    const float cx = absolute ? std::fabs(x) : x, cy = absolute ? std::fabs(y) : y;
    const bool x_le_y = cx <= cy;
    uint32_t r = (imm8 & 1) == 0 ? (x_le_y ? xb : yb) : (x_le_y ? yb : xb);
    switch ((imm8 >> 2) & 3) {
      case 1: r = (r & 0x7FFFFFFFu) | (xb & 0x80000000u); break;
      case 2: r &= 0x7FFFFFFFu; break;
      case 3: r |= 0x80000000u; break;
      default: break;
    }
    return qk_avx512emu::FromBits(r);
  });
}
#endif

#ifndef QK_EMU__mm512_reduce_min_epu32
#define QK_EMU__mm512_reduce_min_epu32
// (sequence) AVX512F: the smallest of the sixteen unsigned dwords
static inline unsigned int _mm512_reduce_min_epu32(__m512i a) {
  uint32_t m = qk_avx512emu::Get<uint32_t>(a, 0);
  for (int j = 1; j < 16; ++j) m = qk_avx512emu::Get<uint32_t>(a, j) < m ? qk_avx512emu::Get<uint32_t>(a, j) : m;
  return m;
}
#endif

#ifndef QK_EMU__mm512_reduce_max_epu32
#define QK_EMU__mm512_reduce_max_epu32
// (sequence) AVX512F: the largest of the sixteen unsigned dwords
static inline unsigned int _mm512_reduce_max_epu32(__m512i a) {
  uint32_t m = qk_avx512emu::Get<uint32_t>(a, 0);
  for (int j = 1; j < 16; ++j) m = qk_avx512emu::Get<uint32_t>(a, j) > m ? qk_avx512emu::Get<uint32_t>(a, j) : m;
  return m;
}
#endif
