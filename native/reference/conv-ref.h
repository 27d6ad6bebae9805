// Reference convolution and transposed convolution: naive loops over PyTorch's layouts, the ground truth of the conv tests.
//
// One output element at a time, straight from the definitions:
//   conv:       y[n][oc][o] = out_stage(sum_{ic in group, k} (x[n][ic][i] - x_zp) * (w[oc][ic'][k] - w_zp[oc]))
//               with i = o * stride - pad_before + k * dilation mapped by the padding mode
//               (zeros: outside taps contribute nothing, which is x = x_zp).
//   transposed: y[n][oc][o] = out_stage(sum over (ic in group, k) with o + pad_before - k * dilation
//               = i * stride, 0 <= i < in, of (x[n][ic][i] - x_zp) * (w[ic][oc'][k] - w_zp[oc])).
// out_stage is DESIGN §2's, per output channel (RequantValueRef).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/conv-geometry.h"

namespace qk {

// DESIGN §2 for one accumulator: raw = float(acc) + bias / (x_scale * w_scale) (no bias term
// when has_bias is false); y = clamp(round_half_even(raw * ((x_scale * w_scale) / y_scale)) + y_zp, y_min, y_max).
int32_t ConvRequantValueRef(int32_t acc, float x_scale, float w_scale, bool has_bias, float bias, float y_scale,
                            int32_t y_zero_point, int32_t y_min, int32_t y_max);

// The same value under PyTorch 1.13's other engines (doc/numerics.md), from the engines' sources:
//   kRefOnednn:  s = float(1 / x_scale) * wei (ideep's reciprocal scales), wei = 1.0f / float(w_scale)
//                for per-channel weights, float(1 / w_scale) per tensor (torch's prepack);
//                t = (float(acc) + bias * s) * (float(1 / y_scale) / s), clamped to [y_min - y_zp,
//                y_max - y_zp]; y = round_half_even(t + float(y_zp)) (oneDNN adds the zero point
//                in fp32, then rounds);
//   kRefQnnpack: qb = round_half_even(bias * (1 / float(w_scale * x_scale))) in int32;
//                t = float(acc + qb) * ((float(w_scale) * float(x_scale)) * (1 / float(y_scale)));
//                y = clamp(round_half_even(t) + y_zp, y_min, y_max).
// Scales are doubles as PyTorch keeps them. kRefFbgemm is ConvRequantValueRef.
enum RefEngine : int { kRefFbgemm = 0, kRefOnednn = 1, kRefQnnpack = 2 };
int32_t EngineRequantValueRef(RefEngine engine, int32_t acc, double x_scale, double w_scale, bool w_per_channel,
                              bool has_bias, float bias, double y_scale, int32_t y_zero_point, int32_t y_min,
                              int32_t y_max);

// x contiguous [batch][in_channels][spatial...], y contiguous [batch][out_channels][out spatial...]
// (out_spatial as ConvOutputSize gives it, which the caller has checked). w in PyTorch's layout;
// w_scales and w_zero_points have out_channels values (w_per_channel: they came per channel);
// bias out_channels values or nullptr.
void ConvRef(const ConvGeometry& g, const int8_t* w, const double* w_scales, const int32_t* w_zero_points,
             const float* bias, const uint8_t* x, size_t batch, const size_t in_spatial[3], double x_scale,
             int32_t x_zero_point, double y_scale, int32_t y_zero_point, bool relu, uint8_t* y,
             RefEngine engine = kRefFbgemm, bool w_per_channel = false);

}  // namespace qk
