// Reference fused ops with an fp32 epilogue (LinearLeakyReLU, LinearTanh, ConvAdd, ConvAddReLU): naive loops, the ground truth of their C++ tests.
//
// Straight from the definitions oneDNN's post-ops give PyTorch 1.13, one output at a time:
//   v = float(acc) * (x_scale * w_scale[c]) (+ bias[c])       the fp32 GEMM output, acc exact in int32
//   ConvAdd: v = v + extra_scale * float(extra - extra_zp)    then ReLU (ConvAddReLU)
//   Linear:  v = activation(v)                                 ReLU, LeakyReLU (v * alpha), Tanh
//   y = quantize_val(v, y_scale, y_zp) as quint8               (quantize-ref.h)
// Independent of the kernels: it includes only base/ (the geometry and the padding mapper).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/conv-geometry.h"

namespace qk {
namespace ref {

// Activation codes as lib/ sends them: 0 none, 1 ReLU, 2 LeakyReLU (alpha), 3 Tanh.
float ActivateRef(float v, int activation, float alpha);

// x [rows][in] quint8, w [out][in] qint8, w_scales (fp32) and w_zero_points per output feature,
// bias out values or nullptr; y [rows][out].
void LinearActivationRef(size_t rows, size_t out, size_t in, const uint8_t* x, float x_scale, int32_t x_zero_point,
                         const int8_t* w, const float* w_scales, const int32_t* w_zero_points, const float* bias,
                         int activation, float alpha, double y_scale, int32_t y_zero_point, uint8_t* y);

// Contiguous layouts: x [batch][in_channels][in_spatial...], extra and y [batch][out_channels][out_spatial...].
// Unused spatial entries (index >= g.dims) are 1 in in_spatial and out_spatial; w in PyTorch's
// layout [out][in/groups][k...]; w_scales (fp32) and w_zero_points per output channel.
void ConvAddRef(const ConvGeometry& g, const int8_t* w, const float* w_scales, const int32_t* w_zero_points,
                const float* bias, const uint8_t* x, size_t batch, const size_t in_spatial[3], const size_t out_spatial[3],
                float x_scale, int32_t x_zero_point, const uint8_t* extra, float extra_scale, int32_t extra_zero_point,
                bool relu, double y_scale, int32_t y_zero_point, uint8_t* y);

}  // namespace ref
}  // namespace qk
