// AVX2 GEMM tiles of 16 columns: the per-row multiply-adds, the zero-point correction and the requantized / fp32 stores shared by the 6x16c2 and 4x16c4 kernels (GEMM and indirect GEMM).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ukernels/gemm/gemm.h"
#include "ukernels/gemm/requant-avx2.h"

// The row macros below read row i's A at a<i> + offset and add into its accumulators c<i>0
// (columns 0-7) and c<i>1 (8-15), named locals (not an array) so that the compiler keeps them
// in registers; rows >= M (a compile-time constant) do nothing.

// One k group of the c2 layouts: (a0, a1) as an int16 pair in every dword, vpmaddwd with the
// 16 columns' sign-extended weight pairs w0 / w1 (exact for any operands).
#define QK_AVX2_MADDWD_ROW(i, offset)                                \
  if (M > i) {                                                       \
    int32_t pair;                                                    \
    std::memcpy(&pair, a##i + (offset), 4);                          \
    const __m256i av = _mm256_set1_epi32(pair);                      \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(av, w0));  \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(av, w1));  \
  }

// One k group of the c4 layouts: 4 uint8 a in every dword, vpmaddubsw with the 16 columns' int8
// weight quads w0 / w1 (int16 pair sums: saturate unless proven not to, doc/gemm.md), then
// vpmaddwd with `ones` into int32.
#define QK_AVX2_MADDUBSW_ROW(i, offset)                                                         \
  if (M > i) {                                                                                  \
    int32_t quad;                                                                               \
    std::memcpy(&quad, a##i + (offset), 4);                                                     \
    const __m256i av = _mm256_set1_epi32(quad);                                                 \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(av, w0), ones)); \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(av, w1), ones)); \
  }

// The 6 rows of a 6x16c2 tile (vpmaddwd) and the 4 rows of a 4x16c4 tile (vpmaddubsw) for one
// k group, with their accumulators declared (zeroed) by the _ACCUMULATORS macros.
#define QK_AVX2_MADDWD_ROWS6(offset) \
  QK_AVX2_MADDWD_ROW(0, offset)      \
  QK_AVX2_MADDWD_ROW(1, offset)      \
  QK_AVX2_MADDWD_ROW(2, offset)      \
  QK_AVX2_MADDWD_ROW(3, offset)      \
  QK_AVX2_MADDWD_ROW(4, offset)      \
  QK_AVX2_MADDWD_ROW(5, offset)
#define QK_AVX2_MADDUBSW_ROWS4(offset) \
  QK_AVX2_MADDUBSW_ROW(0, offset)      \
  QK_AVX2_MADDUBSW_ROW(1, offset)      \
  QK_AVX2_MADDUBSW_ROW(2, offset)      \
  QK_AVX2_MADDUBSW_ROW(3, offset)
#define QK_AVX2_ACCUMULATORS4                                                                                        \
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00
#define QK_AVX2_ACCUMULATORS6 \
  QK_AVX2_ACCUMULATORS4;      \
  __m256i c40 = c00, c41 = c00, c50 = c00, c51 = c00

namespace qk {
namespace {

// Accumulators of up to MR rows x 16 columns (columns 0-7, then 8-15).
template <size_t MR>
struct Avx2Tile16 {
  __m256i acc[MR][2];
};

// tile = raw + a_offset * colsum[j] + w_zp[j] * row_terms[i]  (wrapping int32) for the first M
// rows, with a_offset = -a_zp; header = the packed block's colsum[16] and w_zp[16].
template <size_t M, size_t MR>
inline void Avx2FinishTile16(const __m256i (&raw)[MR][2], const int32_t* header, const int32_t* row_terms,
                             int32_t a_zero_point, Avx2Tile16<MR>* tile) {
  const __m256i a_offset = _mm256_set1_epi32(-a_zero_point);
  const __m256i col0 = _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(header)), a_offset);
  const __m256i col1 = _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(header + 8)), a_offset);
  const __m256i zp0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(header + 16));
  const __m256i zp1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(header + 24));
  for (size_t i = 0; i < M; ++i) {
    const __m256i rt = _mm256_set1_epi32(row_terms[i]);
    tile->acc[i][0] = _mm256_add_epi32(_mm256_add_epi32(raw[i][0], col0), _mm256_mullo_epi32(zp0, rt));
    tile->acc[i][1] = _mm256_add_epi32(_mm256_add_epi32(raw[i][1], col1), _mm256_mullo_epi32(zp1, rt));
  }
}

// Requantizes the first M rows and stores their first nc columns.
template <size_t M, size_t MR>
inline void Avx2StoreTile16U8(const Avx2Tile16<MR>& tile, size_t nc, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  const Avx2Requant rq(p->lo, p->hi, p->y_zero_point_f, p->y_zero_point);
  const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p->bias_int));
  const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p->bias_int + 8));
  const __m256 b0 = _mm256_loadu_ps(p->bias_term), b1 = _mm256_loadu_ps(p->bias_term + 8);
  const __m256 m0 = _mm256_loadu_ps(p->multiplier), m1 = _mm256_loadu_ps(p->multiplier + 8);
  for (size_t i = 0; i < M; ++i) {
    Avx2StoreU8x16(y + i * y_stride, rq.Apply(tile.acc[i][0], i0, b0, m0), rq.Apply(tile.acc[i][1], i1, b1, m1), nc);
  }
}

// Scales the first M rows to fp32 and stores their first nc columns.
template <size_t M, size_t MR>
inline void Avx2StoreTile16F32(const Avx2Tile16<MR>& tile, size_t nc, float* y, size_t y_stride, const GemmF32Params* p) {
  const __m256 s0 = _mm256_loadu_ps(p->scale), s1 = _mm256_loadu_ps(p->scale + 8);
  const size_t n0 = nc < 8 ? nc : 8, n1 = nc - n0;
  for (size_t i = 0; i < M; ++i) {
    float* row = y + i * y_stride;
    Avx2StoreScaledF32x8(row, tile.acc[i][0], s0, p->bias, p->relu, n0);
    if (n1 != 0) Avx2StoreScaledF32x8(row + 8, tile.acc[i][1], s1, p->bias != nullptr ? p->bias + 8 : nullptr, p->relu, n1);
  }
}

}  // namespace
}  // namespace qk
