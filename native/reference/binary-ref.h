// Reference 1-bit convolution: bitorch's forward (pad with pad_value, then conv of +-1 values) element by element.
//
// Written to be read against bitorch's QConv forward rather than to be fast: no bits, no
// packing, no kernel header. Arguments must already be valid (the op's checks).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/conv-geometry.h"
#include "base/params-binary.h"

namespace qk {

// x: [batch][in][in_spatial...] raw floats binarized by `rule`; w: [out][in/groups][kernel...]
// of +-1; bias: out values or nullptr. y: [batch][out][out_spatial...], every element written:
//   y = float(in-bounds dot) + pad_value * float(sum of w over padded taps)   (+ bias)
void BinaryConvRef(const ConvGeometry& g, const float* x, size_t batch, const size_t in_spatial[3], BinaryRule rule,
                   const float* w, float pad_value, const float* bias, float* y);

// bitorch's forward of an input quantization on each activation: sign / steheaviside: +-1;
// inputdorefa(k): round(clamp(x, 0, 1) * n) / n in fp32, n = 2^k - 1, round half to even (NaN stays).
void QuantizeActivationsRef(const float* x, size_t count, LowBitInput input, int bits, float* y);

// The u8 level of each activation x[i] under a multi-bit layer's input quantization, as bitorch
// computes the quantized value (sign / steheaviside: +-1; inputdorefa(k): round(clamp(x, 0, 1) *
// n) / n in fp32, n = 2^k - 1) and the layer's grid reads it back (level = value / scale + zero
// point: +-1 + 1; value * n + n); NaN under inputdorefa is level 0.
void LowBitInputLevelsRef(const float* x, size_t count, LowBitInput input, int bits, uint8_t* levels);

}  // namespace qk
