// The plain types of quantize / dequantize, shared by ops/quantize.h, the kernels (ukernels/ukernels.h) and the reference (which may include only base/).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

enum class QDType : int { kQUInt8 = 0, kQInt8 = 1, kQInt32 = 2, kQUInt4x2 = 3 };

struct QRange {
  int64_t qmin;
  int64_t qmax;
};

// How per-channel data lies in memory: `outer` blocks, each of `channels`
// runs of `inner` contiguous elements. For a contiguous NCHW tensor and axis 1:
// outer = N, channels = C, inner = H*W; for channels_last it is outer = N*H*W,
// channels = C, inner = 1.
struct ChannelLayout {
  size_t outer;
  size_t channels;
  size_t inner;
};

// The quantize / dequantize microkernels' parameters (ukernels/ukernels.h states the formulas).
struct QuantizeParams {
  float inv_scale;
  int32_t zero_point;
  int32_t qmin;
  int32_t qmax;
};

// dequantize: x = scale * float(q - zero_point), in fp32.
struct DequantizeParams {
  float scale;
  int32_t zero_point;
};

}  // namespace qk
