// The plain argument structs of the pooling and normalization ops, shared by ops/pool.h, ops/norm.h and the reference (which may include only base/).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

enum class PoolLayout : int { kChannelsFirst = 0, kChannelsLast = 1 };

// Sizes of one pooling problem; dims are (D, H, W).
struct PoolGeometry {
  size_t batch = 1;
  size_t channels = 1;
  size_t input[3] = {1, 1, 1};
  size_t output[3] = {1, 1, 1};
  size_t kernel[3] = {1, 1, 1};
  size_t stride[3] = {1, 1, 1};
  size_t padding[3] = {0, 0, 0};
  size_t dilation[3] = {1, 1, 1};
};

struct AvgPoolOptions {
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
  int32_t zero_point = 0;
  // QNNPACK's average pooling (torch 1.13's avg_pool2d under the qnnpack engine for 4-D quint8
  // input without ceil_mode; the caller decides): the same int32 sum s (padding counts as the
  // zero point), then y = clamp(lrintf(float(s) * (scale / (scale * K))) + zp, 0, 255) with
  // K = the kernel's size and every product and quotient in fp32 (q8avgpool's fp32 requantization).
  // count_include_pad and divisor_override are ignored, as QNNPACK ignores them (a torch 1.13 bug
  // followed: doc/numerics.md).
  bool qnnpack = false;
  double scale = 1;  // the input's (and output's) scale, read by the qnnpack formula only
};

struct BatchNormArgs {
  size_t batch = 0;
  size_t channels = 0;
  size_t spatial = 1;             // D * H * W
  bool channels_last_input = false;
  const float* weight = nullptr;  // null: 1
  const float* bias = nullptr;    // null: 0
  const float* mean = nullptr;
  const float* var = nullptr;
  size_t params_len = 0;          // length of each of weight/bias/mean/var
  double eps = 1e-5;
  double x_scale = 1;
  int32_t x_zero_point = 0;
  double y_scale = 1;
  int32_t y_zero_point = 0;
  bool relu = false;
};

struct NormalizeArgs {
  size_t groups = 0;            // M: rows normalized independently (all batches)
  size_t group_size = 0;        // N: elements per group
  // Affine: per element of a group (layer norm, gamma length group_size) or per channel
  // (group norm: channels_per_group channels of group_size / channels_per_group elements each,
  // gamma length num_channels).
  bool per_channel = false;
  size_t num_channels = 0;      // per_channel only
  size_t channels_per_group = 0;
  const float* gamma = nullptr;  // null: 1
  const float* beta = nullptr;   // null: 0
  size_t affine_len = 0;
  double eps = 1e-5;
  float x_scale = 1;
  int32_t x_zero_point = 0;
  float y_scale = 1;
  int32_t y_zero_point = 0;
};

}  // namespace qk
