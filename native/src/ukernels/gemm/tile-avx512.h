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

// Where the output stage's zero point goes (GemmU8Params): kAfter, y_zp_f == 0 (fbgemm,
// qnnpack: the int add after rounding only); kBefore, y_zp_i == 0 (onednn: the fp32 add before
// rounding only). Skipping the other add changes nothing: + 0 is exact, and t + 0.0f differs
// from t only for t = -0.0f, which rounds to 0 either way.
enum class Avx512ZeroPointAt { kAfter, kBefore };

template <Avx512ZeroPointAt kAt>
inline __m512i Avx512RequantLean(__m512i acc, __m512 bias_term, __m512 multiplier, __m512 lo, __m512 hi,
                                 __m512 y_zp_f, __m512i y_zp_i) {
  __m512 t = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(acc), bias_term), multiplier);
  t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
  if (kAt == Avx512ZeroPointAt::kBefore) return _mm512_cvtps_epi32(_mm512_add_ps(t, y_zp_f));
  return _mm512_add_epi32(_mm512_cvtps_epi32(t), y_zp_i);
}

// The u8 epilogue of a tile, leaner than Avx512FinishTile32 + Avx512StoreTile32U8 (the same
// bytes; the 3-channel stems' K of 27 to 147 left it a fifth to two thirds of the kernel's time,
// perf): bias_int is added to the column terms once per tile (int32 adds wrap, so the order is
// free), w_zp[j] * row_terms[i] only when some w_zp of the block is not 0, one zero-point add,
// and the bytes packed with vpackusdw / vpackuswb + vpermd into whole-row stores instead of a
// masked vpmovdb per 16 values. Only columns 0-15 when !kUpper (nc <= 16). For constants that
// keep every value in [0, 255] only (the packs saturate where vpmovdb truncates; the op's lo / hi
// and zero points always do): Avx512FinishStoreTile32U8 checks that and stores the general way
// otherwise.
template <size_t M, bool kUpper, Avx512ZeroPointAt kAt>
inline void Avx512LeanStoreTile32U8(const __m512i (&raw)[8][2], const int32_t* header, const int32_t* row_terms,
                                    size_t nc, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  constexpr size_t kHalves = kUpper ? 2 : 1;
  const __m512i a_offset = _mm512_set1_epi32(-p->a_zero_point);
  __m512i col[2], zp[2];
  __m512 bias_term[2], multiplier[2];
  __mmask16 zero_zp = 0xFFFF;
  for (size_t h = 0; h < kHalves; ++h) {
    col[h] = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_loadu_si512(header + 16 * h), a_offset),
                              _mm512_loadu_si512(p->bias_int + 16 * h));
    zp[h] = _mm512_loadu_si512(header + 32 + 16 * h);
    zero_zp &= _mm512_cmpeq_epi32_mask(zp[h], _mm512_setzero_si512());
    bias_term[h] = _mm512_loadu_ps(p->bias_term + 16 * h);
    multiplier[h] = _mm512_loadu_ps(p->multiplier + 16 * h);
  }
  const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi), y_zp_f = _mm512_set1_ps(p->y_zero_point_f);
  const __m512i y_zp_i = _mm512_set1_epi32(p->y_zero_point);
  // Row i's half h, requantized (rows are computed where they are packed: an array of them
  // all went through the stack).
  const auto value = [&](size_t i, size_t h) {
    __m512i acc = _mm512_add_epi32(raw[i][h], col[h]);
    if (zero_zp != 0xFFFF) acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(zp[h], _mm512_set1_epi32(row_terms[i])));
    return Avx512RequantLean<kAt>(acc, bias_term[h], multiplier[h], lo, hi, y_zp_f, y_zp_i);
  };
  // After vpackusdw(a, b) and vpackuswb(., vpackusdw(c, d)) dword 4l + j holds values 4l..4l+3
  // of a, b, c, d for j = 0..3: this gathers a, b, c, d back into 16-byte quarters.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  if (kUpper) {  // two rows per vector: row i's 32 columns, then row i + 1's
    const __mmask32 mask = nc >= 32 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << nc) - 1u);
    for (size_t i = 0; i < M; i += 2) {
      const size_t j = i + 1 < M ? i + 1 : i;
      const __m512i first_row = _mm512_packus_epi32(value(i, 0), value(i, 1));
      const __m512i second_row = j == i ? first_row : _mm512_packus_epi32(value(j, 0), value(j, 1));
      const __m512i bytes = _mm512_permutexvar_epi32(order, _mm512_packus_epi16(first_row, second_row));
      const __m256i first = _mm512_castsi512_si256(bytes), second = _mm512_extracti64x4_epi64(bytes, 1);
      uint8_t* row = y + i * y_stride;
      if (nc >= 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), first);
        if (i + 1 < M) _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + y_stride), second);
      } else {
        _mm256_mask_storeu_epi8(row, mask, first);
        if (i + 1 < M) _mm256_mask_storeu_epi8(row + y_stride, mask, second);
      }
    }
    return;
  }
  // Four rows per vector, 16 columns each (rows past M repeat the last one and are not stored).
  const __mmask16 mask = nc >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nc) - 1u);
  for (size_t i = 0; i < M; i += 4) {
    const __m512i v0 = value(i, 0);
    const __m512i v1 = i + 1 < M ? value(i + 1, 0) : v0, v2 = i + 2 < M ? value(i + 2, 0) : v1;
    const __m512i v3 = i + 3 < M ? value(i + 3, 0) : v2;
    const __m512i bytes =
        _mm512_permutexvar_epi32(order, _mm512_packus_epi16(_mm512_packus_epi32(v0, v1), _mm512_packus_epi32(v2, v3)));
    uint8_t* row = y + i * y_stride;
    if (nc == 16 && y_stride == 16 && i + 3 < M) {  // four whole rows back to back (a 16-channel output)
      _mm512_storeu_si512(row, bytes);
      continue;
    }
    const __m128i r0 = _mm512_extracti32x4_epi32(bytes, 0), r1 = _mm512_extracti32x4_epi32(bytes, 1);
    const __m128i r2 = _mm512_extracti32x4_epi32(bytes, 2), r3 = _mm512_extracti32x4_epi32(bytes, 3);
    if (nc >= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row), r0);
      if (i + 1 < M) _mm_storeu_si128(reinterpret_cast<__m128i*>(row + y_stride), r1);
      if (i + 2 < M) _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 2 * y_stride), r2);
      if (i + 3 < M) _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 3 * y_stride), r3);
    } else {
      _mm_mask_storeu_epi8(row, mask, r0);
      if (i + 1 < M) _mm_mask_storeu_epi8(row + y_stride, mask, r1);
      if (i + 2 < M) _mm_mask_storeu_epi8(row + 2 * y_stride, mask, r2);
      if (i + 3 < M) _mm_mask_storeu_epi8(row + 3 * y_stride, mask, r3);
    }
  }
}

