// Per-row helpers every embedding kernel shares: reading a row's scale and bias, fp16 conversion, prefetch, the scalar element step.
//
// Everything here has internal linkage (static inline): each ISA translation unit gets
// its own copy compiled with its own flags, so no AVX2 code can leak into the scalar path.
#pragma once

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

// Prefetches every cache line of the row `distance` entries ahead, if there is one.
static inline void PrefetchRow(const uint8_t* const* rows, size_t i, size_t lookahead, size_t row_bytes) {
  if (i + kEmbeddingPrefetchDistance < lookahead) {
    const uint8_t* row = rows[i + kEmbeddingPrefetchDistance];
    for (size_t offset = 0; offset < row_bytes; offset += 64) Prefetch(row + offset);
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

// The window check of the SIMD kernels' optimistic bag pass (embedding-avx512.h): true when
// every row of a bag whose scale exponents lie in [e_min, e_max] was exact in fp32, given the
// smallest and largest magnitude bits of t seen over the bag.
static inline bool BagWindowHolds(int32_t e_min, int32_t e_max, uint32_t magnitude_min, uint32_t magnitude_max) {
  if (e_max >= 255) return false;  // an inf/NaN scale: the exact path decides
  const int32_t low_exponent = e_max - 20 > 1 ? e_max - 20 : 1;
  const int32_t high_exponent = (e_min + 28 < 254 ? e_min + 28 : 254) + 1;
  return magnitude_min >= static_cast<uint32_t>(low_exponent) << 23 &&
         magnitude_max < static_cast<uint32_t>(high_exponent) << 23;
}

// The biased exponent field of a scale, 0 read as 1 (as the per-row windows read it).
static inline int32_t ScaleExponentField(float scale) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  const int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF);
  return e == 0 ? 1 : e;
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
