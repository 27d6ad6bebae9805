// Pooling, normalization and resampling microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
//
// The pooling kernels produce one output row of a channels-last pool per call: output_width
// pixels along W, each from the `lines` input lines its window covers in the outer dims (the
// (d, h) positions, padding left out by the op), each line a run of W * channels values. Pixel
// ow reads column_count[ow] columns of each line, the first at element column_offset[ow], the
// next ones column_stride elements apart (a dilated window); the op computes these columns
// once per call, so the kernels never see padding, stride or ceil_mode. With n = lines *
// column_count[ow] the pixel's element count (the op bounds it by 2^23):
//
//   maxpool:  y[ow][c] = max over the window of x[c]  (the type's lowest when n = 0)
//   avgpool:  acc = sum over the window of x[c] - n * zero_point   (int32, exact)
//             t = float(acc) * (c < split ? scale[ow] : tail_scale[ow]) + pre   (two roundings)
//             y[ow][c] = clamp(nearbyint(t) + post, type range)   (round half to even)
//             The op keeps |t| below 2^31 - 2^22, so nearbyint(t) fits int32 and SIMD converts it
//             directly: |acc| <= 255 n <= 255 * 2^23, every factor is at most 1 (a divisor or
//             window size is at least 1), and |pre| <= 255.
//   the op maps each of PyTorch's average formulas (ops/pool.h) onto scale, pre, post, split.
//   batchnorm:    t = fma(alpha[c], float(x[c] - x_zero_point), beta[c])   one rounding, as
//                 PyTorch's AVX2 kernel (vfmadd); t is clamped to [-2^30, 2^30] (NaN gives
//                 -2^30), rounded half to even, then y[c] = clamp(int(t) + y_zero_point, qmin, qmax)
//                 (a fused ReLU raises qmin to y_zero_point).
//   normalize (layer / group / instance norm, one run of a group that shares its statistics):
//                 u = ((float(x[i]) - x_zero_point) - mean_centred) * scale
//                 t = fma(u, gamma[i * affine_stride], beta[i * affine_stride])   one rounding
//                 q = nearbyint(t * y_inv_scale) + y_zero_point   (round half to even)
//                 y[i] = clamp(q, qmin, qmax), a NaN q giving qmin (as PyTorch's integer clamp
//                 of a NaN's conversion does). Every step is one IEEE float operation, so a
//                 SIMD lane gives the scalar bits. The op passes scale 1 and the channel's
//                 gamma * s with affine_stride 0 for group / instance norm's per-channel affine.
//   normalize_rows: `rows` runs of n values back to back (run r at x + r * n, y + r * n), each
//                 normalize's formula with its own mean_centred[r] and scale[r] and the shared
//                 gamma / beta (element i of a run reads gamma[i * affine_stride]): the same bits
//                 as one normalize call per run. Layer norm over a short last dim (16 groups
//                 of 4 values, say) pays one call and one setup instead of one per group.
//   normalize_stats: sum and sum of squares of n values (int64, exact in any order).
//   bilinear (one channels-last output pixel, every channel): a, b, c, d the channel's values at
//                 the four source pixels (q00, q01, q10, q11) as float, r0 r1 c0 c1 the weights:
//                 channels below vector_channels (PyTorch's AVX2 vector part, C rounded down to 8):
//                   top = fma(c1, b, c0 * a), bottom = fma(c1, d, c0 * c), s = fma(r1, bottom, r0 * top)
//                 the others (its scalar tail):
//                   top = fma(c0, a, c1 * b), bottom = fma(c0, c, c1 * d), s = fma(r0, top, r1 * bottom)
//                 y = clamp(nearbyint(s - zero_point) + zero_point, qmin, qmax). All values finite.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

struct PoolRowParams {
  size_t lines;
  size_t channels;
  size_t output_width;
  size_t column_stride;         // elements between a window's columns (dilation * channels)
  const size_t* column_offset;  // [output_width]
  const size_t* column_count;   // [output_width]
};

struct AvgPoolRowParams {
  PoolRowParams row;
  int32_t zero_point;
  float pre;
  int32_t post;
  size_t split;
  const float* scale;       // [output_width]
  const float* tail_scale;  // [output_width]
};

struct BatchNormParams {
  int32_t x_zero_point;
  int32_t y_zero_point;
  int32_t qmin;
  int32_t qmax;
};

struct NormalizeParams {
  float x_zero_point;
  float mean_centred;  // the group's mean minus x_zero_point
  float scale;         // x_scale / sqrt(var * x_scale^2 + eps), or 1 (see above)
  float y_inv_scale;   // 1 / y_scale
  float y_zero_point;
  float qmin, qmax;    // the dtype's range
};

struct BilinearParams {
  float r0, r1;  // the row weights (top, bottom)
  float c0, c1;  // the column weights (left, right)
  float zero_point;
  float qmin, qmax;
  size_t vector_channels;  // channels below this take the vector formula
};

using MaxPoolU8Fn = void(const uint8_t* const* lines, uint8_t* y, const PoolRowParams* params);
using MaxPoolS8Fn = void(const int8_t* const* lines, int8_t* y, const PoolRowParams* params);
using AvgPoolU8Fn = void(const uint8_t* const* lines, uint8_t* y, const AvgPoolRowParams* params);
using AvgPoolS8Fn = void(const int8_t* const* lines, int8_t* y, const AvgPoolRowParams* params);
using BatchNormU8Fn = void(size_t channels, const uint8_t* x, const float* alpha, const float* beta, uint8_t* y,
                           const BatchNormParams* params);
using BatchNormS8Fn = void(size_t channels, const int8_t* x, const float* alpha, const float* beta, int8_t* y,
                           const BatchNormParams* params);
using NormalizeU8Fn = void(size_t n, const uint8_t* x, const float* gamma, const float* beta, size_t affine_stride,
                           uint8_t* y, const NormalizeParams* params);
using NormalizeS8Fn = void(size_t n, const int8_t* x, const float* gamma, const float* beta, size_t affine_stride,
                           int8_t* y, const NormalizeParams* params);
using NormalizeRowsU8Fn = void(size_t rows, size_t n, const uint8_t* x, const float* mean_centred, const float* scale,
                               const float* gamma, const float* beta, size_t affine_stride, uint8_t* y,
                               const NormalizeParams* params);
using NormalizeRowsS8Fn = void(size_t rows, size_t n, const int8_t* x, const float* mean_centred, const float* scale,
                               const float* gamma, const float* beta, size_t affine_stride, int8_t* y,
                               const NormalizeParams* params);
using NormalizeStatsU8Fn = void(size_t n, const uint8_t* x, int64_t* sum, int64_t* sum_squares);
using NormalizeStatsS8Fn = void(size_t n, const int8_t* x, int64_t* sum, int64_t* sum_squares);
using BilinearU8Fn = void(size_t channels, const uint8_t* q00, const uint8_t* q01, const uint8_t* q10, const uint8_t* q11,
                          uint8_t* y, const BilinearParams* params);
using BilinearS8Fn = void(size_t channels, const int8_t* q00, const int8_t* q01, const int8_t* q10, const int8_t* q11,
                          int8_t* y, const BilinearParams* params);

}  // namespace qk
