// The AVX-512 step of the embedding kernels: sixteen output elements, as PyTorch's double multiply-add rounds them.
//
// Same scheme as embedding-avx2.h (whose comment derives it): an fp32 FMA where the exact
// sum fits in a double (t = 0, or its exponent near s's), checked for the sixteen t = out + b;
// otherwise two 512-bit double multiply-adds, as the scalar kernel computes every element.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ukernels/embedding/embedding-common.h"

namespace qk {
namespace embedding {

struct RowConstantsAvx512 {
  __m512 scale;
  __m512d scale_double;
  __m512 bias;
  __m512i exponent_low;   // E(s) - 21: lanes must be above
  __m512i exponent_high;  // min(E(s) + 28, 254) + 1: lanes must be below
  __m512i zero_magnitude;  // 0, or an impossible magnitude when s is inf/NaN (then no lane is safe)
};

static inline RowConstantsAvx512 MakeRowConstantsAvx512(float scale, float bias) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF);
  if (e == 0) e = 1;
  RowConstantsAvx512 c;
  c.scale = _mm512_set1_ps(scale);
  c.scale_double = _mm512_set1_pd(scale);
  c.bias = _mm512_set1_ps(bias);
  c.exponent_low = _mm512_set1_epi32(e == 255 ? 1000 : e - 21);
  c.exponent_high = _mm512_set1_epi32((e + 28 < 254 ? e + 28 : 254) + 1);
  c.zero_magnitude = _mm512_set1_epi32(e == 255 ? -1 : 0);
  return c;
}

// out[0..16) = float(double(s) * q + double(out + b)) for q the sixteen int32 lanes of q32.
static inline void AccumulateSixteenAvx512(__m512i q32, const RowConstantsAvx512& c, float* out) {
  const __m512 t = _mm512_add_ps(_mm512_loadu_ps(out), c.bias);
  const __m512i magnitude = _mm512_and_si512(_mm512_castps_si512(t), _mm512_set1_epi32(0x7FFFFFFF));
  const __m512i e = _mm512_srli_epi32(magnitude, 23);
  const __mmask16 inside = (_mm512_cmpgt_epi32_mask(e, c.exponent_low) & _mm512_cmpgt_epi32_mask(c.exponent_high, e)) |
                           _mm512_cmpeq_epi32_mask(magnitude, c.zero_magnitude);
  if (inside == 0xFFFF) {
    _mm512_storeu_ps(out, _mm512_fmadd_ps(c.scale, _mm512_cvtepi32_ps(q32), t));
    return;
  }
  const __m512d lo = _mm512_fmadd_pd(c.scale_double, _mm512_cvtepi32_pd(_mm512_castsi512_si256(q32)),
                                     _mm512_cvtps_pd(_mm512_castps512_ps256(t)));
  const __m512d hi = _mm512_fmadd_pd(c.scale_double, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(q32, 1)),
                                     _mm512_cvtps_pd(_mm512_extractf32x8_ps(t, 1)));
  _mm512_storeu_ps(out, _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1));
}


// ---- the optimistic bag loop ----
//
// The fast path's condition (the exact sum s*q + t fits in a double) holds for a row when
// every lane's t = out + b has its exponent in [E(s) - 20, E(s) + 28] (embedding-avx2.h
// derives it). Checking it per row costs as much as the arithmetic, so the bag loop below
// checks it once per bag instead: it runs every row with fp32 FMAs while tracking the
// smallest magnitude of t over all lanes and rows (vrangeps, one instruction per vector,
// into up to four running minima so that no row waits on the last), and BagScaleBound
// tracks the range of |s| and a bound on the largest |t| from each row's s and b alone
// (scalar: no vector work for the upper side). The window of every row contains
// [E(s)max - 20, E(s)min + 28], so when the bag's magnitudes fall inside that (with t
// normal: zero and subnormal t are left to the exact path) every row was exact and the
// registers hold the scalar kernel's bits. Otherwise the chunk's starting values are put
// back and the bag runs again through the per-row exact path (AccumulateSixteenAvx512),
// which is never wrong, only slower. Tables of typical rows (scales within a few binades,
// sums not cancelling to nearly 0) take the fast path.

// A 4-bit row's two halves (scale low, bias high) as floats, with F16C.
static inline void HalvesToFloatsAvx512(uint32_t halves, float* scale, float* bias) {
  const __m128 pair = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int32_t>(halves)));
  *scale = _mm_cvtss_f32(pair);
  *bias = _mm_cvtss_f32(_mm_movehdup_ps(pair));
}

// Loads the quantized values of columns [column, column + 16 * kVectors) of a row as int32
// vectors. 8-bit: one widening load per vector. 4-bit: a pair of vectors (32 columns, 16
// bytes) from one load, its low and high nibbles interleaved back into element order.
template <int kBits, int kVectors>
static inline void LoadRowAvx512(const uint8_t* row, size_t column, __m512i* q) {
  if (kBits == 8) {
    for (int v = 0; v < kVectors; ++v) {
      q[v] = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + column + 16 * v)));
    }
    return;
  }
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  int v = 0;
  for (; v + 2 <= kVectors; v += 2) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + (column + 16 * v) / 2));
    const __m128i lo = _mm_and_si128(bytes, low_nibbles);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
    q[v] = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    q[v + 1] = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi));
  }
  if (v < kVectors) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + (column + 16 * v) / 2));
    const __m128i lo = _mm_and_si128(bytes, low_nibbles);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
    q[v] = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
  }
}

