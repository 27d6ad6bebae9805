// XNOR-popcount microkernels of the 1-bit (binary) layers: function type, tile sizes and the packed weight layout.
//
// A binary value is one bit: 1 means -1, 0 means +1 (so a float's sign bit is its code).
// For two K-bit vectors a, w the dot product of their +-1 values is
//   K - 2 * popcount(a XOR w)
// and bits beyond K that are 0 in both contribute nothing. The kernels compute only the
// popcount sums; the caller (ops/binary.cc) turns them into dot products and floats.
//
// Operands are 64-bit words. A tile is up to kXnorMR rows of `a` (row i at a + i * lda,
// kw words each) against nc output channels of packed weights, laid out in channel blocks
// of kXnorNR: block b is kw * kXnorNR words, word k of channel 8b + l at [k * kXnorNR + l];
// lanes past nc in the last block are zero words (their sums are computed, never stored).
//
//   for i < mr, j < nc:  c[i * ldc + j] = sum_{k < kw} popcount(a[i * lda + k] XOR w_j[k])
//
// Requires 1 <= mr <= kXnorMR, nc >= 1, kw <= kXnorMaxWords (so that every sum and every
// narrow SIMD accumulator fits). No allocation, no checks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

constexpr size_t kXnorMR = 4;
constexpr size_t kXnorNR = 8;
// 2^20 words = 2^26 bits per dot product: far beyond any layer, and the NEON kernel's
// 16-bit lane accumulators are flushed every 2048 words, so no lane can overflow.
constexpr size_t kXnorMaxWords = size_t{1} << 20;

using XnorGemmFn = void(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda, const uint64_t* w,
                        int32_t* c, size_t ldc);

// The same sums turned into one bit per output (a binary layer writing the next one's bits),
// for a list of tiles against the same nc channels in one call:
//
//   for t < tiles, i < tile[t].mr, j < nc:
//     bit j % 8 of tile[t].bits[i * ldb + j / 8] = sum(tile[t].a + i * tile[t].lda, w_j) > threshold
//
// One call covers a task's rows rather than one tile: on Zen 4 a call of one 4-row tile costs
// about 60 cycles of entry and setup beyond its loop: 6% more time per XOR step for dot
// products of 36 words, 16% for 12 (doc/binary.md). The kernel picks the order (the AVX-512 one takes a slice of
// channels across every tile before the next slice, so the slice's weights stay in L1).
// Requires nc % kXnorNR == 0 as well (every byte is written whole, never read), 1 <= mr <= kXnorMR.
struct XnorSignTile {
  const uint64_t* a;  // row i at a + i * lda, kw words each
  size_t lda;
  size_t mr;
  uint8_t* bits;  // row i's bytes at bits + i * ldb
};
using XnorSignFn = void(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw, const uint64_t* w,
                        int32_t threshold, size_t ldb);

// Packing floats into bits (the first binary layer's input): up to 64 channels, each a plane
// of `positions` floats (channel c at x + c * plane_stride), into one word per position:
//
//   out[p * out_stride] = OR over c < channels of  Minus(x[c * plane_stride + p]) << c
//
// Minus is the rule: kPackSign (0): x < 0 (so -0, +0 and NaN are +1); kPackHeaviside (1):
// !(x > 0) (0 and NaN are -1). Bits at or above `channels` are 0. Requires 1 <= channels <= 64.
constexpr uint32_t kPackSign = 0;
constexpr uint32_t kPackHeaviside = 1;
using BinaryPackFn = void(size_t channels, size_t positions, const float* x, size_t plane_stride, uint32_t rule,
                          uint64_t* out, size_t out_stride);

// XnorSignFn on top of a kernel that stores sums (the kernels whose sums end in memory anyway):
// 64 channels at a time across every tile (that chunk's weights stay in L1 while the tiles go
// by), their sums in a stack buffer, then compared and packed.
template <XnorGemmFn* Gemm>
inline void XnorSignFromSums(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw, const uint64_t* w,
                             int32_t threshold, size_t ldb) {
  constexpr size_t kChunk = 64;
  int32_t sums[kXnorMR * kChunk];
  for (size_t j0 = 0; j0 < nc; j0 += kChunk) {
    const size_t n = nc - j0 < kChunk ? nc - j0 : kChunk;
    for (size_t t = 0; t < tiles; ++t) {
      const size_t mr = tile[t].mr;
      Gemm(mr, n, kw, tile[t].a, tile[t].lda, w + (j0 / kXnorNR) * kw * kXnorNR, sums, kChunk);
      for (size_t i = 0; i < mr; ++i) {
        for (size_t b = 0; b < n / 8; ++b) {
          uint32_t byte = 0;
          for (size_t l = 0; l < 8; ++l) byte |= static_cast<uint32_t>(sums[i * kChunk + 8 * b + l] > threshold) << l;
          tile[t].bits[i * ldb + j0 / 8 + b] = static_cast<uint8_t>(byte);
        }
      }
    }
  }
}

}  // namespace qk
