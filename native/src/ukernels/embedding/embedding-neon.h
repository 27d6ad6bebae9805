// The NEON step of the embedding kernels: eight output elements from eight quantized values, as PyTorch's double multiply-add rounds them.
//
// Same scheme as embedding-avx2.h (whose comment derives it): an fp32 FMA where the exact
// sum s*q + t fits in a double (t = 0, or its exponent near s's), checked per step for t = out + b;
// otherwise the double multiply-add, as the scalar kernel computes every element.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace qk {
namespace embedding {

struct RowConstantsNeon {
  float32x4_t scale;
  float64x2_t scale_double;
  float32x4_t bias;
  int32x4_t exponent_low;   // E(s) - 21: lanes must be above
  int32x4_t exponent_high;  // min(E(s) + 28, 254) + 1: lanes must be below
  uint32x4_t zero_magnitude;  // 0, or an impossible magnitude when s is inf/NaN (then no lane is safe)
};

static inline RowConstantsNeon MakeRowConstantsNeon(float scale, float bias) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF);
  if (e == 0) e = 1;
  RowConstantsNeon c;
  c.scale = vdupq_n_f32(scale);
  c.scale_double = vdupq_n_f64(scale);
  c.bias = vdupq_n_f32(bias);
  c.exponent_low = vdupq_n_s32(e == 255 ? 1000 : e - 21);
  c.exponent_high = vdupq_n_s32((e + 28 < 254 ? e + 28 : 254) + 1);
  c.zero_magnitude = vdupq_n_u32(e == 255 ? 0xFFFFFFFFu : 0u);
  return c;
}

// All-ones lanes where t is zero or its exponent field lies inside the row's window.
static inline uint32x4_t InsideWindowNeon(float32x4_t t, const RowConstantsNeon& c) {
  const uint32x4_t magnitude = vandq_u32(vreinterpretq_u32_f32(t), vdupq_n_u32(0x7FFFFFFFu));
  const int32x4_t e = vreinterpretq_s32_u32(vshrq_n_u32(magnitude, 23));
  const uint32x4_t in_window = vandq_u32(vcgtq_s32(e, c.exponent_low), vcgtq_s32(c.exponent_high, e));
  return vorrq_u32(in_window, vceqq_u32(magnitude, c.zero_magnitude));
}

// out[0..4) for four q as floats (exact) and t = out + b.
static inline float32x4_t DoubleMultiplyAddNeon(float32x4_t q, float32x4_t t, float64x2_t scale) {
  const float64x2_t lo = vfmaq_f64(vcvt_f64_f32(vget_low_f32(t)), scale, vcvt_f64_f32(vget_low_f32(q)));
  const float64x2_t hi = vfmaq_f64(vcvt_high_f64_f32(t), scale, vcvt_high_f64_f32(q));
  return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi);
}

// out[0..8) = float(double(s) * q + double(out + b)) for q the eight bytes of q8.
static inline void AccumulateEightNeon(uint8x8_t q8, const RowConstantsNeon& c, float* out) {
  const uint16x8_t q16 = vmovl_u8(q8);
  const float32x4_t q_lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(q16)));
  const float32x4_t q_hi = vcvtq_f32_u32(vmovl_high_u16(q16));
  const float32x4_t t_lo = vaddq_f32(vld1q_f32(out), c.bias);
  const float32x4_t t_hi = vaddq_f32(vld1q_f32(out + 4), c.bias);
  if (vminvq_u32(vandq_u32(InsideWindowNeon(t_lo, c), InsideWindowNeon(t_hi, c))) == 0xFFFFFFFFu) {
    vst1q_f32(out, vfmaq_f32(t_lo, c.scale, q_lo));
    vst1q_f32(out + 4, vfmaq_f32(t_hi, c.scale, q_hi));
    return;
  }
  vst1q_f32(out, DoubleMultiplyAddNeon(q_lo, t_lo, c.scale_double));
  vst1q_f32(out + 4, DoubleMultiplyAddNeon(q_hi, t_hi, c.scale_double));
}

}  // namespace embedding
}  // namespace qk
