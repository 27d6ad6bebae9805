// Per-row helpers every embedding kernel shares: reading a row's scale and bias, fp16 conversion, prefetch, the scalar element step.
//
// Everything here has internal linkage (static inline): each ISA translation unit gets
// its own copy compiled with its own flags, so no AVX2 code can leak into the scalar path.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ukernels/embedding/embedding.h"

namespace qk {
namespace embedding {

// IEEE binary16 -> binary32, exact (every half is a float), NaN payloads kept.
static inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1Fu) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalize.
    exponent = 113u;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static inline float LoadFloat(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

static inline uint16_t LoadHalfBits(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Bytes of a packed row.
static inline size_t U8RowBytes(size_t dim) { return dim + 8; }
static inline size_t U4RowBytes(size_t dim) { return dim / 2 + 4; }

// A row's scale and bias, each multiplied by the row's weight in fp32 (as PyTorch does,
// also when there is no weight: 1.0f * x is x).
static inline void U8ScaleBias(const uint8_t* row, size_t dim, float weight, float* scale, float* bias) {
  *scale = weight * LoadFloat(row + dim);
  *bias = weight * LoadFloat(row + dim + 4);
}
static inline void U4ScaleBias(const uint8_t* row, size_t dim, float weight, float* scale, float* bias) {
  *scale = weight * HalfToFloat(LoadHalfBits(row + dim / 2));
  *bias = weight * HalfToFloat(LoadHalfBits(row + dim / 2 + 2));
}

// One element: out = float(double(scale) * q + double(out + bias)).
static inline float AccumulateElement(float out, float scale, float bias, uint32_t q) {
  const float t = out + bias;
  return static_cast<float>(static_cast<double>(scale) * static_cast<double>(q) + static_cast<double>(t));
}

static inline void Prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// Prefetches every cache line of the row `distance` entries ahead, if there is one: its
// first and last byte, and every 64 bytes between (no branch for rows up to 64 bytes).
static inline void PrefetchRow(const uint8_t* const* rows, size_t i, size_t lookahead, size_t row_bytes) {
  if (i + kEmbeddingPrefetchDistance < lookahead) {
    const uint8_t* row = rows[i + kEmbeddingPrefetchDistance];
    Prefetch(row);
    for (size_t offset = 64; offset < row_bytes; offset += 64) Prefetch(row + offset);
    Prefetch(row + row_bytes - 1);
  }
}

// The loop every bag kernel shares: for each row, prefetch ahead (up to lookahead), read its scale and bias
// (times the row's weight), then row_fn(row, scale, bias) adds it to out. kBits is 8 or 4.
// A static template: each ISA translation unit instantiates its own copy.
template <int kBits, typename RowFn>
static inline void ForEachBagRow(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
                                 const float* weights, const RowFn& row_fn) {
  const size_t row_bytes = kBits == 8 ? U8RowBytes(dim) : U4RowBytes(dim);
  for (size_t i = 0; i < count; ++i) {
    PrefetchRow(rows, i, lookahead, row_bytes);
    const float weight = weights != nullptr ? weights[i] : 1.0f;
    float scale, bias;
    if (kBits == 8) {
      U8ScaleBias(rows[i], dim, weight, &scale, &bias);
    } else {
      U4ScaleBias(rows[i], dim, weight, &scale, &bias);
    }
    row_fn(rows[i], scale, bias);
  }
}

// The exponent field of a float (0..255), from its bits.
static inline int32_t FloatExponentField(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return static_cast<int32_t>((bits >> 23) & 0xFF);
}

// The scalar half of the SIMD kernels' optimistic bag pass (embedding-avx512.h): the pass
// runs every row of a bag with fp32 FMAs and keeps the result when every row's window
// E(s) - 20 <= E(t) <= E(s) + 28 held (embedding-avx2.h derives it). The vector code tracks
// the smallest |t| (one operation per vector); this tracks, from each row's s and b alone
// (their exponent fields: integer operations only), the range of E(s) and a bound on the
// largest |t|, so that no vector operation is spent on the upper side of the window.
//
// The bound: with u = 2^-24 and every operation rounded to nearest, t_i = fl(acc_i + b_i) and
// acc_{i+1} = fl(s_i q + t_i) with 0 <= q < 2^kQBits give, by induction,
//   |t_i| <= (A + sum_{j <= i} (|s_j| 2^kQBits + |b_j|)) (1 + u)^(2i + 1)
// with A the largest |out| before the bag. A float with exponent field e (read as 1 when 0)
// is below 2^(e - 126), so each term is below 2^(top - 125) with top the largest of
// max(E(s) + kQBits, E(b)) over the rows, and for an n-row bag
//   max |t| < (A + n 2^(top - 125)) exp((2n + 2) u)
// which Holds compares, in double, with the window's top 2^(E(s)min + 29 - 127). An inf or
// NaN s or b (field 255) puts the bound above every window, and the check fails.
struct BagScaleBound {
  int32_t e_min = 255, e_max = 0, top = 0;

  // The row's exponent fields (0..255) of s and b (weights applied); q_bits is 8 or 4.
  // A row's exponent fields (0..255) of s and b, weights applied: s's field lies in
  // [scale_low, scale_high], b's is at most bias_high; q_bits is 8 or 4.
  void Add(int32_t scale_low, int32_t scale_high, int32_t bias_high, int32_t q_bits) {
    const int32_t low = scale_low > 1 ? scale_low : 1, high = scale_high > 1 ? scale_high : 1;
    e_min = low < e_min ? low : e_min;
    e_max = high > e_max ? high : e_max;
    const int32_t term = high + q_bits > bias_high ? high + q_bits : bias_high;
    top = term > top ? term : top;
  }
  void Add(int32_t scale_field, int32_t bias_field, int32_t q_bits) { Add(scale_field, scale_field, bias_field, q_bits); }

  // The same for a row's fp16 scale and bias bits: a half's field h (1..30) is the float's
  // h + 112; a subnormal half (h = 0) is a float of field at most 112, read as 1 for the
  // lower end; inf/NaN (h = 31) is 255. Branch-free: selects only.
  void AddHalves(uint32_t halves) {
    const int32_t hs = static_cast<int32_t>((halves >> 10) & 0x1F), hb = static_cast<int32_t>((halves >> 26) & 0x1F);
    const int32_t scale_high = hs == 31 ? 255 : hs + 112, bias_high = hb == 31 ? 255 : hb + 112;
    Add(hs == 0 ? 1 : scale_high, scale_high, bias_high, 4);
  }

  // Whether every row of the n-row bag was exact in fp32: t_magnitude_min is the smallest
  // magnitude (bits, sign cleared) of t seen by the vector code, start_magnitude_max the
  // largest of the values the bag started from.
  bool Holds(size_t n, uint32_t t_magnitude_min, uint32_t start_magnitude_max) const {
    if (e_max >= 255) return false;  // an inf/NaN scale: the exact path decides
    const int32_t low_exponent = e_max - 20 > 1 ? e_max - 20 : 1;
    const int32_t high_exponent = (e_min + 28 < 254 ? e_min + 28 : 254) + 1;
    if (t_magnitude_min < static_cast<uint32_t>(low_exponent) << 23) return false;  // also a subnormal or zero t
    float start;
    std::memcpy(&start, &start_magnitude_max, 4);  // NaN bits stay NaN: the comparison below fails
    const double rows = static_cast<double>(n);
    // exp(x) <= 1 + 2x for x <= 1 (no libm call per bag); x = (2n + 2) 2^-24 is below 1
    // for every bag of fewer than 2^23 rows.
    const double x = (2.0 * rows + 2.0) * 0x1p-24;
    const double growth = x <= 1.0 ? 1.0 + 2.0 * x : std::exp(x);
    const double bound = (static_cast<double>(start) + rows * PowerOfTwo(top - 125)) * growth;
    return bound < PowerOfTwo(high_exponent - 127);
  }

  // 2^k as a double, for k in [-1022, 1023] (here k lies in [-126, 130]).
  static double PowerOfTwo(int32_t k) {
    const uint64_t bits = static_cast<uint64_t>(k + 1023) << 52;
    double value;
    std::memcpy(&value, &bits, 8);
    return value;
  }
};

// Row i's s and b (weight applied) for the SIMD kernels' optimistic passes, their exponent
// fields added to `bound`. 4-bit: halves_to_floats(halves, &s, &b) converts both halves of the
// row (the kernel's own instructions; exact for every finite half, and an inf/NaN scale fails
// the window, after which the exact pass reads the row again with HalfToFloat). Without
// weights the fields come from the stored bits (integer work); torch's 1.0f * x is x.
template <int kBits, typename HalvesToFloats>
static inline void RowScaleBiasFields(const uint8_t* row, size_t dim, const float* weights, size_t i,
                                      const HalvesToFloats& halves_to_floats, float* scale, float* bias,
                                      BagScaleBound* bound) {
  if (kBits == 8) {
    *scale = LoadFloat(row + dim);
    *bias = LoadFloat(row + dim + 4);
    if (weights == nullptr) {
      uint64_t pair;  // both fields from one integer load
      std::memcpy(&pair, row + dim, 8);
      bound->Add(static_cast<int32_t>((pair >> 23) & 0xFF), static_cast<int32_t>((pair >> 55) & 0xFF), 8);
      return;
    }
  } else {
    uint32_t halves;
    std::memcpy(&halves, row + dim / 2, 4);
    halves_to_floats(halves, scale, bias);
    if (weights == nullptr) {
      bound->AddHalves(halves);
      return;
    }
  }
  if (weights != nullptr) {
    *scale = weights[i] * *scale;
    *bias = weights[i] * *bias;
  }
  bound->Add(FloatExponentField(*scale), FloatExponentField(*bias), kBits);
}

// The scalar element loops, used by the scalar kernels and for the SIMD kernels' tails.
static inline void U8RowTail(size_t begin, size_t dim, const uint8_t* row, float scale, float bias, float* out) {
  for (size_t j = begin; j < dim; ++j) out[j] = AccumulateElement(out[j], scale, bias, row[j]);
}
static inline void U4RowTail(size_t begin, size_t dim, const uint8_t* row, float scale, float bias, float* out) {
  for (size_t j = begin; j < dim; ++j) {
    const uint32_t q = (row[j / 2] >> ((j % 2) * 4)) & 0xFu;
    out[j] = AccumulateElement(out[j], scale, bias, q);
  }
}

}  // namespace embedding
}  // namespace qk
