// Pooling and batch-norm kernel bodies with NEON intrinsics (compiled only into the neon kernel files).
//
// Pooling rows: umax / smax over 16 channels per pixel; average sums in int16 lanes over 8
// channels (uaddw / saddw, widened to int32 every kPoolInt16Values values), requantized with
// fmul, fadd and fcvtns (round half to even, as lrint under the default mode). Batch norm
// uses fmla (fused, one rounding, as the scalar std::fma) and fcvtns (round half to even).
// FMAX would propagate NaN, so the lower clamp is a compare-and-select that maps NaN to the
// bound, as the scalar formula does. Normalize and bilinear run the scalar formula lane by lane
// (vfmaq for std::fma, frintn for nearbyint). Tails run the scalar bodies.
#pragma once

#include <arm_neon.h>

#include <limits>

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

inline uint8x16_t Lowest16(uint8_t) { return vdupq_n_u8(0); }
inline int8x16_t Lowest16(int8_t) { return vdupq_n_s8(-128); }
// Adds 8 values to int16 lanes.
inline int16x8_t AddWiden8(int16x8_t acc, const uint8_t* p) {
  return vreinterpretq_s16_u16(vaddw_u8(vreinterpretq_u16_s16(acc), vld1_u8(p)));
}
inline int16x8_t AddWiden8(int16x8_t acc, const int8_t* p) { return vaddw_s8(acc, vld1_s8(p)); }

template <typename T>
void MaxPoolRowNeon(const T* const* lines, T* y, const PoolRowParams& p) {
  const size_t C = p.channels, stride = p.column_stride;
  for (size_t ow = 0; ow < p.output_width; ++ow) {
    const size_t offset = p.column_offset[ow], count = p.column_count[ow];
    T* out = y + ow * C;
    size_t c = 0;
    for (; c + 16 <= C; c += 16) {
      auto m = Lowest16(T());
      for (size_t l = 0; l < p.lines; ++l) {
        const T* s = lines[l] + offset + c;
        for (size_t k = 0; k < count; ++k) m = Max16(m, Load16(s + k * stride));
      }
      Store16(out + c, m);
    }
    pool_norm_scalar::MaxPoolPixel(lines, y, p, ow, c);
  }
}

// Requantizes 4 int32 sums (pool-norm.h) up to the final clamp, which the saturating narrowing
// does: vmulq then vaddq (two roundings, as the scalar formula), fcvtns (round half to even).
inline int32x4_t AvgPoolRequant4(int32x4_t acc, float32x4_t scale, float32x4_t pre, int32x4_t post) {
  const float32x4_t t = vaddq_f32(vmulq_f32(vcvtq_f32_s32(acc), scale), pre);
  return vaddq_s32(vcvtnq_s32_f32(t), post);
}

// The scale of 4 channels starting at c: scale below split, tail_scale from there.
inline float32x4_t AvgPoolScale4(size_t c, size_t split, float32x4_t scale, float32x4_t tail_scale) {
  if (c + 4 <= split) return scale;
  if (c >= split) return tail_scale;
  const int32_t lanes[4] = {0, 1, 2, 3};
  const uint32x4_t below = vcltq_s32(vld1q_s32(lanes), vdupq_n_s32(static_cast<int32_t>(split - c)));
  return vbslq_f32(below, scale, tail_scale);
}

