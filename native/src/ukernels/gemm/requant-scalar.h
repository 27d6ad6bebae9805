// The GEMM/conv output stage for one value: the spec every SIMD epilogue (requant-avx2/avx512/neon.h) equals bit for bit.
//
// acc is the exact int32 sum_k (a - a_zp)(w - w_zp[j]). Per output column the op precomputes,
// in fp32 (DESIGN §2, FBGEMM's order):
//   s          = a_scale * w_scale[j]
//   bias_term  = bias[j] / s                 (0 without bias)
//   multiplier = s / y_scale
// and per value:
//   t = (float(acc + bias_int) + bias_term) * multiplier   int32 add (wrapping), then two fp32 roundings,
//                                                   never fused (-ffp-contract=off)
//   t = max(t, lo), then min(t, hi)                 lo = y_min - y_zp, hi = y_max - y_zp (exact floats);
//                                                   NaN becomes lo; +-Inf and huge values clamp, so the
//                                                   conversion below always sees a small value
//   y = round_half_even(t + y_zp_f) + y_zp_i        lrintf in the default rounding mode
// The engines (ops/qgemm.h OutputStageColumn) fill the constants: fbgemm bias_int = 0, y_zp_f = 0,
// y_zp_i = y_zp; qnnpack bias_int = its int32 bias, bias_term = 0; onednn adds the zero point in
// fp32 before rounding (y_zp_f = y_zp, y_zp_i = 0). Adding 0.0f changes no value that rounds.
// Clamping in float before rounding equals clamping the rounded integer (the bounds are integers
// and rounding is monotonic). ReLU fusion is lo = 0 (y_min = y_zp).
// Internal linkage, so ISA-flagged files may include it too.
#pragma once

#include <cmath>
#include <cstdint>

namespace qk {
namespace {

inline int32_t RequantizeGemmValue(int32_t acc, int32_t bias_int, float bias_term, float multiplier, float lo,
                                   float hi, float y_zero_point_f, int32_t y_zero_point) {
  const int32_t sum = static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(bias_int));
  float t = (static_cast<float>(sum) + bias_term) * multiplier;
  t = t > lo ? t : lo;  // written so that NaN takes lo (as x86 maxps(t, lo) and NEON vmaxnm do)
  t = t < hi ? t : hi;
  return static_cast<int32_t>(std::lrintf(t + y_zero_point_f)) + y_zero_point;
}

// The dynamic (fp32 output) stage: y = float(acc) * scale (+ bias), then ReLU as (0 > y) ? 0 : y.
inline float ScaleGemmValue(int32_t acc, float scale, const float* bias, bool relu) {
  float y = static_cast<float>(acc) * scale;
  if (bias != nullptr) y = y + *bias;
  if (relu) y = (0.0f > y) ? 0.0f : y;
  return y;
}

}  // namespace
}  // namespace qk
