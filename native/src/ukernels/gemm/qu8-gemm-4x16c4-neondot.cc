// NEON dotprod GEMM microkernels, tile 4x16c4: sdot on (a - 128) and s8 weights, fused requantization.
//
// sdot multiplies s8 by s8, so the A panel holds a - 128 (a ^ 0x80, in [-128, 127]) and the
// kernel sums raw' = sum (a - 128) * w = raw - 128 * colsum[j]; it then adds
// (128 - a_zp) * colsum[j] instead of -a_zp * colsum[j], which gives the same exact
// sum_k (a - a_zp)(w - w_zp) (modulo 2^32). Each sdot lane adds four products of magnitude
// <= 128 * 128: no overflow. Layout (gemm-pack.h): weights int8, KR = 4: group g of a column
// block is 16 columns x 4 depths = 64 bytes, 16 bytes per 4 columns.
#include <arm_neon.h>

#include <cstring>

#include "ukernels/gemm/gemm-rows.h"
#include "ukernels/gemm/requant-neon.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 4, kNR = 16;

struct Tile {
  int32x4_t acc[kMR][4];
};

template <size_t M>
inline void ComputeTile(size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w,
                        int32_t a_zero_point, Tile* tile) {
  const int32_t* header = static_cast<const int32_t*>(w);
  const int8_t* weights = reinterpret_cast<const int8_t*>(header + 2 * kNR);
  const int8_t* rows[kMR];
  for (size_t i = 0; i < M; ++i) rows[i] = reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(a) + i * a_stride);
  int32x4_t acc[kMR][4];
  for (size_t i = 0; i < M; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = vdupq_n_s32(0);
  for (size_t g = 0; g < kc / 4; ++g) {
    const int8x16_t w0 = vld1q_s8(weights + 64 * g);
    const int8x16_t w1 = vld1q_s8(weights + 64 * g + 16);
    const int8x16_t w2 = vld1q_s8(weights + 64 * g + 32);
    const int8x16_t w3 = vld1q_s8(weights + 64 * g + 48);
    for (size_t i = 0; i < M; ++i) {
      int32_t quad;
      std::memcpy(&quad, rows[i] + 4 * g, 4);
      const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(quad));
      acc[i][0] = vdotq_s32(acc[i][0], w0, av);
      acc[i][1] = vdotq_s32(acc[i][1], w1, av);
      acc[i][2] = vdotq_s32(acc[i][2], w2, av);
      acc[i][3] = vdotq_s32(acc[i][3], w3, av);
    }
  }
  // acc += (128 - a_zp) * colsum[j] + w_zp[j] * row_terms[i]  (wrapping int32)
  for (size_t q = 0; q < 4; ++q) {
    const int32x4_t col = vmulq_n_s32(vld1q_s32(header + 4 * q), 128 - a_zero_point);
    const int32x4_t zp = vld1q_s32(header + kNR + 4 * q);
    for (size_t i = 0; i < M; ++i) tile->acc[i][q] = vmlaq_n_s32(vaddq_s32(acc[i][q], col), zp, row_terms[i]);
  }
}

template <size_t M>
void GemmU8(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, uint8_t* y,
            size_t y_stride, const GemmU8Params* p) {
  Tile tile;
  ComputeTile<M>(kc, a, a_stride, row_terms, w, p->a_zero_point, &tile);
  const NeonRequant rq(p->lo, p->hi, p->y_zero_point_f, p->y_zero_point);
  for (size_t half = 0; half < 2 && 8 * half < nc; ++half) {
    const size_t n = nc - 8 * half < 8 ? nc - 8 * half : 8;
    const int32x4_t i0 = vld1q_s32(p->bias_int + 8 * half), i1 = vld1q_s32(p->bias_int + 8 * half + 4);
    const float32x4_t b0 = vld1q_f32(p->bias_term + 8 * half), b1 = vld1q_f32(p->bias_term + 8 * half + 4);
    const float32x4_t m0 = vld1q_f32(p->multiplier + 8 * half), m1 = vld1q_f32(p->multiplier + 8 * half + 4);
    for (size_t i = 0; i < M; ++i) {
      NeonStoreU8x8(y + i * y_stride + 8 * half, rq.Apply(tile.acc[i][2 * half], i0, b0, m0),
                    rq.Apply(tile.acc[i][2 * half + 1], i1, b1, m1), n);
    }
  }
}

template <size_t M>
void GemmF32(size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w, float* y,
             size_t y_stride, const GemmF32Params* p) {
  Tile tile;
  ComputeTile<M>(kc, a, a_stride, row_terms, w, p->a_zero_point, &tile);
  for (size_t half = 0; half < 2 && 8 * half < nc; ++half) {
    const size_t n = nc - 8 * half < 8 ? nc - 8 * half : 8;
    for (size_t i = 0; i < M; ++i) {
      NeonStoreScaledF32x8(y + i * y_stride + 8 * half, tile.acc[i][2 * half], tile.acc[i][2 * half + 1],
                           p->scale + 8 * half, p->bias != nullptr ? p->bias + 8 * half : nullptr, p->relu, n);
    }
  }
}

}  // namespace

void qk_qu8_gemm_minmax_ukernel_4x16c4__neondot(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                                const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride,
                                                const GemmU8Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmU8<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

void qk_qu8_f32_gemm_ukernel_4x16c4__neondot(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                             const int32_t* row_terms, const void* w, float* y, size_t y_stride,
                                             const GemmF32Params* params) {
  ForRows<1, kMR>(mr, [&](auto rows) { GemmF32<decltype(rows)::value>(nc, kc, a, a_stride, row_terms, w, y, y_stride, params); });
}

}  // namespace qk
