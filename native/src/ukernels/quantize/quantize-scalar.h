// The quantize/dequantize formulas for one value: the spec every kernel (any ISA) must equal bit for bit.
//
// Included by the scalar kernels and by native/src/ops (the paths that loop one
// element at a time). Everything here has internal linkage, so a translation
// unit compiled with ISA flags could include it without its copy ever replacing
// the baseline one at link time.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "ukernels/ukernels.h"

namespace qk {
namespace {

// |t| at or above this (and NaN) is where PyTorch's float -> int64 conversion
// (x86 cvttss2si) yields INT64_MIN, which then clamps to qmin: so +-Inf, NaN
// and |x / scale| >= 2^63 all quantize to qmin, not to the nearer bound.
constexpr float kQuantizeInvalidLimit = 0x1p63f;

// Clamp bounds of t = x * inv_scale, relative to the zero point. Exact: they are
// small integers (|qmin - zp| <= 255 for the 8-bit kernels).
struct QuantizeBounds {
  float lo;  // qmin - zero_point
  float hi;  // qmax - zero_point
};

inline QuantizeBounds MakeQuantizeBounds(const QuantizeParams& p) {
  return {static_cast<float>(p.qmin - p.zero_point), static_cast<float>(p.qmax - p.zero_point)};
}

// q = clamp(zero_point + nearbyint(x * inv_scale), qmin, qmax), ties to even,
// q = qmin when x * inv_scale is NaN, +-Inf or has magnitude >= 2^63.
// Clamping t to [qmin - zp, qmax - zp] before rounding gives the same integer as
// clamping after (the bounds are integers and rounding is monotonic), and keeps
// the conversion in int32 range. Precondition: qmin <= zero_point <= qmax, and
// qmax - qmin < 2^24 (so the bounds are exact floats).
inline int32_t QuantizeValue(float x, float inv_scale, int32_t zero_point, QuantizeBounds bounds) {
  float t = x * inv_scale;
  if (!(std::fabs(t) < kQuantizeInvalidLimit)) t = bounds.lo;
  t = t < bounds.lo ? bounds.lo : t;
  t = t > bounds.hi ? bounds.hi : t;
  // lrintf rounds in the current mode: round-to-nearest-even unless someone
  // changed it, which PyTorch's nearbyint relies on just the same.
  return static_cast<int32_t>(std::lrintf(t)) + zero_point;
}

// x = scale * float(q - zero_point), one fp32 multiply (q - zp is exact in int32
// for every 8-bit q and in-range zero point).
inline float DequantizeValue(int32_t q, float scale, int32_t zero_point) {
  return scale * static_cast<float>(q - zero_point);
}

// The scalar kernels' loops, shared by the quint8 and qint8 entry points.
template <typename T>
inline void QuantizeLoop(size_t n, const float* x, T* y, const QuantizeParams& params) {
  const QuantizeBounds bounds = MakeQuantizeBounds(params);
  for (size_t i = 0; i < n; ++i) {
    y[i] = static_cast<T>(QuantizeValue(x[i], params.inv_scale, params.zero_point, bounds));
  }
}

template <typename T>
inline void DequantizeLoop(size_t n, const T* q, float* y, const DequantizeParams& params) {
  for (size_t i = 0; i < n; ++i) y[i] = DequantizeValue(q[i], params.scale, params.zero_point);
}

}  // namespace
}  // namespace qk
