// PyTorch 1.13's per-element formulas for the elementwise family: the spec every kernel (any ISA) and table must equal bit for bit.
//
// Two sets, because PyTorch's cpu_kernel_vec computes most of a run with its
// vectorized lambda and the last (run length mod 2 * Vec::size()) elements with the
// scalar one, and the two round differently:
//   vector: dequantize = fma(scale, float(q), scale * -float(zp)); quantize = QuantizeAvx2
//   scalar: dequantize = scale * float(q - zp);                   quantize = quantize_val
// Internal linkage throughout (see quantize-scalar.h for why).
#pragma once

#include <cmath>
#include <cstdint>

#include "ukernels/ukernels.h"

namespace qk {
namespace {

// Elements per vectorized step of PyTorch's cpu_kernel_vec for 8-bit types on
// an AVX2 build (2 * Vectorized<quint8>::size()); the rest of a run is scalar.
constexpr size_t kTorchVectorStep = 64;

// QuantizeAvx2's clip: the largest float below 2^31 (int32 max - 127).
constexpr float kInt32FloatMax = 2147483520.0f;

inline float DequantizeVectorValue(int32_t q, float scale, float premul) {
  return std::fma(scale, static_cast<float>(q), premul);
}

inline float DequantizeScalarValue(int32_t q, float scale, int32_t zero_point) {
  return scale * static_cast<float>(q - zero_point);
}

// cvtps2dq: round half to even; NaN and values outside int32 give INT32_MIN.
inline int32_t ConvertToInt32Vector(float t) {
  if (!(t >= -2147483648.0f && t < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(std::nearbyint(t));
}

inline int32_t ClampInt(int64_t r, int32_t qmin, int32_t qmax) {
  return r < qmin ? qmin : (r > qmax ? qmax : static_cast<int32_t>(r));
}

// QuantizeAvx2: t = min(x * inv, 2147483520) as minps (a NaN product gives the
// bound), cvtps2dq (round half even; below -2^31 the "integer indefinite"
// INT32_MIN), add the zero point with int32 wraparound, clamp.
inline int32_t QuantizeVectorValue(float x, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  float t = x * inv_scale;
  t = t < kInt32FloatMax ? t : kInt32FloatMax;
  return ClampInt(static_cast<int32_t>(static_cast<uint32_t>(ConvertToInt32Vector(t)) + static_cast<uint32_t>(zero_point)),
                  qmin, qmax);
}

// quantize_val: s = float(zero_point) + nearbyint(x * inv), a float addition;
// int64(s) is INT64_MIN for NaN and |s| >= 2^63 (x86 cvttss2si), then clamp.
inline int32_t QuantizeScalarValue(float x, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float s = static_cast<float>(zero_point) + std::nearbyint(x * inv_scale);
  if (!(std::fabs(s) < 0x1p63f)) return qmin;
  return ClampInt(static_cast<int64_t>(s), qmin, qmax);
}

// requantize_from_int, vectorized (RequantizeAvx2): cvtps2dq(float(c) * multiplier)
// plus the zero point (int32, wrapping), clamped.
inline int32_t RequantizeVectorValue(int32_t c, float multiplier, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const int32_t rounded = ConvertToInt32Vector(static_cast<float>(c) * multiplier);
  return ClampInt(static_cast<int32_t>(static_cast<uint32_t>(rounded) + static_cast<uint32_t>(zero_point)), qmin, qmax);
}

// requantize_from_int, scalar: zero_point + lrintf(float(c) * multiplier) in int64
// (x86 lrintf: INT64_MIN for NaN and |t| >= 2^63), clamped.
inline int32_t RequantizeScalarValue(int32_t c, float multiplier, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float t = static_cast<float>(c) * multiplier;
  if (!(std::fabs(t) < 0x1p63f)) return qmin;
  return ClampInt(static_cast<int64_t>(std::nearbyint(t)) + zero_point, qmin, qmax);
}

// One element of the binary kernels' vector formula (see BinaryParams).
inline int32_t BinaryVectorValue(int32_t a, int32_t b, const BinaryParams& p) {
  if (p.multiply) {
    const int32_t c = (a - p.a_zero_point) * (b - p.b_zero_point);
    const int32_t y = RequantizeVectorValue(c, p.multiplier, p.out_zero_point, p.qmin, p.qmax);
    return p.relu && y < p.out_zero_point ? p.out_zero_point : y;
  }
  const float da = DequantizeVectorValue(a, p.a_scale, p.a_premul);
  const float db = DequantizeVectorValue(b, p.b_scale, p.b_premul);
  float c = da + db;
  // vec::maximum(c, 0): NaN stays NaN.
  if (p.relu && c < 0.0f) c = 0.0f;
  return QuantizeVectorValue(c, p.inv_out_scale, p.out_zero_point, p.qmin, p.qmax);
}

// One element of PyTorch's scalar lambdas (the tail of each run): dequantize_val,
// add, std::max(c, 0), quantize_val; or the integer product and requantize_from_int.
inline int32_t BinaryScalarValue(int32_t a, int32_t b, const BinaryParams& p) {
  if (p.multiply) {
    const int32_t c = (a - p.a_zero_point) * (b - p.b_zero_point);
    const int32_t y = RequantizeScalarValue(c, p.multiplier, p.out_zero_point, p.qmin, p.qmax);
    return p.relu && y < p.out_zero_point ? p.out_zero_point : y;
  }
  const float da = DequantizeScalarValue(a, p.a_scale, p.a_zero_point);
  const float db = DequantizeScalarValue(b, p.b_scale, p.b_zero_point);
  float c = da + db;
  if (p.relu && c < 0.0f) c = 0.0f;
  return QuantizeScalarValue(c, p.inv_out_scale, p.out_zero_point, p.qmin, p.qmax);
}

template <typename T>
inline void BinaryVectorLoop(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<T>(BinaryVectorValue(a[i], b[i], p));
}

template <typename T>
inline void BinaryScalarLoop(size_t n, const T* a, const T* b, T* y, const BinaryParams& p) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<T>(BinaryScalarValue(a[i], b[i], p));
}

}  // namespace
}  // namespace qk
