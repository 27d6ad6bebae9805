// AVX-512 VNNI GEMM microkernels, tile 8x32c4: vpdpbusd on raw u8 activations and s8 weights, fused requantization.
//
// Layout (gemm-pack.h): A panel as uint8, weights as int8, KR = 4: group g of a column block
// is 32 columns x 4 depths = 128 bytes, the first 64 columns 0-15, then 16-31. vpbroadcastd puts
// a[i][4g..4g+3] in every dword and vpdpbusd adds sum_r a[r] * w[j][r] (four u8 x s8 products,
// each |.| <= 255 * 128, summed in int32 without saturation) to column j's lane.
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/tile-avx512.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 8, kNR = 32;

using Tile = Avx512Tile32;

// The tile's raw sums over kc, handed with the block's header to finish(raw, header). Without
// kUpper (nc <= 16) columns 16-31 are not computed (their sums stay 0 and are not stored).
template <size_t M, bool kUpper, typename Finish>
inline void ComputeTile(size_t kc, const void* a, size_t a_stride, const void* w, const Finish& finish) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const uint8_t* weights = reinterpret_cast<const uint8_t*>(header + 2 * kNR);
  const uint8_t* a0 = static_cast<const uint8_t*>(a);
  const uint8_t* a1 = M > 1 ? a0 + a_stride : a0;
  const uint8_t* a2 = M > 2 ? a1 + a_stride : a1;
  const uint8_t* a3 = M > 3 ? a2 + a_stride : a2;
  const uint8_t* a4 = M > 4 ? a3 + a_stride : a3;
  const uint8_t* a5 = M > 5 ? a4 + a_stride : a4;
  const uint8_t* a6 = M > 6 ? a5 + a_stride : a5;
  const uint8_t* a7 = M > 7 ? a6 + a_stride : a6;
  QK_AVX512_TILE_ACCUMULATORS;
  const size_t groups = kc / 4;
  for (size_t g = 0; g < groups; ++g) {
    const __m512i w0 = _mm512_loadu_si512(weights + 128 * g);
    const __m512i w1 = kUpper ? _mm512_loadu_si512(weights + 128 * g + 64) : w0;
    QK_AVX512_DPBUSD_ROWS(4 * g, kUpper)
  }
  QK_AVX512_TILE_RAW(acc);
  finish(acc, header);
}

template <size_t M>
void GemmU8(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, uint8_t* y,
            size_t y_stride, const GemmU8Params* p) {
  if (nc > 16) {
    ComputeTile<M, true>(kc, a, a_stride, w, [&](const __m512i (&acc)[8][2], const int32_t* header) {
      Avx512FinishStoreTile32U8<M, true>(acc, header, row_terms, nc, y, y_stride, p);
    });
  } else {
    ComputeTile<M, false>(kc, a, a_stride, w, [&](const __m512i (&acc)[8][2], const int32_t* header) {
      Avx512FinishStoreTile32U8<M, false>(acc, header, row_terms, nc, y, y_stride, p);
    });
  }
}

template <size_t M>
void GemmF32(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, float* y,
             size_t y_stride, const GemmF32Params* p) {
  Tile tile;
  ComputeTile<M, true>(kc, a, a_stride, w, [&](const __m512i (&acc)[8][2], const int32_t* header) {
    Avx512FinishTile32<M>(acc, header, row_terms, p->a_zero_point, &tile);
  });
  const __m512 s0 = _mm512_loadu_ps(p->scale), s1 = _mm512_loadu_ps(p->scale + 16);
  const size_t n0 = nc < 16 ? nc : 16, n1 = nc - n0;
  for (size_t i = 0; i < M; ++i) {
    float* row = y + i * y_stride;
    Avx512StoreScaledF32x16(row, tile.acc[i][0], s0, p->bias, p->relu, n0);
    if (n1 != 0) {
      Avx512StoreScaledF32x16(row + 16, tile.acc[i][1], s1, p->bias != nullptr ? p->bias + 16 : nullptr, p->relu, n1);
    }
  }
}

}  // namespace

void qk_qu8_gemm_minmax_ukernel_8x32c4__avx512vnni(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                                   const int32_t* row_terms, const void* w, uint8_t* y,
                                                   size_t y_stride, const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmU8<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

void qk_qu8_f32_gemm_ukernel_8x32c4__avx512vnni(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                                const int32_t* row_terms, const void* w, float* y, size_t y_stride,
                                                const GemmF32Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmF32<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

}  // namespace qk
