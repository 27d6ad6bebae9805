// Pooling, normalization and resampling microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
//
// The pooling kernels work on channels-last rows: each output pixel is computed from
// the `rows` input pixels its window covers (padding already left out by the op), each a
// run of `channels` contiguous values. An NCHW tensor is transposed to that form by the op.
//
//   maxpool:      y[c] = max over r of rows[r][c]                       (rows >= 1)
//   avgpool sum:  acc[c] = init + sum over r of rows[r][c]  in int32    (rows >= 0; the op
//                 bounds rows * 255 so that the sum cannot overflow)
//   batchnorm:    t = fma(alpha[c], float(x[c] - x_zero_point), beta[c])   one rounding, as
//                 PyTorch's AVX2 kernel (vfmadd); t is clamped to [-2^30, 2^30] (NaN gives
//                 -2^30), rounded half to even, then y[c] = clamp(int(t) + y_zero_point, qmin, qmax)
//                 (a fused ReLU raises qmin to y_zero_point).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

struct BatchNormParams {
  int32_t x_zero_point;
  int32_t y_zero_point;
  int32_t qmin;
  int32_t qmax;
};

using MaxPoolU8Fn = void(size_t rows, size_t channels, const uint8_t* const* input, uint8_t* y);
using MaxPoolS8Fn = void(size_t rows, size_t channels, const int8_t* const* input, int8_t* y);
using SumPoolU8Fn = void(size_t rows, size_t channels, const uint8_t* const* input, int32_t init, int32_t* acc);
using SumPoolS8Fn = void(size_t rows, size_t channels, const int8_t* const* input, int32_t init, int32_t* acc);
using BatchNormU8Fn = void(size_t channels, const uint8_t* x, const float* alpha, const float* beta, uint8_t* y,
                           const BatchNormParams* params);
using BatchNormS8Fn = void(size_t channels, const int8_t* x, const float* alpha, const float* beta, int8_t* y,
                           const BatchNormParams* params);

}  // namespace qk
