// AVX-512 VNNI indirect GEMM microkernel, tile 8x32c4: the 8x32c4 GEMM reading each row of A through pointers to its segments (convolution without im2col).
//
// Row i of A is `segments` runs of segment_bytes bytes (a multiple of 4), run s at
// a[i * segments + s]; the packed weights are the 8x32c4 GEMM's for kc = segments *
// segment_bytes, so the k groups of one run are consecutive 128-byte groups of the block.
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
template <size_t M, bool kUpper>
void IgemmU8(size_t nc, size_t segments, size_t segment_bytes, const uint8_t* const* a, const int32_t* row_terms,
             const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const uint8_t* weights = reinterpret_cast<const uint8_t*>(header + 2 * kNR);
  QK_AVX512_TILE_ACCUMULATORS;
  const size_t groups = segment_bytes / 4;
  for (size_t s = 0; s < segments; ++s) {
    // Rows past M repeat row 0's pointer: never read (the row macro skips them).
    const uint8_t* a0 = a[s];
    const uint8_t* a1 = M > 1 ? a[segments + s] : a0;
    const uint8_t* a2 = M > 2 ? a[2 * segments + s] : a0;
    const uint8_t* a3 = M > 3 ? a[3 * segments + s] : a0;
    const uint8_t* a4 = M > 4 ? a[4 * segments + s] : a0;
    const uint8_t* a5 = M > 5 ? a[5 * segments + s] : a0;
    const uint8_t* a6 = M > 6 ? a[6 * segments + s] : a0;
    const uint8_t* a7 = M > 7 ? a[7 * segments + s] : a0;
    for (size_t g = 0; g < groups; ++g, weights += 4 * kNR) {
      const __m512i w0 = _mm512_loadu_si512(weights);
      const __m512i w1 = kUpper ? _mm512_loadu_si512(weights + 64) : w0;
      QK_AVX512_DPBUSD_ROWS(4 * g, kUpper)
    }
  }
  QK_AVX512_TILE_RAW(acc);
  Avx512FinishStoreTile32U8<M, kUpper>(acc, header, row_terms, nc, y, y_stride, p);
}

}  // namespace

void qk_qu8_igemm_minmax_ukernel_8x32c4__avx512vnni(size_t mr, size_t nc, size_t segments, size_t segment_bytes,
                                                    const uint8_t* const* a, const int32_t* row_terms, const void* w,
                                                    uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) {
    if (nc > 16) {
      IgemmU8<decltype(rows)::value, true>(nc, segments, segment_bytes, a, row_terms, w, y, y_stride, params);
    } else {
      IgemmU8<decltype(rows)::value, false>(nc, segments, segment_bytes, a, row_terms, w, y, y_stride, params);
    }
  });
}

}  // namespace qk
