// Emulated AVX-512 intrinsics used by the elementwise kernels (included by immintrin.h; see its end for the rules).
#pragma once

#include <cmath>

// VPBROADCASTB zmm, r8 AVX512BW
#ifndef QK_EMU__mm512_set1_epi8
#define QK_EMU__mm512_set1_epi8
static inline __m512i _mm512_set1_epi8(char a) { return qk_avx512emu::Broadcast<int8_t, __m512i>(static_cast<int8_t>(a)); }
#endif

// VPANDQ zmm, zmm, zmm AVX512F: dst := a AND b

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

// VADDPS zmm, zmm, zmm AVX512F

// VPMAXSD / VPMINSD zmm, zmm, zmm AVX512F

// VPMULLD zmm, zmm, zmm AVX512F: dst[j] := low 32 bits of a[j] * b[j]
