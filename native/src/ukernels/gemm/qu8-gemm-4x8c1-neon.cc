// NEON GEMM microkernels, tile 4x8c1: int16 multiply-accumulate long (smlal) into int32, fused requantization.
//
// Layout (gemm-pack.h): A panel as int16 (a zero-extended), weights as int16, KR = 1: depth k of
// a column block is 8 int16 weights (columns 0-7). Each product |a * w| <= 255 * 128 is exact in
// the int32 lanes that smlal accumulates into.
#include <arm_neon.h>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/requant-neon.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 4, kNR = 8;

struct Tile {
  int32x4_t acc[kMR][2];
};

template <size_t M>
inline void ComputeTile(size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w,
                        int32_t a_zero_point, Tile* tile) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const int16_t* weights = reinterpret_cast<const int16_t*>(header + 2 * kNR);
  const int16_t* rows[kMR];
  for (size_t i = 0; i < M; ++i) rows[i] = reinterpret_cast<const int16_t*>(static_cast<const uint8_t*>(a) + i * a_stride);
  int32x4_t acc[kMR][2];
  for (size_t i = 0; i < M; ++i) acc[i][0] = acc[i][1] = vdupq_n_s32(0);
  for (size_t k = 0; k < kc; ++k) {
    const int16x8_t wv = vld1q_s16(weights + k * kNR);
    for (size_t i = 0; i < M; ++i) {
      const int16_t av = rows[i][k];
      acc[i][0] = vmlal_n_s16(acc[i][0], vget_low_s16(wv), av);
      acc[i][1] = vmlal_high_n_s16(acc[i][1], wv, av);
    }
  }
  // acc += -a_zp * colsum[j] + w_zp[j] * row_terms[i]  (wrapping int32)
  const int32x4_t col0 = vmulq_n_s32(vld1q_s32(header), -a_zero_point);
  const int32x4_t col1 = vmulq_n_s32(vld1q_s32(header + 4), -a_zero_point);
  const int32x4_t zp0 = vld1q_s32(header + kNR), zp1 = vld1q_s32(header + kNR + 4);
  for (size_t i = 0; i < M; ++i) {
    tile->acc[i][0] = vmlaq_n_s32(vaddq_s32(acc[i][0], col0), zp0, row_terms[i]);
    tile->acc[i][1] = vmlaq_n_s32(vaddq_s32(acc[i][1], col1), zp1, row_terms[i]);
  }
}

template <size_t M>
void GemmU8(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, uint8_t* y,
            size_t y_stride, const GemmU8Params* p) {
  Tile tile;
  ComputeTile<M>(kc, a, a_stride, row_terms, w, p->a_zero_point, &tile);
  const NeonRequant rq(p->lo, p->hi, p->y_zero_point_f, p->y_zero_point);
  const int32x4_t i0 = vld1q_s32(p->bias_int), i1 = vld1q_s32(p->bias_int + 4);
  const float32x4_t b0 = vld1q_f32(p->bias_term), b1 = vld1q_f32(p->bias_term + 4);
  const float32x4_t m0 = vld1q_f32(p->multiplier), m1 = vld1q_f32(p->multiplier + 4);
  for (size_t i = 0; i < M; ++i) {
    NeonStoreU8x8(y + i * y_stride, rq.Apply(tile.acc[i][0], i0, b0, m0), rq.Apply(tile.acc[i][1], i1, b1, m1), nc);
  }
}

template <size_t M>
void GemmF32(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, float* y,
             size_t y_stride, const GemmF32Params* p) {
  Tile tile;
  ComputeTile<M>(kc, a, a_stride, row_terms, w, p->a_zero_point, &tile);
  for (size_t i = 0; i < M; ++i) {
    NeonStoreScaledF32x8(y + i * y_stride, tile.acc[i][0], tile.acc[i][1], p->scale, p->bias, p->relu, nc);
  }
}

}  // namespace

void qk_qu8_gemm_minmax_ukernel_4x8c1__neon(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                            const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride,
                                            const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmU8<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

void qk_qu8_f32_gemm_ukernel_4x8c1__neon(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                         const int32_t* row_terms, const void* w, float* y, size_t y_stride,
                                         const GemmF32Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmF32<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

}  // namespace qk
