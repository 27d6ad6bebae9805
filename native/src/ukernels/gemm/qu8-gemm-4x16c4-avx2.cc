// AVX2 GEMM microkernels, tile 4x16c4: u8 x s8 byte multiply-adds (vpmaddubsw), run only where no int16 pair sum can saturate.
//
// Layout (gemm-pack.h): A panel as uint8, weights as int8, KR = 4: group g of a column block is
// 16 columns x 4 depths = 64 bytes, columns 0-7 in the first 32, then 8-15. Per group,
// vpbroadcastd puts (a[i][4g..4g+3]) in every dword; vpmaddubsw forms the int16 pair sums
// a0*w0 + a1*w1 and a2*w2 + a3*w3 per column and vpmaddwd with ones adds the two into int32.
// vpmaddubsw SATURATES a pair sum outside int16, so this kernel is exact only under a proof that
// no pair can leave [-32768, 32767]; the op (qgemm.cc, GemmPackForCall) runs it only when
//   every packed weight pair has |w0| + |w1| <= 128 (255 * 128 = 32640; recorded at pack time), or
//   every activation of the call is <= 127 (127 * 256 = 32512 for any weights),
// and otherwise runs the exact 6x16c2 kernel on the pack's exact twin (doc/gemm.md). Against
// 6x16c2 this needs no weight widening and half the A bytes: fewer vector uops per multiply.
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/tile-avx2.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kNR = 16;

constexpr size_t kMR = 4;

using Tile = Avx2Tile16<kMR>;

template <size_t M>
inline void ComputeTile(size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w,
                        int32_t a_zero_point, Tile* tile) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const __m256i* weights = reinterpret_cast<const __m256i*>(header + 2 * kNR);
  // Rows past M alias the last real row: never read in the loop (M is a constant), kept valid.
  const uint8_t* a0 = static_cast<const uint8_t*>(a);
  const uint8_t* a1 = M > 1 ? a0 + a_stride : a0;
  const uint8_t* a2 = M > 2 ? a1 + a_stride : a1;
  const uint8_t* a3 = M > 3 ? a2 + a_stride : a2;
  const __m256i ones = _mm256_set1_epi16(1);
  QK_AVX2_ACCUMULATORS4;
  const size_t groups = kc / 4;
  for (size_t g = 0; g < groups; ++g) {
    const __m256i w0 = _mm256_load_si256(weights + 2 * g);
    const __m256i w1 = _mm256_load_si256(weights + 2 * g + 1);
    QK_AVX2_MADDUBSW_ROWS4(4 * g)
  }
  const __m256i raw[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
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

void qk_qu8_gemm_minmax_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                             const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride,
                                             const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmU8<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

void qk_qu8_f32_gemm_ukernel_4x16c4__avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                          const int32_t* row_terms, const void* w, float* y, size_t y_stride,
                                          const GemmF32Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmF32<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

}  // namespace qk
