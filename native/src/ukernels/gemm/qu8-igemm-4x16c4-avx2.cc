// AVX2 indirect GEMM microkernel, tile 4x16c4: the 4x16c4 GEMM (vpmaddubsw) reading each row of A through pointers to uint8 runs, run only where no int16 pair sum can saturate.
//
// Row i of A is `segments` runs of segment_len bytes (a multiple of KR = 4), run s at
// a[i * segments + s]; the packed weights are the 4x16c4 GEMM's for kc = segments *
// segment_len, so the k groups of one run are consecutive 64-byte groups of the block. As the
// GEMM kernel, this is exact only under a proof that no pair sum a0*w0 + a1*w1 leaves int16
// (the pack's weight pairs, or every byte the call reads <= 127); the conv op checks it and
// otherwise runs the 6x16c2 indirect kernel on the pack's exact twin (doc/gemm.md).
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/tile-avx2.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 4, kNR = 16;

template <size_t M>
void IgemmU8(size_t nc, size_t segments, size_t segment_len, const uint8_t* const* a, const int32_t* row_terms,
             const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* p) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const __m256i* weights = reinterpret_cast<const __m256i*>(header + 2 * kNR);
  const __m256i ones = _mm256_set1_epi16(1);
  QK_AVX2_ACCUMULATORS4;
  const size_t groups = segment_len / 4;
  for (size_t s = 0; s < segments; ++s) {
    // Rows past M repeat row 0's pointer: never read (the row macro skips them).
    const uint8_t* a0 = a[s];
    const uint8_t* a1 = M > 1 ? a[segments + s] : a0;
    const uint8_t* a2 = M > 2 ? a[2 * segments + s] : a0;
    const uint8_t* a3 = M > 3 ? a[3 * segments + s] : a0;
    for (size_t g = 0; g < groups; ++g, weights += 2) {
      const __m256i w0 = _mm256_load_si256(weights);
      const __m256i w1 = _mm256_load_si256(weights + 1);
      QK_AVX2_MADDUBSW_ROWS4(4 * g)
    }
  }
  const __m256i raw[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  Avx2Tile16<kMR> tile;
  Avx2FinishTile16<M>(raw, header, row_terms, p->a_zero_point, &tile);
  Avx2StoreTile16U8<M>(tile, nc, y, y_stride, p);
}

}  // namespace

void qk_qu8_igemm_minmax_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t segments, size_t segment_len,
                                              const uint8_t* const* a, const int32_t* row_terms, const void* w,
                                              uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) {
    IgemmU8<decltype(rows)::value>(nc, segments, segment_len, a, row_terms, w, y, y_stride, params);
  });
}

}  // namespace qk