template <typename T>
void AvgPoolRowNeon(const T* const* lines, T* y, const AvgPoolRowParams& p) {
  const PoolRowParams& r = p.row;
  const size_t C = r.channels, stride = r.column_stride;
  const float32x4_t pre = vdupq_n_f32(p.pre);
  const int32x4_t post = vdupq_n_s32(p.post);
  for (size_t ow = 0; ow < r.output_width; ++ow) {
    const size_t offset = r.column_offset[ow], count = r.column_count[ow];
    const int32x4_t init = vdupq_n_s32(-static_cast<int32_t>(r.lines * count) * p.zero_point);
    const float32x4_t scale = vdupq_n_f32(p.scale[ow]), tail_scale = vdupq_n_f32(p.tail_scale[ow]);
    T* out = y + ow * C;
    size_t c = 0;
    // 8 channels per block, summed in int16 lanes and widened into two int32x4.
    for (; c + 8 <= C; c += 8) {
      int32x4_t lo = init, hi = init;
      int16x8_t part = vdupq_n_s16(0);
      pool_norm_scalar::ForEachWindowValue(
          lines, r.lines, offset + c, count, stride, [&](const T* s) { part = AddWiden8(part, s); },
          [&] {
            lo = vaddw_s16(lo, vget_low_s16(part));
            hi = vaddw_s16(hi, vget_high_s16(part));
            part = vdupq_n_s16(0);
          });
      const int32x4_t q_lo = AvgPoolRequant4(lo, AvgPoolScale4(c, p.split, scale, tail_scale), pre, post);
      const int32x4_t q_hi = AvgPoolRequant4(hi, AvgPoolScale4(c + 4, p.split, scale, tail_scale), pre, post);
      Narrow8(out + c, vcombine_s16(vqmovn_s32(q_lo), vqmovn_s32(q_hi)));  // saturating, as the clamp
    }
    pool_norm_scalar::AvgPoolPixel(lines, y, p, ow, c);
  }
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

// The lower then upper clamp of the normalize and bilinear formulas as the scalar bodies write
// them (`q > qmin ? q : qmin`, then `q < qmax ? q : qmax`): a NaN fails the first compare and
// becomes qmin, where FMAX would keep it.
inline float32x4_t ClampSelect(float32x4_t q, float32x4_t qmin, float32x4_t qmax) {
  q = vbslq_f32(vcgtq_f32(q, qmin), q, qmin);
  return vbslq_f32(vcltq_f32(q, qmax), q, qmax);
}

// normalize (pool-norm.h), 8 values a step: each lane runs the scalar formula's IEEE operations
// in its order (sub, sub, mul, fma, mul, round half to even, add, clamp).
template <typename T>
void NormalizeNeon(size_t n, const T* x, const float* gamma, const float* beta, size_t affine_stride, T* y,
                   const NormalizeParams& p) {
  const float32x4_t x_zero_point = vdupq_n_f32(p.x_zero_point), mean_centred = vdupq_n_f32(p.mean_centred);
  const float32x4_t scale = vdupq_n_f32(p.scale), y_inv_scale = vdupq_n_f32(p.y_inv_scale);
  const float32x4_t y_zero_point = vdupq_n_f32(p.y_zero_point), qmin = vdupq_n_f32(p.qmin), qmax = vdupq_n_f32(p.qmax);
  auto four = [&](int32x4_t raw, size_t i) {
    const float32x4_t u = vmulq_f32(vsubq_f32(vsubq_f32(vcvtq_f32_s32(raw), x_zero_point), mean_centred), scale);
    const float32x4_t g = affine_stride != 0 ? vld1q_f32(gamma + i) : vdupq_n_f32(gamma[0]);
    const float32x4_t b = affine_stride != 0 ? vld1q_f32(beta + i) : vdupq_n_f32(beta[0]);
    const float32x4_t t = vfmaq_f32(b, u, g);  // u * g + b, one rounding: std::fma(u, g, b)
    const float32x4_t q = vaddq_f32(vrndnq_f32(vmulq_f32(t, y_inv_scale)), y_zero_point);
    return vcvtq_s32_f32(ClampSelect(q, qmin, qmax));  // integral already: truncation is exact
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const int32x4x2_t raw = Widen8(x + i);
    Narrow8(y + i, vcombine_s16(vmovn_s32(four(raw.val[0], i)), vmovn_s32(four(raw.val[1], i + 4))));
  }
  pool_norm_scalar::Normalize(n, x, gamma, beta, affine_stride, y, p, i);
}

// normalize_rows (pool-norm.h): one normalize body per run.
template <typename T>
void NormalizeRowsNeon(size_t rows, size_t n, const T* x, const float* mean_centred, const float* scale, const float* gamma,
                       const float* beta, size_t affine_stride, T* y, const NormalizeParams& p) {
  pool_norm_scalar::NormalizeEachRow(rows, n, x, mean_centred, scale, y, p, [&](size_t len, const T* xr, T* yr, const NormalizeParams& run) {
    NormalizeNeon(len, xr, gamma, beta, affine_stride, yr, run);
  });
}

// normalize_stats, 16 values a step: pairwise widening adds of x and of x^2 (vpadal) into 32-bit
// lanes, moved to 64 bits before they could overflow. Integer sums: any order gives the same.
inline void StatsStep(const uint8_t* p, uint32x4_t* sum, uint32x4_t* squares) {
  const uint8x16_t v = vld1q_u8(p);
  *sum = vpadalq_u16(*sum, vpaddlq_u8(v));
  *squares = vpadalq_u16(*squares, vmull_u8(vget_low_u8(v), vget_low_u8(v)));
  *squares = vpadalq_u16(*squares, vmull_u8(vget_high_u8(v), vget_high_u8(v)));
}
inline void StatsStep(const int8_t* p, int32x4_t* sum, int32x4_t* squares) {
  const int8x16_t v = vld1q_s8(p);
  *sum = vpadalq_s16(*sum, vpaddlq_s8(v));
  // A square of an int8 is at most 128^2 = 16384: it fits the int16 product lanes.
  *squares = vpadalq_s16(*squares, vmull_s8(vget_low_s8(v), vget_low_s8(v)));
  *squares = vpadalq_s16(*squares, vmull_s8(vget_high_s8(v), vget_high_s8(v)));
}
inline uint32x4_t StatsZero(uint8_t) { return vdupq_n_u32(0); }
inline int32x4_t StatsZero(int8_t) { return vdupq_n_s32(0); }
inline int64_t SumLanes(uint32x4_t v) { return static_cast<int64_t>(vaddlvq_u32(v)); }
inline int64_t SumLanes(int32x4_t v) { return vaddlvq_s32(v); }

template <typename T>
void NormalizeStatsNeon(size_t n, const T* x, int64_t* sum, int64_t* sum_squares) {
  // Per step a lane gains at most 4 * 255^2 = 260100 (squares) or 4 * 255 (sums): 4096 steps
  // stay below 2^31.
  constexpr size_t kStepsPerFlush = 4096;
  int64_t s = 0, s2 = 0;
  size_t i = 0;
  while (i + 16 <= n) {
    auto acc = StatsZero(T()), acc2 = StatsZero(T());
    for (size_t step = 0; step < kStepsPerFlush && i + 16 <= n; ++step, i += 16) StatsStep(x + i, &acc, &acc2);
    s += SumLanes(acc);
    s2 += SumLanes(acc2);
  }
  *sum += s;
  *sum_squares += s2;
  pool_norm_scalar::NormalizeStats(n, x, sum, sum_squares, i);
}

// bilinear (pool-norm.h), 4 channels a step over the vector part (the channels below
// p.vector_channels, which take the vector formula), the scalar formula for the rest.
template <typename T>
void BilinearNeon(size_t channels, const T* q00, const T* q01, const T* q10, const T* q11, T* y, const BilinearParams& p) {
  const float32x4_t r0 = vdupq_n_f32(p.r0), r1 = vdupq_n_f32(p.r1), c0 = vdupq_n_f32(p.c0), c1 = vdupq_n_f32(p.c1);
  const float32x4_t zero_point = vdupq_n_f32(p.zero_point), qmin = vdupq_n_f32(p.qmin), qmax = vdupq_n_f32(p.qmax);
  auto four = [&](int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
    // fma(c1, b, c0 * a) is vfmaq(c0 * a, c1, b): the product c1 * b added with one rounding.
    const float32x4_t top = vfmaq_f32(vmulq_f32(c0, vcvtq_f32_s32(a)), c1, vcvtq_f32_s32(b));
    const float32x4_t bottom = vfmaq_f32(vmulq_f32(c0, vcvtq_f32_s32(c)), c1, vcvtq_f32_s32(d));
    const float32x4_t s = vfmaq_f32(vmulq_f32(r0, top), r1, bottom);
    const float32x4_t v = vaddq_f32(vrndnq_f32(vsubq_f32(s, zero_point)), zero_point);
    return vcvtq_s32_f32(ClampSelect(v, qmin, qmax));
  };
  const size_t vector_end = p.vector_channels < channels ? p.vector_channels : channels;
  size_t ch = 0;
  for (; ch + 8 <= vector_end; ch += 8) {
    const int32x4x2_t a = Widen8(q00 + ch), b = Widen8(q01 + ch), c = Widen8(q10 + ch), d = Widen8(q11 + ch);
    const int32x4_t lo = four(a.val[0], b.val[0], c.val[0], d.val[0]);
    const int32x4_t hi = four(a.val[1], b.val[1], c.val[1], d.val[1]);
    Narrow8(y + ch, vcombine_s16(vmovn_s32(lo), vmovn_s32(hi)));
  }
  pool_norm_scalar::Bilinear(channels, q00, q01, q10, q11, y, p, ch);
}

}  // namespace
}  // namespace qk
