// The AVX2 bag loop of the embedding kernels: output columns held in registers across a bag, each row added as PyTorch's double multiply-add rounds it.
//
// PyTorch computes out = float(double(s) * q + double(t)) with t = out + b. The product
// s * q (24-bit significand times an integer < 256) is exact, so the double result is the
// exact sum S = s*q + t rounded to double, then to float. Whenever S itself fits in a
// double (53 bits), that is S rounded once to float: exactly what an fp32 FMA computes.
// S fits when the exponents of s and t are close: with E(x) the biased exponent field
// (at least 1), msb(s*q) <= E(s) - 119 and lsb >= E(s) - 150, msb(t) <= E(t) - 127 and
// lsb >= E(t) - 150, so the span of S is at most 53 bits when
//   E(s) - 20 <= E(t) <= E(s) + 28.
// On the magnitude bits m of t (sign cleared) that window is low <= m < high with
// low = (E(s) - 20) << 23 and high = (min(E(s) + 28, 254) + 1) << 23 (m < high also rules
// out inf/NaN t; for an inf/NaN s, high = 0 empties the window), i.e. the sign bit of
// (m - high) is set and that of (m - low) is clear: three integer operations per eight
// lanes, and-ed over all the vectors of a row, one movemask per row. A row whose every
// lane is inside takes fp32 FMAs; otherwise each vector of the row is checked again on its
// own, with t = 0 (always exact: the sum is s*q) accepted too, and takes the fp32 FMA or
// the double multiply-add the scalar kernel always computes (never wrong, only slower).
// Rejected although exact: a subnormal t, and t's of such size that m - low would
// overflow (only when E(s) < 20): both rare.
//
// The accumulation order per output element is the scalar kernel's (row after row); only
// the columns are split into chunks of up to 64 (eight registers), each chunk running
// over all rows of the bag, which changes no result since columns are independent.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ukernels/embedding/embedding-common.h"

namespace qk {
namespace embedding {

// A row's constants: s as float and double, b, and the magnitude window of the fast path.
struct RowConstantsAvx2 {
  __m256 scale;
  __m256d scale_double;
  __m256 bias;
  __m256i low;   // lanes' magnitude bits must be >= low
  __m256i high;  // and < high
};

static inline RowConstantsAvx2 MakeRowConstantsAvx2(float scale, float bias) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF);
  if (e == 0) e = 1;
  RowConstantsAvx2 c;
  c.scale = _mm256_set1_ps(scale);
  c.scale_double = _mm256_set1_pd(scale);
  c.bias = _mm256_set1_ps(bias);
  c.low = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(e - 20) << 23));
  c.high = _mm256_set1_epi32(e == 255 ? 0 : ((e + 28 < 254 ? e + 28 : 254) + 1) << 23);
  return c;
}

// Sign bit set in each lane whose t is inside the row's fast-path window.
static inline __m256i InsideWindowAvx2(__m256 t, const RowConstantsAvx2& c) {
  const __m256i magnitude = _mm256_and_si256(_mm256_castps_si256(t), _mm256_set1_epi32(0x7FFFFFFF));
  return _mm256_andnot_si256(_mm256_sub_epi32(magnitude, c.low), _mm256_sub_epi32(magnitude, c.high));
}

// float(double(s) * q + double(t)) for the eight int32 lanes q32.
static inline __m256 MultiplyAddDoubleAvx2(__m256i q32, const RowConstantsAvx2& c, __m256 t) {
  const __m256d lo = _mm256_fmadd_pd(c.scale_double, _mm256_cvtepi32_pd(_mm256_castsi256_si128(q32)),
                                     _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
  const __m256d hi = _mm256_fmadd_pd(c.scale_double, _mm256_cvtepi32_pd(_mm256_extracti128_si256(q32, 1)),
                                     _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

// The slow path of a row, on the chunk stored in out: each vector checked on its own, now
// also accepting t = 0 (exact: the sum is s*q), which the row-wide check leaves out; an
// all-inside vector takes the fp32 FMA, any other the double multiply-add. Columns whose
// sums stay 0 (rows of zeros with bias 0) thus keep the fast path. Out of line and
// through memory, so that the fast loop keeps its accumulators in registers (their
// address is never taken).
template <int kVectors, typename LoadQ>
__attribute__((noinline)) static void RowDoubleAvx2(const uint8_t* row, size_t column, const RowConstantsAvx2& c,
                                                    const LoadQ& load_q, float* out) {
  for (int v = 0; v < kVectors; ++v) {
    float* p = out + column + 8 * v;
    const __m256 t = _mm256_add_ps(_mm256_loadu_ps(p), c.bias);
    const __m256i q32 = load_q(row, column + 8 * v);
    const __m256i zero = _mm256_cmpeq_epi32(_mm256_slli_epi32(_mm256_castps_si256(t), 1), _mm256_setzero_si256());
    if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(InsideWindowAvx2(t, c), zero))) == 0xFF) {
      _mm256_storeu_ps(p, _mm256_fmadd_ps(c.scale, _mm256_cvtepi32_ps(q32), t));
    } else {
      _mm256_storeu_ps(p, MultiplyAddDoubleAvx2(q32, c, t));
    }
  }
}