// The u8 epilogue of a tile: the lean one when its zero-point add is one of the engines' two
// forms and its clamp keeps every value in [0, 255], else Avx512FinishTile32 + Avx512StoreTile32U8.
template <size_t M, bool kUpper>
inline void Avx512FinishStoreTile32U8(const __m512i (&raw)[8][2], const int32_t* header, const int32_t* row_terms,
                                      size_t nc, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  // kAfter: round(t) + y_zp_i with t in [lo, hi] lies in [0, 255] when lo + y_zp_i >= 0 and
  // hi + y_zp_i <= 255 (rounding is monotonic, the bounds integers); kBefore: round(t + y_zp_f)
  // when lo + y_zp_f >= 0 and hi + y_zp_f <= 255 in fp32 (the same add as the vector's).
  const bool ordered = p->lo <= p->hi;  // false for NaN bounds too
  const float zp_i = static_cast<float>(p->y_zero_point);  // exact: the check below keeps |y_zp_i| <= 255
  if (ordered && p->y_zero_point_f == 0.0f && p->y_zero_point >= -255 && p->y_zero_point <= 255 &&
      p->lo + zp_i >= 0.0f && p->hi + zp_i <= 255.0f) {
    Avx512LeanStoreTile32U8<M, kUpper, Avx512ZeroPointAt::kAfter>(raw, header, row_terms, nc, y, y_stride, p);
    return;
  }
  if (ordered && p->y_zero_point == 0 && p->lo + p->y_zero_point_f >= 0.0f && p->hi + p->y_zero_point_f <= 255.0f) {
    Avx512LeanStoreTile32U8<M, kUpper, Avx512ZeroPointAt::kBefore>(raw, header, row_terms, nc, y, y_stride, p);
    return;
  }
  Avx512Tile32 tile;
  Avx512FinishTile32<M>(raw, header, row_terms, p->a_zero_point, &tile);
  Avx512StoreTile32U8<M>(tile, nc, y, y_stride, p);
}

}  // namespace
}  // namespace qk
