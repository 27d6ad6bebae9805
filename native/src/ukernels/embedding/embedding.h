// Embedding-bag row microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
//
// A bag kernel adds `count` table rows into one output row, in index order. Row i is
// rows[i]; its weight is w = weights ? weights[i] : 1.0f. For each row (PyTorch 1.13's
// embedding_lookup_fallback_impl, aten/src/ATen/native/quantized/cpu/qembeddingbag.cpp):
//
//   s = w * scale(row)          fp32 multiply
//   b = w * bias(row)           fp32 multiply
//   for j in [0, dim):
//     t      = out[j] + b                                  fp32 add
//     out[j] = float(double(s) * double(q[j]) + double(t)) PyTorch calls fma(float, uint8_t, float),
//                                                          which C++ promotes to double; the product
//                                                          of a float and an integer < 256 is exact in
//                                                          double, so one double add, then one rounding
//                                                          to float (round-to-nearest-even)
//
// 8-bit rows (qu8): [dim x u8][fp32 scale][fp32 bias], scale and bias little-endian, unaligned.
// 4-bit rows (qu4): [dim/2 bytes, element 2k in the low nibble of byte k][fp16 scale][fp16 bias];
//                   dim is even.
// The kernel adds rows[0 .. count) to `out` (the caller zeroes it first). rows[count ..
// lookahead) are the rows the caller reads next (the following bags): the kernel only
// prefetches them, so that every row is prefetched kEmbeddingPrefetchDistance entries
// ahead, across bag boundaries too. lookahead >= count. No allocation, no checks: the
// caller has validated every index.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

// Rows ahead of the one being added that the kernels prefetch (FBGEMM and PyTorch use 16).
constexpr size_t kEmbeddingPrefetchDistance = 16;

using EmbeddingBagU8Fn = void(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
                              const float* weights, float* out);
using EmbeddingBagU4Fn = void(size_t dim, size_t count, size_t lookahead, const uint8_t* const* rows,
                              const float* weights, float* out);

}  // namespace qk