// Columns [column, column + 16 * kVectors) of a bag over all its rows: the optimistic pass
// in registers, then, if the bag's window check fails, the exact per-row pass.
template <int kBits, int kVectors, bool kWeighted>
static inline void BagChunkAvx512(size_t dim, size_t column, size_t count, size_t lookahead, const uint8_t* const* rows,
                                  const float* weights, bool prefetch, float* out) {
  const size_t row_bytes = kBits == 8 ? U8RowBytes(dim) : U4RowBytes(dim);
  // Smallest |t| seen, by vrangeps (min of absolute values, sign cleared; kMinAbs).
  constexpr int kMinAbs = 0x0A, kMaxAbs = 0x0B;
  constexpr int kMinima = kVectors < 4 ? kVectors : 4;
  __m512 acc[kVectors], t_min[kMinima];
  __m512 start_max = _mm512_setzero_ps();
  for (int v = 0; v < kVectors; ++v) {
    acc[v] = _mm512_loadu_ps(out + column + 16 * v);
    start_max = _mm512_range_ps(start_max, acc[v], kMaxAbs);
  }
  for (int m = 0; m < kMinima; ++m) t_min[m] = _mm512_castsi512_ps(_mm512_set1_epi32(0x7F800000));
  BagScaleBound bound;
  for (size_t i = 0; i < count; ++i) {
    if (prefetch) PrefetchRow(rows, i, lookahead, row_bytes);
    const uint8_t* row = rows[i];
    float scale, bias;
    RowScaleBiasFields<kBits>(row, dim, kWeighted ? weights : nullptr, i, HalvesToFloatsAvx512, &scale, &bias, &bound);
    const __m512 s = _mm512_set1_ps(scale), b = _mm512_set1_ps(bias);
    __m512i q[kVectors];
    LoadRowAvx512<kBits, kVectors>(row, column, q);
    for (int v = 0; v < kVectors; ++v) {
      const __m512 t = _mm512_add_ps(acc[v], b);
      t_min[v % kMinima] = _mm512_range_ps(t_min[v % kMinima], t, kMinAbs);
      acc[v] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(q[v]), t);
    }
  }
  for (int m = 1; m < kMinima; ++m) t_min[0] = _mm512_range_ps(t_min[0], t_min[m], kMinAbs);
  if (count == 0 ||
      bound.Holds(count, static_cast<uint32_t>(_mm512_reduce_min_epu32(_mm512_castps_si512(t_min[0]))),
                  static_cast<uint32_t>(_mm512_reduce_max_epu32(_mm512_castps_si512(start_max))))) {
    for (int v = 0; v < kVectors; ++v) _mm512_storeu_ps(out + column + 16 * v, acc[v]);
    return;
  }
  // The exact pass, from the chunk's starting values (still in out: nothing was stored).
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* row = rows[i];
    const float weight = weights != nullptr ? weights[i] : 1.0f;
    float scale, bias;
    if (kBits == 8) {
      U8ScaleBias(row, dim, weight, &scale, &bias);
    } else {
      U4ScaleBias(row, dim, weight, &scale, &bias);
    }
    const RowConstantsAvx512 c = MakeRowConstantsAvx512(scale, bias);
    __m512i q[kVectors];
    LoadRowAvx512<kBits, kVectors>(row, column, q);
    for (int v = 0; v < kVectors; ++v) AccumulateSixteenAvx512(q[v], c, out + column + 16 * v);
  }
}

// A whole bag: chunks of 128 columns (eight registers), then one of 16..112, then the last
// dim % 16 columns by the scalar loop.
template <int kBits, bool kWeighted>
static inline void BagColumnsAvx512(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
                                    const float* weights, float* out) {
  const size_t vector_end = dim / 16 * 16;
  size_t column = 0;
  for (; column + 128 <= vector_end; column += 128) {
    BagChunkAvx512<kBits, 8, kWeighted>(dim, column, count, lookahead, rows, weights, column == 0, out);
  }
  const bool prefetch = column == 0;
  switch ((vector_end - column) / 16) {
    case 7: BagChunkAvx512<kBits, 7, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
    case 6: BagChunkAvx512<kBits, 6, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
    case 5: BagChunkAvx512<kBits, 5, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
    case 4: BagChunkAvx512<kBits, 4, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
    case 3: BagChunkAvx512<kBits, 3, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
    case 2: BagChunkAvx512<kBits, 2, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
    case 1: BagChunkAvx512<kBits, 1, kWeighted>(dim, column, count, lookahead, rows, weights, prefetch, out); break;
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

// A whole bag, its optimistic passes compiled apart for weighted and unweighted bags (the
// unweighted loop reads the exponent fields straight from the row's bits).
template <int kBits>
static inline void BagAvx512(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows, const float* weights,
                             float* out) {
  if (count == 0) return;  // nothing to add (and no row to prefetch for: the next bag does)
  if (weights != nullptr) {
    BagColumnsAvx512<kBits, true>(dim, count, lookahead, rows, weights, out);
  } else {
    BagColumnsAvx512<kBits, false>(dim, count, lookahead, rows, nullptr, out);
  }
}

}  // namespace embedding
}  // namespace qk
