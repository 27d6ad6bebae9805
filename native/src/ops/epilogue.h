// The fp32 epilogue of the fused ops PyTorch has beyond ReLU: an activation on fp32 values, then quantize to quint8.
//
// As oneDNN's post-ops do for LinearLeakyReLU, LinearTanh, ConvAdd2d and ConvAddReLU2d: the
// fp32 GEMM output (QGemmF32: float(acc) * (x_scale * w_scale) + bias), then the activation
// (and for ConvAdd the add) in fp32, then PyTorch's quantize_per_tensor formula.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace qk {

// The codes lib/ sends (linear's `activation` argument).
enum class Activation : int { kNone = 0, kReLU = 1, kLeakyReLU = 2, kTanh = 3 };

// v[i] = f(v[i]) in place (ReLU: v > 0 ? v : 0; LeakyReLU: v > 0 ? v : v * alpha; Tanh:
// std::tanh), then y[i] = quantize_per_tensor(v[i], y_scale, y_zero_point) as quint8.
Status ActivateQuantizeU8(float* v, size_t n, Activation activation, float alpha, double y_scale, int32_t y_zero_point,
                          uint8_t* y);

}  // namespace qk
