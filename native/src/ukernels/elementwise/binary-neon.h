// Quantized add / mul, NEON: 8 elements per step in PyTorch's vectorized formula and in its scalar (tail) formula (BinaryParams), for both 8-bit dtypes.
//
// vfmaq is the same single-rounding fma as x86's; the x86 rules of maxps/minps
// (second operand when either is NaN) and of cvtps2dq (INT32_MIN when out of range)
// are spelled out with compare + select. The tail formula has no fma, and rounds with
// vrndiq (frinti: the current rounding mode, as nearbyint).
#pragma once

#include <arm_neon.h>

#include <type_traits>

#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {
namespace {

inline void Widen(uint8x8_t v, int32x4_t* lo, int32x4_t* hi) {
  const int16x8_t w = vreinterpretq_s16_u16(vmovl_u8(v));
  *lo = vmovl_s16(vget_low_s16(w));
  *hi = vmovl_s16(vget_high_s16(w));
}

inline void Widen(int8x8_t v, int32x4_t* lo, int32x4_t* hi) {
  const int16x8_t w = vmovl_s8(v);
  *lo = vmovl_s16(vget_low_s16(w));
  *hi = vmovl_s16(vget_high_s16(w));
}

inline uint8x8_t Load8(const uint8_t* p) { return vld1_u8(p); }
inline int8x8_t Load8(const int8_t* p) { return vld1_s8(p); }
inline void Store8(uint8_t* p, int16x8_t v) { vst1_u8(p, vreinterpret_u8_s8(vmovn_s16(v))); }
inline void Store8(int8_t* p, int16x8_t v) { vst1_s8(p, vmovn_s16(v)); }

struct BinaryNeonConstants {
  float32x4_t a_scale, a_premul, b_scale, b_premul, inv_scale, multiplier, bound, two_pow_31, zero;
  float32x4_t limit, span, neg_span;  // the tail formula's: 2^63, 2^30, -2^30
  int32x4_t a_zero_point, b_zero_point, zero_point, qmin, qmax, int32_min;
};

// cvtps2dq: vcvtnq saturates where x86 gives INT32_MIN (NaN, >= 2^31); below -2^31 both give INT32_MIN.
inline int32x4_t ConvertLikeX86(float32x4_t t, const BinaryNeonConstants& k) {
  return vbslq_s32(vcltq_f32(t, k.two_pow_31), vcvtnq_s32_f32(t), k.int32_min);
}

inline int32x4_t BinaryNeonQuad(int32x4_t a, int32x4_t b, const BinaryNeonConstants& k, const BinaryParams& p) {
  if (p.multiply) {
    const int32x4_t c = vmulq_s32(vsubq_s32(a, k.a_zero_point), vsubq_s32(b, k.b_zero_point));
    const int32x4_t r = vaddq_s32(ConvertLikeX86(vmulq_f32(vcvtq_f32_s32(c), k.multiplier), k), k.zero_point);
    const int32x4_t y = vmaxq_s32(vminq_s32(r, k.qmax), k.qmin);
    return p.relu ? vmaxq_s32(y, k.zero_point) : y;
  }
  const float32x4_t da = vfmaq_f32(k.a_premul, k.a_scale, vcvtq_f32_s32(a));
  const float32x4_t db = vfmaq_f32(k.b_premul, k.b_scale, vcvtq_f32_s32(b));
  float32x4_t c = vaddq_f32(da, db);
  if (p.relu) c = vbslq_f32(vcgtq_f32(k.zero, c), k.zero, c);  // maxps(0, c)
  float32x4_t t = vmulq_f32(c, k.inv_scale);
  t = vbslq_f32(vcltq_f32(t, k.bound), t, k.bound);  // minps(t, bound)
  const int32x4_t r = vaddq_s32(ConvertLikeX86(t, k), k.zero_point);
  return vmaxq_s32(vminq_s32(r, k.qmax), k.qmin);
}

inline BinaryNeonConstants MakeBinaryNeonConstants(const BinaryParams& p) {
  BinaryNeonConstants k;
  k.a_scale = vdupq_n_f32(p.a_scale);
  k.a_premul = vdupq_n_f32(p.a_premul);
  k.b_scale = vdupq_n_f32(p.b_scale);
  k.b_premul = vdupq_n_f32(p.b_premul);
  k.inv_scale = vdupq_n_f32(p.inv_out_scale);
  k.multiplier = vdupq_n_f32(p.multiplier);
  k.bound = vdupq_n_f32(kInt32FloatMax);
  k.two_pow_31 = vdupq_n_f32(2147483648.0f);
  k.zero = vdupq_n_f32(0.0f);
  k.a_zero_point = vdupq_n_s32(p.a_zero_point);
  k.b_zero_point = vdupq_n_s32(p.b_zero_point);
  k.zero_point = vdupq_n_s32(p.out_zero_point);
  k.qmin = vdupq_n_s32(p.qmin);
  k.qmax = vdupq_n_s32(p.qmax);
  k.int32_min = vdupq_n_s32(INT32_MIN);
  k.limit = vdupq_n_f32(0x1p63f);
  k.span = vdupq_n_f32(0x1p30f);
  k.neg_span = vdupq_n_f32(-0x1p30f);
  return k;
}

// PyTorch's scalar formula on four lanes, as BinaryTailAvx2 (binary-avx2.h): |x| < 2^63 ?
// clamp(nearbyint(x) + zp) : qmin, x clamped to +-2^30 first (the clamp decides beyond it).
inline int32x4_t BinaryTailNeonQuad(int32x4_t a, int32x4_t b, const BinaryNeonConstants& k, const BinaryParams& p) {
  const int32x4_t qa = vsubq_s32(a, k.a_zero_point), qb = vsubq_s32(b, k.b_zero_point);
  float32x4_t x;
  if (p.multiply) {
    x = vmulq_f32(vcvtq_f32_s32(vmulq_s32(qa, qb)), k.multiplier);
  } else {
    float32x4_t c = vaddq_f32(vmulq_f32(k.a_scale, vcvtq_f32_s32(qa)), vmulq_f32(k.b_scale, vcvtq_f32_s32(qb)));
    if (p.relu) c = vbslq_f32(vcltq_f32(c, k.zero), k.zero, c);  // c < 0 ? 0 : c (NaN and -0 stay)
    x = vmulq_f32(c, k.inv_scale);
  }
  const uint32x4_t in_range = vcaltq_f32(x, k.limit);  // |x| < 2^63, false for NaN
  const float32x4_t clipped = vbslq_f32(in_range, vminq_f32(vmaxq_f32(x, k.neg_span), k.span), k.neg_span);
  int32x4_t r = vaddq_s32(vcvtq_s32_f32(vrndiq_f32(clipped)), k.zero_point);
  r = vmaxq_s32(vminq_s32(r, k.qmax), k.qmin);
  return p.multiply && p.relu ? vmaxq_s32(r, k.zero_point) : r;
}

// kTail: the scalar (tail) formula instead of the vectorized one.
template <bool kTail = false, typename T>
void BinaryNeon(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  const BinaryNeonConstants k = MakeBinaryNeonConstants(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int32x4_t a_lo, a_hi, b_lo, b_hi;
    Widen(Load8(a + i), &a_lo, &a_hi);
    Widen(Load8(b + i), &b_lo, &b_hi);
    const int32x4_t lo = kTail ? BinaryTailNeonQuad(a_lo, b_lo, k, p) : BinaryNeonQuad(a_lo, b_lo, k, p);
    const int32x4_t hi = kTail ? BinaryTailNeonQuad(a_hi, b_hi, k, p) : BinaryNeonQuad(a_hi, b_hi, k, p);
    Store8(y + i, vcombine_s16(vmovn_s32(lo), vmovn_s32(hi)));
  }
  if (kTail) BinaryScalarLoop(n - i, a + i, b + i, y + i, p); else BinaryVectorLoop(n - i, a + i, b + i, y + i, p);
}

}  // namespace
}  // namespace qk
