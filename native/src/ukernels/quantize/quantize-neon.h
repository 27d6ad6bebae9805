// NEON (AArch64) quantize/dequantize loops shared by the quint8 and qint8 kernels.
//
// How each lane reaches the scalar result (quantize-scalar.h) exactly:
//   t = x * inv_scale                     one fmul (AArch64 NEON is IEEE: no flush to zero)
//   valid = |t| < 2^63                    facgt is an ordered compare: false for NaN, +-Inf, huge
//   c = valid ? min(max(t, lo), hi) : lo  the select also drops the NaN that fmax/fmin propagate
//   q = fcvtns(c) + zp                    fcvtns always rounds to nearest-even (it ignores
//                                         FPCR) and would saturate or map NaN to 0, but c is
//                                         already a finite value in range
// Tails go through a small stack buffer so that the same vector code produces them.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "ukernels/quantize/quantize-scalar.h"

namespace qk {
namespace {

template <typename T>
struct NeonBytes;

template <>
struct NeonBytes<uint8_t> {
  static void Store8(uint8_t* y, int16x8_t q) { vst1_u8(y, vqmovun_s16(q)); }
  static int16x8_t Load8(const uint8_t* q) { return vreinterpretq_s16_u16(vmovl_u8(vld1_u8(q))); }
};

template <>
struct NeonBytes<int8_t> {
  static void Store8(int8_t* y, int16x8_t q) { vst1_s8(y, vqmovn_s16(q)); }
  static int16x8_t Load8(const int8_t* q) { return vmovl_s8(vld1_s8(q)); }
};

class NeonQuantizer {
 public:
  explicit NeonQuantizer(const QuantizeParams& p)
      : inv_scale_(vdupq_n_f32(p.inv_scale)),
        lo_(vdupq_n_f32(MakeQuantizeBounds(p).lo)),
        hi_(vdupq_n_f32(MakeQuantizeBounds(p).hi)),
        limit_(vdupq_n_f32(kQuantizeInvalidLimit)),
        zero_point_(vdupq_n_s16(static_cast<int16_t>(p.zero_point))) {}

  // 8 values to 8 quantized values as int16 in [qmin, qmax].
  int16x8_t Quantize8(const float* x) const {
    const int16x4_t low = vmovn_s32(Offsets(vld1q_f32(x)));
    const int16x4_t high = vmovn_s32(Offsets(vld1q_f32(x + 4)));
    return vaddq_s16(vcombine_s16(low, high), zero_point_);  // |q - zp| <= 255: int16 is exact
  }

 private:
  int32x4_t Offsets(float32x4_t x) const {
    const float32x4_t t = vmulq_f32(x, inv_scale_);
    const uint32x4_t valid = vcaltq_f32(t, limit_);
    const float32x4_t clamped = vminq_f32(vmaxq_f32(t, lo_), hi_);
    return vcvtnq_s32_f32(vbslq_f32(valid, clamped, lo_));
  }

  float32x4_t inv_scale_, lo_, hi_, limit_;
  int16x8_t zero_point_;
};

template <typename T>
void QuantizeNeon(size_t n, const float* x, T* y, const QuantizeParams& params) {
  const NeonQuantizer quantizer(params);
  for (; n >= 16; n -= 16, x += 16, y += 16) {
    NeonBytes<T>::Store8(y, quantizer.Quantize8(x));
    NeonBytes<T>::Store8(y + 8, quantizer.Quantize8(x + 8));
  }
  for (; n >= 8; n -= 8, x += 8, y += 8) NeonBytes<T>::Store8(y, quantizer.Quantize8(x));
  if (n != 0) {
    float in[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    T out[8];
    std::memcpy(in, x, n * sizeof(float));
    NeonBytes<T>::Store8(out, quantizer.Quantize8(in));
    std::memcpy(y, out, n);
  }
}

// 8 values: y = scale * float(q - zp).
template <typename T>
void DequantizeNeon8(const T* q, float* y, int32x4_t zero_point, float32x4_t scale) {
  const int16x8_t wide = NeonBytes<T>::Load8(q);
  const int32x4_t low = vsubq_s32(vmovl_s16(vget_low_s16(wide)), zero_point);
  const int32x4_t high = vsubq_s32(vmovl_s16(vget_high_s16(wide)), zero_point);
  vst1q_f32(y, vmulq_f32(scale, vcvtq_f32_s32(low)));
  vst1q_f32(y + 4, vmulq_f32(scale, vcvtq_f32_s32(high)));
}

template <typename T>
void DequantizeNeon(size_t n, const T* q, float* y, const DequantizeParams& params) {
  const float32x4_t scale = vdupq_n_f32(params.scale);
  const int32x4_t zero_point = vdupq_n_s32(params.zero_point);
  for (; n >= 16; n -= 16, q += 16, y += 16) {
    DequantizeNeon8(q, y, zero_point, scale);
    DequantizeNeon8(q + 8, y + 8, zero_point, scale);
  }
  for (; n >= 8; n -= 8, q += 8, y += 8) DequantizeNeon8(q, y, zero_point, scale);
  if (n != 0) {
    T in[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float out[8];
    std::memcpy(in, q, n);
    DequantizeNeon8(in, out, zero_point, scale);
    std::memcpy(y, out, n * sizeof(float));
  }
}

}  // namespace
}  // namespace qk
