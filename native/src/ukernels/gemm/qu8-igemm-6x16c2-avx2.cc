// AVX2 indirect GEMM microkernel, tile 6x16c2: the exact 6x16c2 GEMM (vpmaddwd on int16 pairs) reading each row of A through pointers to int16 runs (convolution without im2col).
//
// The layout's A format is int16 (a zero-extended), so here row i of A is `segments` runs of
// segment_len int16 values (a multiple of KR = 2), run s at a[i * segments + s]: the conv op
// widens its input to int16 once per call and points into that copy. The packed weights are
// the 6x16c2 GEMM's for kc = segments * segment_len, so the k groups of one run are consecutive
// 32-byte groups of the block. Exact for any operands, as the GEMM kernel.
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/tile-avx2.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 6, kNR = 16;

template <size_t M>
void IgemmU8(size_t nc, size_t segments, size_t segment_len, const uint8_t* const* a, const int32_t* row_terms,
             const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const __m128i* weights = reinterpret_cast<const __m128i*>(header + 2 * kNR);
  QK_AVX2_ACCUMULATORS6;
  const size_t groups = segment_len / 2;
  for (size_t s = 0; s < segments; ++s) {
    // Rows past M repeat row 0's pointer: never read (the row macro skips them).
    const uint8_t* a0 = a[s];
    const uint8_t* a1 = M > 1 ? a[segments + s] : a0;
    const uint8_t* a2 = M > 2 ? a[2 * segments + s] : a0;
    const uint8_t* a3 = M > 3 ? a[3 * segments + s] : a0;
    const uint8_t* a4 = M > 4 ? a[4 * segments + s] : a0;
    const uint8_t* a5 = M > 5 ? a[5 * segments + s] : a0;
    for (size_t g = 0; g < groups; ++g, weights += 2) {
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_load_si128(weights));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_load_si128(weights + 1));
      QK_AVX2_MADDWD_ROWS6(4 * g)
    }
  }
  const __m256i raw[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  Avx2Tile16<kMR> tile;
  Avx2FinishTile16<M>(raw, header, row_terms, p->a_zero_point, &tile);
  Avx2StoreTile16U8<M>(tile, nc, y, y_stride, p);
}

}  // namespace

void qk_qu8_igemm_minmax_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t segments, size_t segment_len,
                                              const uint8_t* const* a, const int32_t* row_terms, const void* w,
                                              uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) {
    IgemmU8<decltype(rows)::value>(nc, segments, segment_len, a, row_terms, w, y, y_stride, params);
  });
}

}  // namespace qk
