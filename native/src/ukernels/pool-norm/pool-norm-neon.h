// Pooling and batch-norm kernel bodies with NEON intrinsics (compiled only into the neon kernel files).
//
// umax / smax over 16 channels; sums widen 16 channels to four int32x4 per row; batch norm
// uses fmla (fused, one rounding, as the scalar std::fma) and fcvtns (round half to even).
// FMAX would propagate NaN, so the lower clamp is a compare-and-select that maps NaN to the
// bound, as the scalar formula does. Tails run the scalar bodies.
#pragma once

#include <arm_neon.h>

#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {
namespace {

inline uint8x16_t Load16(const uint8_t* p) { return vld1q_u8(p); }
inline int8x16_t Load16(const int8_t* p) { return vld1q_s8(p); }
inline void Store16(uint8_t* p, uint8x16_t v) { vst1q_u8(p, v); }
inline void Store16(int8_t* p, int8x16_t v) { vst1q_s8(p, v); }
inline uint8x16_t Max16(uint8x16_t a, uint8x16_t b) { return vmaxq_u8(a, b); }
inline int8x16_t Max16(int8x16_t a, int8x16_t b) { return vmaxq_s8(a, b); }
// Widens 8 values to two int32x4.
inline int32x4x2_t Widen8(const uint8_t* p) {
  const uint16x8_t w = vmovl_u8(vld1_u8(p));
  return {{vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w))), vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)))}};
}
inline int32x4x2_t Widen8(const int8_t* p) {
  const int16x8_t w = vmovl_s8(vld1_s8(p));
  return {{vmovl_s16(vget_low_s16(w)), vmovl_s16(vget_high_s16(w))}};
}
inline void Narrow8(uint8_t* p, int16x8_t v) { vst1_u8(p, vqmovun_s16(v)); }
inline void Narrow8(int8_t* p, int16x8_t v) { vst1_s8(p, vqmovn_s16(v)); }

template <typename T>
void MaxPoolNeon(size_t rows, size_t channels, const T* const* input, T* y) {
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    auto m = Load16(input[0] + c);
    for (size_t r = 1; r < rows; ++r) m = Max16(m, Load16(input[r] + c));
    Store16(y + c, m);
  }
  pool_norm_scalar::MaxPool(rows, channels, input, y, c);
}

template <typename T>
void SumPoolNeon(size_t rows, size_t channels, const T* const* input, int32_t init, int32_t* acc) {
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    int32x4_t lo = vdupq_n_s32(init);
    int32x4_t hi = lo;
    for (size_t r = 0; r < rows; ++r) {
      const int32x4x2_t v = Widen8(input[r] + c);
      lo = vaddq_s32(lo, v.val[0]);
      hi = vaddq_s32(hi, v.val[1]);
    }
    vst1q_s32(acc + c, lo);
    vst1q_s32(acc + c + 4, hi);
  }
  pool_norm_scalar::SumPool(rows, channels, input, init, acc, c);
}

inline int32x4_t BatchNormQuad(int32x4_t raw, const float* alpha, const float* beta, int32x4_t x_zero_point,
                               int32x4_t y_zero_point, int32x4_t qmin, int32x4_t qmax) {
  const float32x4_t low = vdupq_n_f32(-pool_norm_scalar::kBatchNormBound);
  const float32x4_t high = vdupq_n_f32(pool_norm_scalar::kBatchNormBound);
  const float32x4_t centered = vcvtq_f32_s32(vsubq_s32(raw, x_zero_point));
  float32x4_t t = vfmaq_f32(vld1q_f32(beta), vld1q_f32(alpha), centered);
  t = vbslq_f32(vcgeq_f32(t, low), t, low);  // NaN fails the compare: the bound
  t = vminq_f32(t, high);
  int32x4_t q = vaddq_s32(vcvtnq_s32_f32(t), y_zero_point);
  return vminq_s32(vmaxq_s32(q, qmin), qmax);
}

template <typename T>
void BatchNormNeon(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p) {
  const int32x4_t x_zero_point = vdupq_n_s32(p.x_zero_point);
  const int32x4_t y_zero_point = vdupq_n_s32(p.y_zero_point);
  const int32x4_t qmin = vdupq_n_s32(p.qmin);
  const int32x4_t qmax = vdupq_n_s32(p.qmax);
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const int32x4x2_t raw = Widen8(x + c);
    const int32x4_t q0 = BatchNormQuad(raw.val[0], alpha + c, beta + c, x_zero_point, y_zero_point, qmin, qmax);
    const int32x4_t q1 = BatchNormQuad(raw.val[1], alpha + c + 4, beta + c + 4, x_zero_point, y_zero_point, qmin, qmax);
    Narrow8(y + c, vcombine_s16(vmovn_s32(q0), vmovn_s32(q1)));
  }
  pool_norm_scalar::BatchNorm(channels, x, alpha, beta, y, p, c);
}

}  // namespace
}  // namespace qk
