// Reference quantized softmax: PyTorch 1.13's formula (ops/softmax.h) one column at a time, the ground truth of the softmax tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {
namespace ref {

// x and y: [outer][size][inner] values of one 8-bit dtype (is_signed: qint8, else quint8), as
// int32. Dequantize float(x_scale) * float(q - x_zp); e = float(exp(double(v - max))); the fp32
// sum in index order; along the last dim (inner == 1) e * (1 / sum), else e / sum; quantize_val.
void SoftmaxRef(const int32_t* x, size_t outer, size_t size, size_t inner, bool is_signed, double x_scale,
                int32_t x_zero_point, double y_scale, int32_t y_zero_point, int32_t* y);

}  // namespace ref
}  // namespace qk
