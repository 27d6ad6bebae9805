// NEON form of the GEMM/conv output stage (requant-scalar.h), 4 int32 lanes at a time; include only from arm64 files.
//
// Lane by lane the operations of RequantizeGemmValue / ScaleGemmValue:
//   t = (scvtf(acc + bias_int) + bias_term) * multiplier   add wraps; scvtf rounds like the scalar cast
//   t = fmaxnm(t, lo)                           maxNum: a NaN t gives lo
//   t = fminnm(t, hi)
//   q = fcvtns(t + y_zp_f) + y_zp_i             round to nearest, ties to even
// fp32 stage: y = scvtf(acc) * scale (+ bias); ReLU as a select of (0 > y) ? 0 : y (fmax would
// turn -0.0 into +0.0 and NaN into NaN differently from the scalar expression).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qk {
namespace {

struct NeonRequant {
  float32x4_t lo, hi, y_zero_point_f;
  int32x4_t y_zero_point;
  NeonRequant(float lo_value, float hi_value, float y_zp_f, int32_t y_zp)
      : lo(vdupq_n_f32(lo_value)), hi(vdupq_n_f32(hi_value)), y_zero_point_f(vdupq_n_f32(y_zp_f)),
        y_zero_point(vdupq_n_s32(y_zp)) {}
  int32x4_t Apply(int32x4_t acc, int32x4_t bias_int, float32x4_t bias_term, float32x4_t multiplier) const {
    const float32x4_t sum = vcvtq_f32_s32(vaddq_s32(acc, bias_int));
    float32x4_t t = vmulq_f32(vaddq_f32(sum, bias_term), multiplier);
    t = vminnmq_f32(vmaxnmq_f32(t, lo), hi);
    return vaddq_s32(vcvtnq_s32_f32(vaddq_f32(t, y_zero_point_f)), y_zero_point);
  }
};

// Stores the first n (1..8) of 8 values (q0: 0-3, q1: 4-7), each already in [0, 255].
inline void NeonStoreU8x8(uint8_t* y, int32x4_t q0, int32x4_t q1, size_t n) {
  const uint8x8_t bytes = vqmovn_u16(vcombine_u16(vqmovun_s32(q0), vqmovun_s32(q1)));
  if (n == 8) {
    vst1_u8(y, bytes);
  } else {
    uint8_t buffer[8];
    vst1_u8(buffer, bytes);
    std::memcpy(y, buffer, n);
  }
}

inline float32x4_t NeonScaleF32(int32x4_t acc, float32x4_t scale, float32x4_t bias, bool with_bias, bool relu) {
  float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), scale);
  if (with_bias) v = vaddq_f32(v, bias);
  if (relu) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    v = vbslq_f32(vcgtq_f32(zero, v), zero, v);
  }
  return v;
}

// y = float(acc) * scale (+ bias), ReLU; stores the first n (1..8) of 8 lanes.
inline void NeonStoreScaledF32x8(float* y, int32x4_t acc0, int32x4_t acc1, const float* scale, const float* bias,
                                 bool relu, size_t n) {
  float bias_lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (bias != nullptr) std::memcpy(bias_lanes, bias, n * sizeof(float));
  float out[8];
  vst1q_f32(out, NeonScaleF32(acc0, vld1q_f32(scale), vld1q_f32(bias_lanes), bias != nullptr, relu));
  vst1q_f32(out + 4, NeonScaleF32(acc1, vld1q_f32(scale + 4), vld1q_f32(bias_lanes + 4), bias != nullptr, relu));
  std::memcpy(y, out, n * sizeof(float));
}

}  // namespace
}  // namespace qk
