// AVX-512 GEMM tiles of 8 rows x 32 columns: the zero-point correction and the requantized store shared by the 8x32c4 GEMM and indirect GEMM kernels.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ukernels/gemm/gemm.h"
#include "ukernels/gemm/requant-avx512.h"

// Row i of a tile for one k group: the four bytes at a<i> + offset broadcast to every dword,
// vpdpbusd with the group's weights w0 (columns 0-15) into c<i>0 and, when `upper`, w1 (16-31)
// into c<i>1. Expects a template parameter M (rows) in scope; rows >= M do nothing.
#define QK_AVX512_DPBUSD_ROW(i, offset, upper)                  \
  if (M > i) {                                                  \
    int32_t quad;                                               \
    std::memcpy(&quad, a##i + (offset), 4);                     \
    const __m512i av = _mm512_set1_epi32(quad);                 \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);             \
    if (upper) c##i##1 = _mm512_dpbusd_epi32(c##i##1, av, w1);  \
  }

// All 8 rows of a tile for one k group (rows >= M do nothing).
#define QK_AVX512_DPBUSD_ROWS(offset, upper) \
  QK_AVX512_DPBUSD_ROW(0, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(1, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(2, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(3, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(4, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(5, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(6, offset, upper)     \
  QK_AVX512_DPBUSD_ROW(7, offset, upper)

// The tile's 16 accumulators c<row><half> as named locals (kept in registers), zeroed, and the
// array form Avx512FinishTile32 takes once the loop is done.
#define QK_AVX512_TILE_ACCUMULATORS                                                                              \
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00; \
  __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00
#define QK_AVX512_TILE_RAW(name)                                                     \
  const __m512i name[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, \
                              {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}}

namespace qk {
namespace {

// Accumulators of up to 8 rows x 32 columns (columns 0-15, then 16-31).
struct Avx512Tile32 {
  __m512i acc[8][2];
};

// tile = raw + a_offset * colsum[j] + w_zp[j] * row_terms[i]  (wrapping int32) for the first M
// rows, with a_offset = -a_zp; header = the packed block's colsum[32] and w_zp[32].
template <size_t M>
inline void Avx512FinishTile32(const __m512i (&raw)[8][2], const int32_t* header, const int32_t* row_terms,
                               int32_t a_zero_point, Avx512Tile32* tile) {
  const __m512i a_offset = _mm512_set1_epi32(-a_zero_point);
  const __m512i col0 = _mm512_mullo_epi32(_mm512_loadu_si512(header), a_offset);
  const __m512i col1 = _mm512_mullo_epi32(_mm512_loadu_si512(header + 16), a_offset);
  const __m512i zp0 = _mm512_loadu_si512(header + 32);
  const __m512i zp1 = _mm512_loadu_si512(header + 48);
  for (size_t i = 0; i < M; ++i) {
    const __m512i rt = _mm512_set1_epi32(row_terms[i]);
    tile->acc[i][0] = _mm512_add_epi32(_mm512_add_epi32(raw[i][0], col0), _mm512_mullo_epi32(zp0, rt));
    tile->acc[i][1] = _mm512_add_epi32(_mm512_add_epi32(raw[i][1], col1), _mm512_mullo_epi32(zp1, rt));
  }
}

// Requantizes the first M rows and stores their first nc columns.
template <size_t M>
inline void Avx512StoreTile32U8(const Avx512Tile32& tile, size_t nc, uint8_t* y, size_t y_stride,
                                const GemmU8Params* p) {
  const Avx512Requant rq(p->lo, p->hi, p->y_zero_point_f, p->y_zero_point);
  const __m512i i0 = _mm512_loadu_si512(p->bias_int), i1 = _mm512_loadu_si512(p->bias_int + 16);
  const __m512 b0 = _mm512_loadu_ps(p->bias_term), b1 = _mm512_loadu_ps(p->bias_term + 16);
  const __m512 m0 = _mm512_loadu_ps(p->multiplier), m1 = _mm512_loadu_ps(p->multiplier + 16);
  const size_t n0 = nc < 16 ? nc : 16, n1 = nc - n0;
  for (size_t i = 0; i < M; ++i) {
    uint8_t* row = y + i * y_stride;
    Avx512StoreU8x16(row, rq.Apply(tile.acc[i][0], i0, b0, m0), n0);
    if (n1 != 0) Avx512StoreU8x16(row + 16, rq.Apply(tile.acc[i][1], i1, b1, m1), n1);
  }
}

}  // namespace
}  // namespace qk
