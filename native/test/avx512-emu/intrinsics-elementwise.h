// Emulated AVX-512 intrinsics used by the elementwise kernels (included by immintrin.h; see its end for the rules).
#pragma once

#include <cmath>

// VPBROADCASTB zmm, r8 AVX512BW
#ifndef QK_EMU__mm512_set1_epi8
#define QK_EMU__mm512_set1_epi8
static inline __m512i _mm512_set1_epi8(char a) { return qk_avx512emu::Broadcast<int8_t, __m512i>(static_cast<int8_t>(a)); }
#endif

// VPANDQ zmm, zmm, zmm AVX512F: dst := a AND b
#ifndef QK_EMU__mm512_and_si512
#define QK_EMU__mm512_and_si512
static inline __m512i _mm512_and_si512(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return static_cast<uint8_t>(x & y); });
}
#endif

// VPCMPEQB k, zmm, zmm AVX512BW: k[j] := (a.byte[j] == b.byte[j])
#ifndef QK_EMU__mm512_cmpeq_epi8_mask
#define QK_EMU__mm512_cmpeq_epi8_mask
static inline __mmask64 _mm512_cmpeq_epi8_mask(__m512i a, __m512i b) {
  __mmask64 k = 0;
  for (int j = 0; j < 64; ++j) {
    if (qk_avx512emu::Get<uint8_t>(a, j) == qk_avx512emu::Get<uint8_t>(b, j)) k |= (uint64_t{1} << j);
  }
  return k;
}
#endif

// VPSHUFB zmm {k}, zmm, zmm AVX512BW:
//   FOR j := 0 to 63: i := j*8
//     IF k[j]: IF b[i+7] == 1 THEN dst[i+7:i] := 0
//              ELSE index[5:0] := (b[i+3:i] + (j & 0x30)); dst[i+7:i] := a[index*8+7:index*8]
//     ELSE dst[i+7:i] := src[i+7:i]
#ifndef QK_EMU__mm512_mask_shuffle_epi8
#define QK_EMU__mm512_mask_shuffle_epi8
static inline __m512i _mm512_mask_shuffle_epi8(__m512i src, __mmask64 k, __m512i a, __m512i b) {
  __m512i dst{};
  for (int j = 0; j < 64; ++j) {
    uint8_t value = qk_avx512emu::Get<uint8_t>(src, j);
    if (qk_avx512emu::Selected(k, j)) {
      const uint8_t control = qk_avx512emu::Get<uint8_t>(b, j);
      value = (control & 0x80) ? 0 : qk_avx512emu::Get<uint8_t>(a, (control & 0x0F) + (j & 0x30));
    }
    qk_avx512emu::Put<uint8_t>(dst, j, value);
  }
  return dst;
}
#endif

// VFMADD213PS zmm, zmm, zmm AVX512F: dst[j] := RoundFPControl(a[j] * b[j] + c[j]), one rounding;
// a NaN operand (first of a, b, c) comes back quieted, an invalid operation (inf * 0) gives the default NaN.
#ifndef QK_EMU__mm512_fmadd_ps
#define QK_EMU__mm512_fmadd_ps
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  __m512 dst{};
  for (int j = 0; j < 16; ++j) {
    const float x = qk_avx512emu::Get<float>(a, j), y = qk_avx512emu::Get<float>(b, j), z = qk_avx512emu::Get<float>(c, j);
    float r;
    if (qk_avx512emu::IsNaN(x)) r = qk_avx512emu::Quiet(x);
    else if (qk_avx512emu::IsNaN(y)) r = qk_avx512emu::Quiet(y);
    else if (qk_avx512emu::IsNaN(z)) r = qk_avx512emu::Quiet(z);
    else {
      r = std::fma(x, y, z);
      if (qk_avx512emu::IsNaN(r)) r = qk_avx512emu::FromBits(qk_avx512emu::kDefaultNaNBits);
    }
    qk_avx512emu::Put<float>(dst, j, r);
  }
  return dst;
}
#endif

// VADDPS zmm, zmm, zmm AVX512F
#ifndef QK_EMU__mm512_add_ps
#define QK_EMU__mm512_add_ps
static inline __m512 _mm512_add_ps(__m512 a, __m512 b) {
  return qk_avx512emu::Map<float>(a, b, [](float x, float y) {
    return qk_avx512emu::Arithmetic(x, y, [](float u, float v) { return u + v; });
  });
}
#endif

// VPMAXSD / VPMINSD zmm, zmm, zmm AVX512F
#ifndef QK_EMU__mm512_max_epi32
#define QK_EMU__mm512_max_epi32
static inline __m512i _mm512_max_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) { return x > y ? x : y; });
}
#endif

#ifndef QK_EMU__mm512_min_epi32
#define QK_EMU__mm512_min_epi32
static inline __m512i _mm512_min_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) { return x < y ? x : y; });
}
#endif

// VPMULLD zmm, zmm, zmm AVX512F: dst[j] := low 32 bits of a[j] * b[j]
#ifndef QK_EMU__mm512_mullo_epi32
#define QK_EMU__mm512_mullo_epi32
static inline __m512i _mm512_mullo_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) {
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(x) * y));
  });
}
#endif
