// The NEON step of the embedding kernels: eight output elements from eight quantized values, in double precision as PyTorch.
#pragma once

#include <arm_neon.h>

namespace qk {
namespace embedding {

// out[0..8) = float(double(scale) * q + double(out + bias)) for q the eight bytes of q8
// (exact product, so the double FMA equals PyTorch's double multiply-add).
static inline void AccumulateEightNeon(uint8x8_t q8, float64x2_t scale, float32x4_t bias, float* out) {
  const uint16x8_t q16 = vmovl_u8(q8);
  const float32x4_t q_lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(q16)));
  const float32x4_t q_hi = vcvtq_f32_u32(vmovl_high_u16(q16));
  const float32x4_t t_lo = vaddq_f32(vld1q_f32(out), bias);
  const float32x4_t t_hi = vaddq_f32(vld1q_f32(out + 4), bias);
  const float64x2_t r0 = vfmaq_f64(vcvt_f64_f32(vget_low_f32(t_lo)), scale, vcvt_f64_f32(vget_low_f32(q_lo)));
  const float64x2_t r1 = vfmaq_f64(vcvt_high_f64_f32(t_lo), scale, vcvt_high_f64_f32(q_lo));
  const float64x2_t r2 = vfmaq_f64(vcvt_f64_f32(vget_low_f32(t_hi)), scale, vcvt_f64_f32(vget_low_f32(q_hi)));
  const float64x2_t r3 = vfmaq_f64(vcvt_high_f64_f32(t_hi), scale, vcvt_high_f64_f32(q_hi));
  vst1q_f32(out, vcvt_high_f32_f64(vcvt_f32_f64(r0), r1));
  vst1q_f32(out + 4, vcvt_high_f32_f64(vcvt_f32_f64(r2), r3));
}

}  // namespace embedding
}  // namespace qk
