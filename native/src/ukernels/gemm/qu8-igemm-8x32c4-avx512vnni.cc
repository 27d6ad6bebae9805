// AVX-512 VNNI indirect GEMM microkernel, tile 8x32c4: the 8x32c4 GEMM reading each row of A through pointers to its segments, per row or per tile with a row stride (convolution without im2col).
//
// Row i of A is `segments` runs of segment_bytes bytes (a multiple of 4), run s at
// a[i * segments + s] (the strided kernel: at a[s] + i * a_stride); the packed weights are the
// 8x32c4 GEMM's for kc = segments * segment_bytes, so the k groups of one run are consecutive
// 128-byte groups of the block.
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/tile-avx512.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 8, kNR = 32;

// kUpper: the block has columns 16-31 to compute (nc > 16); without them (a 16-channel stem's
// output) those columns' vpdpbusd are skipped, their accumulators stay 0 and are not stored.
// kStrided: row i's runs at a[s] + i * a_stride (IgemmStridedU8Fn), else at a[i * segments + s].
template <size_t M, bool kUpper, bool kStrided>
void IgemmU8(size_t nc, size_t segments, size_t segment_bytes, const uint8_t* const* a, size_t a_stride,
             const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const uint8_t* weights = reinterpret_cast<const uint8_t*>(header + 2 * kNR);
  QK_AVX512_TILE_ACCUMULATORS;
  const size_t groups = segment_bytes / 4;
  for (size_t s = 0; s < segments; ++s) {
    // Rows past M repeat row 0's pointer: never read (the row macro skips them).
    const uint8_t* a0 = a[s];
    auto row = [&](size_t i) { return M <= i ? a0 : kStrided ? a0 + i * a_stride : a[i * segments + s]; };
    const uint8_t *a1 = row(1), *a2 = row(2), *a3 = row(3), *a4 = row(4), *a5 = row(5), *a6 = row(6), *a7 = row(7);
    for (size_t g = 0; g < groups; ++g, weights += 4 * kNR) {
      const __m512i w0 = _mm512_loadu_si512(weights);
      const __m512i w1 = kUpper ? _mm512_loadu_si512(weights + 64) : w0;
      QK_AVX512_DPBUSD_ROWS(4 * g, kUpper)
    }
  }
  QK_AVX512_TILE_RAW(acc);
  Avx512FinishStoreTile32U8<M, kUpper>(acc, header, row_terms, nc, y, y_stride, p);
}

// Both kernels: the tile compiled for the row count and for whether columns 16-31 are computed.
template <bool kStrided>
void IgemmTile(size_t mr, size_t nc, size_t segments, size_t segment_bytes, const uint8_t* const* a, size_t a_stride,
               const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) {
    if (nc > 16) {
      IgemmU8<decltype(rows)::value, true, kStrided>(nc, segments, segment_bytes, a, a_stride, row_terms, w, y,
                                                     y_stride, params);
    } else {
      IgemmU8<decltype(rows)::value, false, kStrided>(nc, segments, segment_bytes, a, a_stride, row_terms, w, y,
                                                      y_stride, params);
    }
  });
}

}  // namespace

void qk_qu8_igemm_minmax_ukernel_8x32c4__avx512vnni(size_t mr, size_t nc, size_t segments, size_t segment_bytes,
                                                    const uint8_t* const* a, const int32_t* row_terms, const void* w,
                                                    uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  IgemmTile<false>(mr, nc, segments, segment_bytes, a, 0, row_terms, w, y, y_stride, params);
}

void qk_qu8_igemm_strided_minmax_ukernel_8x32c4__avx512vnni(size_t mr, size_t nc, size_t segments,
                                                            size_t segment_bytes, const uint8_t* const* a,
                                                            size_t a_stride, const int32_t* row_terms, const void* w,
                                                            uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  IgemmTile<true>(mr, nc, segments, segment_bytes, a, a_stride, row_terms, w, y, y_stride, params);
}

}  // namespace qk
