// Depthwise convolution microkernels, NEON (indirect and strided-row inputs): 16 channels per step, widening multiply-accumulate per tap.
//
// x - x_zp is formed with a widening subtract (usubl: the uint16 difference modulo 2^16 read as
// int16 is exact, |x - x_zp| <= 255), the packed tap pairs are split with vld2, and smlal /
// smlal2 accumulate (x_t - x_zp) * w16_t per channel in int32, exactly.
#include <arm_neon.h>

#include <cstring>

#include "ukernels/ukernels.h"

namespace qk {
namespace {

// The output stage of ukernels/gemm/requant-scalar.h on 4 lanes: maxnm gives lo for NaN.
inline int32x4_t Requantize(int32x4_t acc, const int32_t* bias_int, const float* bias_term, const float* multiplier,
                            float32x4_t lo, float32x4_t hi, float32x4_t y_zp_f, int32x4_t y_zp) {
  const float32x4_t sum = vcvtq_f32_s32(vaddq_s32(acc, vld1q_s32(bias_int)));
  float32x4_t t = vmulq_f32(vaddq_f32(sum, vld1q_f32(bias_term)), vld1q_f32(multiplier));
  t = vminnmq_f32(vmaxnmq_f32(t, lo), hi);
  return vaddq_s32(vcvtnq_s32_f32(vaddq_f32(t, y_zp_f)), y_zp);  // round half to even
}

// 16 channels [c, c + n) of one output pixel; n < 16 goes through local copies.
template <typename Rows>
inline void Block(size_t c, size_t n, size_t padded, size_t taps, const Rows& rows, const int16_t* weights,
                  const DwconvU8Params* params, uint8_t* out) {
  const uint8x16_t x_zp = vdupq_n_u8(static_cast<uint8_t>(params->x_zero_point));
  int32x4_t acc0 = vdupq_n_s32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  const int16_t* w = weights + c * 2;
  // A tail after a full block (c >= 16) loads the 16 bytes that end at its end (the row's
  // channels before c are readable) and moves its n bytes down with tbl (index >= 16: zero),
  // instead of a copy through memory per tap; only a row of fewer than 16 channels copies.
  uint8x16_t tail_shuffle = vdupq_n_u8(0xFF);
  if (n < 16 && c >= 16) {
    uint8_t tail_index[16];
    for (size_t i = 0; i < 16; ++i) tail_index[i] = static_cast<uint8_t>(i < n ? i + 16 - n : 0xFF);
    tail_shuffle = vld1q_u8(tail_index);
  }
  for (size_t t = 0; t < taps; t += 2, w += padded * 2) {
    const int16x8x2_t w_lo = vld2q_s16(w);       // channels 0-7: val[0] tap t, val[1] tap t + 1
    const int16x8x2_t w_hi = vld2q_s16(w + 16);  // channels 8-15
    for (size_t h = 0; h < 2 && t + h < taps; ++h) {
      uint8x16_t x;
      if (n == 16) {
        x = vld1q_u8(rows(t + h) + c);
      } else if (c >= 16) {
        x = vqtbl1q_u8(vld1q_u8(rows(t + h) + c + n - 16), tail_shuffle);
      } else {
        uint8_t buffer[16] = {0};
        std::memcpy(buffer, rows(t + h) + c, n);
        x = vld1q_u8(buffer);
      }
      const int16x8_t d_lo = vreinterpretq_s16_u16(vsubl_u8(vget_low_u8(x), vget_low_u8(x_zp)));
      const int16x8_t d_hi = vreinterpretq_s16_u16(vsubl_high_u8(x, x_zp));
      acc0 = vmlal_s16(acc0, vget_low_s16(d_lo), vget_low_s16(w_lo.val[h]));
      acc1 = vmlal_high_s16(acc1, d_lo, w_lo.val[h]);
      acc2 = vmlal_s16(acc2, vget_low_s16(d_hi), vget_low_s16(w_hi.val[h]));
      acc3 = vmlal_high_s16(acc3, d_hi, w_hi.val[h]);
    }
  }
  float bias_copy[16] = {0}, multiplier_copy[16] = {0};
  int32_t bias_int_copy[16] = {0};
  const int32_t* bias_int = params->bias_int + c;
  const float* bias_term = params->bias_term + c;
  const float* multiplier = params->multiplier + c;
  if (n < 16) {  // a tail reads its parameters from zero-padded copies
    std::memcpy(bias_int_copy, bias_int, n * sizeof(int32_t));
    std::memcpy(bias_copy, bias_term, n * sizeof(float));
    std::memcpy(multiplier_copy, multiplier, n * sizeof(float));
    bias_int = bias_int_copy;
    bias_term = bias_copy;
    multiplier = multiplier_copy;
  }
  const float32x4_t lo = vdupq_n_f32(params->lo), hi = vdupq_n_f32(params->hi);
  const float32x4_t y_zp_f = vdupq_n_f32(params->y_zero_point_f);
  const int32x4_t y_zp = vdupq_n_s32(params->y_zero_point);
  const int32x4_t q0 = Requantize(acc0, bias_int, bias_term, multiplier, lo, hi, y_zp_f, y_zp);
  const int32x4_t q1 = Requantize(acc1, bias_int + 4, bias_term + 4, multiplier + 4, lo, hi, y_zp_f, y_zp);
  const int32x4_t q2 = Requantize(acc2, bias_int + 8, bias_term + 8, multiplier + 8, lo, hi, y_zp_f, y_zp);
  const int32x4_t q3 = Requantize(acc3, bias_int + 12, bias_term + 12, multiplier + 12, lo, hi, y_zp_f, y_zp);
  const uint16x8_t u_lo = vcombine_u16(vqmovun_s32(q0), vqmovun_s32(q1));
  const uint16x8_t u_hi = vcombine_u16(vqmovun_s32(q2), vqmovun_s32(q3));
  const uint8x16_t bytes = vcombine_u8(vqmovn_u16(u_lo), vqmovn_u16(u_hi));
  if (n == 16) {
    vst1q_u8(out + c, bytes);
  } else {
    uint8_t buffer[16];
    vst1q_u8(buffer, bytes);
    std::memcpy(out + c, buffer, n);
  }
}

}  // namespace

void qk_qu8qs8_dwconv_ukernel_c16__neon(size_t channels, size_t pixels, size_t taps, const uint8_t* const* input,
                                        const int16_t* weights, uint8_t* y, size_t y_stride,
                                        const DwconvU8Params* params) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  for (size_t p = 0; p < pixels; ++p) {
    const uint8_t* const* in = input + p * taps;
    const auto rows = [in](size_t t) { return in[t]; };
    uint8_t* out = y + p * y_stride;
    size_t c = 0;
    for (; c + 16 <= channels; c += 16) Block(c, 16, padded, taps, rows, weights, params, out);
    if (c < channels) Block(c, channels - c, padded, taps, rows, weights, params, out);
  }
}

void qk_qu8qs8_dwconv_row_ukernel_c16__neon(size_t channels, size_t pixels, size_t taps, const uint8_t* const* base,
                                            size_t step, const int16_t* weights, uint8_t* y, size_t y_stride,
                                            const DwconvU8Params* params) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  for (size_t p = 0; p < pixels; ++p) {
    const size_t offset = p * step;
    const auto rows = [base, offset](size_t t) { return base[t] + offset; };
    uint8_t* out = y + p * y_stride;
    size_t c = 0;
    for (; c + 16 <= channels; c += 16) Block(c, 16, padded, taps, rows, weights, params, out);
    if (c < channels) Block(c, channels - c, padded, taps, rows, weights, params, out);
  }
}

}  // namespace qk