// The exact pass over columns [column, column + 8 * kVectors) of a bag, held in kVectors
// registers over all its rows, each row's window checked on its own. load_q(row, j) gives the
// eight quantized values of columns j .. j + 8 as int32. Prefetches ahead when `prefetch`.
template <int kBits, int kVectors, typename LoadQ>
static inline void BagChunkExactAvx2(size_t dim, size_t column, size_t count, size_t lookahead, const uint8_t* const* rows,
                                     const float* weights, bool prefetch, const LoadQ& load_q, float* out) {
  const size_t row_bytes = kBits == 8 ? U8RowBytes(dim) : U4RowBytes(dim);
  __m256 acc[kVectors];
  for (int v = 0; v < kVectors; ++v) acc[v] = _mm256_loadu_ps(out + column + 8 * v);
  for (size_t i = 0; i < count; ++i) {
    if (prefetch) PrefetchRow(rows, i, lookahead, row_bytes);
    const uint8_t* row = rows[i];
    const float weight = weights != nullptr ? weights[i] : 1.0f;
    float scale, bias;
    if (kBits == 8) {
      U8ScaleBias(row, dim, weight, &scale, &bias);
    } else {
      U4ScaleBias(row, dim, weight, &scale, &bias);
    }
    const RowConstantsAvx2 c = MakeRowConstantsAvx2(scale, bias);
    // t = acc + b is computed again after the check rather than kept: sixteen live
    // registers would spill.
    __m256i inside = _mm256_set1_epi32(-1);
    for (int v = 0; v < kVectors; ++v) inside = _mm256_and_si256(inside, InsideWindowAvx2(_mm256_add_ps(acc[v], c.bias), c));
    if (_mm256_movemask_ps(_mm256_castsi256_ps(inside)) == 0xFF) {
      for (int v = 0; v < kVectors; ++v) {
        acc[v] = _mm256_fmadd_ps(c.scale, _mm256_cvtepi32_ps(load_q(row, column + 8 * v)), _mm256_add_ps(acc[v], c.bias));
      }
    } else {
      for (int v = 0; v < kVectors; ++v) _mm256_storeu_ps(out + column + 8 * v, acc[v]);
      RowDoubleAvx2<kVectors>(row, column, c, load_q, out);
      for (int v = 0; v < kVectors; ++v) acc[v] = _mm256_loadu_ps(out + column + 8 * v);
    }
  }
  for (int v = 0; v < kVectors; ++v) _mm256_storeu_ps(out + column + 8 * v, acc[v]);
}

// A 4-bit row's two halves (scale low, bias high) as floats, with F16C.
static inline void HalvesToFloatsF16c(uint32_t halves, float* scale, float* bias) {
  const __m128 pair = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int32_t>(halves)));
  *scale = _mm_cvtss_f32(pair);
  *bias = _mm_cvtss_f32(_mm_movehdup_ps(pair));
}

