// AVX2 GEMM microkernels, tile 6x16c2: exact int16 multiply-adds (vpmaddwd), fused requantization.
//
// Layout (gemm-pack.h): A panel as int16 (a zero-extended), weights as int8, KR = 2: group g of a
// column block is 16 columns x 2 depths = 32 bytes, the low 16 bytes columns 0-7, then 8-15.
// Each half is sign-extended to int16 on load (vpmovsxbw: a shuffle-port uop, beside the
// multiply ports), so weights stream at one byte each. Per group, vpbroadcastd puts
// (a[i][2g], a[i][2g+1]) in every dword and vpmaddwd forms a0*w0 + a1*w1 per column:
// |a*w| <= 255 * 128, so the pair sum never leaves int32 and nothing saturates, for any weights.
// (vpmaddubsw on raw bytes saturates for pairs such as (-128, -128) and, widened back to int32,
// needs as many multiplies per MAC as this path; see doc/gemm.md.)
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/tile-avx2.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kNR = 16;

constexpr size_t kMR = 6;

using Tile = Avx2Tile16<kMR>;

template <size_t M>
inline void ComputeTile(size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w,
                        int32_t a_zero_point, Tile* tile) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const __m128i* weights = reinterpret_cast<const __m128i*>(header + 2 * kNR);
  // Rows past M alias the last real row: never read in the loop (M is a constant), kept valid.
  const uint8_t* a0 = static_cast<const uint8_t*>(a);
  const uint8_t* a1 = M > 1 ? a0 + a_stride : a0;
  const uint8_t* a2 = M > 2 ? a1 + a_stride : a1;
  const uint8_t* a3 = M > 3 ? a2 + a_stride : a2;
  const uint8_t* a4 = M > 4 ? a3 + a_stride : a3;
  const uint8_t* a5 = M > 5 ? a4 + a_stride : a4;
  QK_AVX2_ACCUMULATORS6;
  const size_t groups = kc / 2;
  for (size_t g = 0; g < groups; ++g) {
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_load_si128(weights + 2 * g));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_load_si128(weights + 2 * g + 1));
    QK_AVX2_MADDWD_ROWS6(4 * g)
  }
  const __m256i raw[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  Avx2FinishTile16<M>(raw, header, row_terms, a_zero_point, tile);
}

template <size_t M>
void GemmU8(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, uint8_t* y,
            size_t y_stride, const GemmU8Params* p) {
  Tile tile;
  ComputeTile<M>(kc, a, a_stride, row_terms, w, p->a_zero_point, &tile);
  Avx2StoreTile16U8<M>(tile, nc, y, y_stride, p);
}

template <size_t M>
void GemmF32(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, float* y,
             size_t y_stride, const GemmF32Params* p) {
  Tile tile;
  ComputeTile<M>(kc, a, a_stride, row_terms, w, p->a_zero_point, &tile);
  Avx2StoreTile16F32<M>(tile, nc, y, y_stride, p);
}

}  // namespace

void qk_qu8_gemm_minmax_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                             const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride,
                                             const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmU8<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

void qk_qu8_f32_gemm_ukernel_6x16c2__avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                          const int32_t* row_terms, const void* w, float* y, size_t y_stride,
                                          const GemmF32Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmF32<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

}  // namespace qk