// The optimistic pass (embedding-avx512.h explains it): every row with fp32 FMAs while the
// smallest magnitude of t (unsigned min of its bits, sign cleared; two running minima, so
// that a row's eight vectors are not one chain) is tracked, and BagScaleBound bounds the
// largest |t| and the range of |s| from the rows' s and b; if the bag's window holds, every
// row was exact. Otherwise the chunk, untouched in out, goes through the exact pass.
template <int kBits, int kVectors, bool kWeighted, typename LoadQ>
static inline void BagChunkAvx2(size_t dim, size_t column, size_t count, size_t lookahead, const uint8_t* const* rows,
                                const float* weights, bool prefetch, const LoadQ& load_q, float* out) {
  const size_t row_bytes = kBits == 8 ? U8RowBytes(dim) : U4RowBytes(dim);
  const __m256i magnitude_bits = _mm256_set1_epi32(0x7FFFFFFF);
  constexpr int kMinima = kVectors < 2 ? kVectors : 2;
  __m256 acc[kVectors];
  __m256i start_max = _mm256_setzero_si256(), magnitude_min[kMinima];
  for (int v = 0; v < kVectors; ++v) {
    acc[v] = _mm256_loadu_ps(out + column + 8 * v);
    start_max = _mm256_max_epu32(start_max, _mm256_and_si256(_mm256_castps_si256(acc[v]), magnitude_bits));
  }
  for (int m = 0; m < kMinima; ++m) magnitude_min[m] = _mm256_set1_epi32(-1);
  BagScaleBound bound;
  for (size_t i = 0; i < count; ++i) {
    if (prefetch) PrefetchRow(rows, i, lookahead, row_bytes);
    const uint8_t* row = rows[i];
    float scale, bias;
    RowScaleBiasFields<kBits>(row, dim, kWeighted ? weights : nullptr, i, HalvesToFloatsF16c, &scale, &bias, &bound);
    const __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(bias);
    for (int v = 0; v < kVectors; ++v) {
      const __m256 t = _mm256_add_ps(acc[v], b);
      magnitude_min[v % kMinima] =
          _mm256_min_epu32(magnitude_min[v % kMinima], _mm256_and_si256(_mm256_castps_si256(t), magnitude_bits));
      acc[v] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(load_q(row, column + 8 * v)), t);
    }
  }
  if (count > 0) {
    const __m256i lowest = kMinima > 1 ? _mm256_min_epu32(magnitude_min[0], magnitude_min[kMinima - 1]) : magnitude_min[0];
    uint32_t lanes_min[8], lanes_start[8];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes_min), lowest);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes_start), start_max);
    uint32_t low = lanes_min[0], high = lanes_start[0];
    for (int j = 1; j < 8; ++j) {
      low = lanes_min[j] < low ? lanes_min[j] : low;
      high = lanes_start[j] > high ? lanes_start[j] : high;
    }
    if (!bound.Holds(count, low, high)) {
      BagChunkExactAvx2<kBits, kVectors>(dim, column, count, lookahead, rows, weights, false, load_q, out);
      return;
    }
  }
  for (int v = 0; v < kVectors; ++v) _mm256_storeu_ps(out + column + 8 * v, acc[v]);
}

// A whole bag: chunks of 64 columns, then one of 8..56, then the last dim % 8 columns by
// the scalar loop (which prefetches as well: a second prefetch of a line is cheap).
template <int kBits, bool kWeighted, typename LoadQ>
static inline void BagColumnsAvx2(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
                                  const float* weights, const LoadQ& load_q, float* out) {
  const size_t vector_end = dim / 8 * 8;
  size_t column = 0;
  for (; column + 64 <= vector_end; column += 64) {
    BagChunkAvx2<kBits, 8, kWeighted>(dim, column, count, lookahead, rows, weights, column == 0, load_q, out);
  }
  const bool prefetch = column == 0;
  switch ((vector_end - column) / 8) {
    case 7: BagChunkAvx2<kBits, 7, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    case 6: BagChunkAvx2<kBits, 6, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    case 5: BagChunkAvx2<kBits, 5, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    case 4: BagChunkAvx2<kBits, 4, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    case 3: BagChunkAvx2<kBits, 3, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    case 2: BagChunkAvx2<kBits, 2, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    case 1: BagChunkAvx2<kBits, 1, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, load_q, out); break;
    default: break;
  }
  if (vector_end < dim) {
    ForEachBagRow<kBits>(dim, count, lookahead, rows, weights, [&](const uint8_t* row, float scale, float bias) {
      if (kBits == 8) {
        U8RowTail(vector_end, dim, row, scale, bias, out);
      } else {
        U4RowTail(vector_end, dim, row, scale, bias, out);
      }
    });
  }
}

// A whole bag, its optimistic passes compiled apart for weighted and unweighted bags.
template <int kBits, typename LoadQ>
static inline void BagAvx2(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows, const float* weights,
                           const LoadQ& load_q, float* out) {
  if (count == 0) return;  // nothing to add (and no row to prefetch for: the next bag does)
  if (weights != nullptr) {
    BagColumnsAvx2<kBits, true>(dim, count, lookahead, rows, weights, load_q, out);
  } else {
    BagColumnsAvx2<kBits, false>(dim, count, lookahead, rows, nullptr, load_q, out);
  }
}

}  // namespace embedding
}  // namespace qk
