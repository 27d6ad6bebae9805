// Quantized pooling operators (max, average, adaptive average, adaptive max) over 1, 2 or 3 spatial dims, NCHW or NHWC.
//
// Every op sees a problem in three spatial dims D, H, W (a 2-D pool has D = 1, a 1-D pool
// D = H = 1) and a layout: channels first (N, C, D, H, W contiguous) or channels last
// (N, D, H, W, C). The output has the input's qparams and layout, as in PyTorch.
//
// Numerics (PyTorch 1.13 on x86 with the onednn engine, the Debian build the tests run):
//   max pool:  y = max over the window's in-bounds positions (padding never wins).
//   avg pool:  s = sum over in-bounds positions of q, minus size * zero_point, in int32
//              (size = in-bounds positions; the divisor is divisor_override, else the window
//              clipped to the padded input when count_include_pad, else size). Then
//     channels first (PyTorch's avg_pool2d_out_frame):
//              m = float(1.0 / divisor)  (double division), y = nearbyint(float(s) * m + float(zp))
//     channels last (PyTorch's AVX2 qavg_pool_nhwc kernel): m = 1.0f / float(divisor);
//              channels below C rounded down to a multiple of 8 (the kernel's vector part):
//              y = nearbyint(float(s) * m) + zp; the rest (its scalar tail, quantize_val):
//              y = nearbyint(float(s) * (1.0f / (1.0f / m))) + zp.
//              All clamped to the dtype. 3-D average pooling always runs channels last (PyTorch
//              converts its input to channels_last_3d), so its output is channels last too.
//   adaptive avg: window [floor(float(o * in) / out), ceil(float((o + 1) * in) / out)), k its size.
//     channels first: y = nearbyint(float(sum of q) * r) with r = ((float(1.0 / kD) / kH) / kW),
//              each division in fp32 (the zero point cancels: same qparams in and out);
//     channels last:  y = zp + nearbyint(float(sum of q - k * zp) * (1.0f / (1.0f / (1.0f / k)))).
//   adaptive max (beyond PyTorch, which has no quantized one): windows
//              [floor(o * in / out), ceil((o + 1) * in / out)) in integers, as float
//              adaptive_max_pool does; y = max.
// Sums run in int32: the ops refuse windows of more than 2^23 elements (far beyond any real
// kernel) so that no sum can overflow and float(s) stays exact.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/params-pool-norm.h"  // PoolLayout, PoolGeometry, AvgPoolOptions
#include "base/status.h"
#include "ops/op.h"
#include "ops/quantize.h"

namespace qk {

// PyTorch's pooling_output_shape: floor or ceil of (in + 2 pad - dilation (k - 1) - 1) / stride + 1,
// where with ceil_mode the last window must start inside the input or its left padding.
// False when the arguments are invalid (zero kernel/stride/dilation) or the output would be < 1.
bool PoolOutputSize(int64_t input, int64_t kernel, int64_t padding, int64_t stride, int64_t dilation, bool ceil_mode,
                    int64_t* output);

// Checks a geometry for the pooling ops: positive kernel, stride, dilation; padding at most
// half the kernel (PyTorch's rule); output sizes as PoolOutputSize gives for some ceil_mode;
// x and y buffers large enough. Names the parameter in the Status.
Status CheckPoolGeometry(const PoolGeometry& g, bool dilation_allowed);

enum class PoolKind { kMax, kAvg, kAdaptiveAvg, kAdaptiveMax };

// The prepared pooling op (ops/op.h): Prepare checks the geometry and options and builds the
// windows' column table along W once; Run allocates nothing (an NCHW tensor is staged through
// channels-last buffers in the scratch, a plan's arena), so a traced pool costs the kernel's
// time and little more. One op serves the binding's calls and a plan's step.
class PoolOp final : public Op {
 public:
  // options: every field read by kAvg, zero_point alone by kAdaptiveAvg, none by the max pools.
  // Adaptive kinds read g.output and ignore kernel, stride, padding and dilation.
  static Status Prepare(PoolKind kind, const PoolGeometry& g, QDType dtype, PoolLayout layout,
                        const AvgPoolOptions& options, std::shared_ptr<const PoolOp>* out);

  const char* name() const override;
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return x_bytes_; }
  size_t output_bytes() const override { return y_bytes_; }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

  // The column table along W (fixed by the geometry): output column ow reads column_count[ow]
  // input columns from column_offset[ow] (in elements of a channels-last row, so times C).
  struct Columns {
    std::vector<size_t> offset, count;
    std::vector<int64_t> padded;  // average pooling: the window clipped to the padded input
  };

 private:
  PoolOp() = default;
  template <typename T>
  void RunChannelsLast(const T* x, T* y) const;

  PoolKind kind_ = PoolKind::kMax;
  PoolGeometry g_;
  QDType dtype_ = QDType::kQUInt8;
  PoolLayout layout_ = PoolLayout::kChannelsFirst;
  AvgPoolOptions options_;
  Columns columns_;
  size_t x_bytes_ = 0, y_bytes_ = 0, scratch_bytes_ = 0;
};

// One call: Prepare, the buffers checked against the geometry, Run with scratch of its own
// (the C++ tests' entry points; the binding keeps the prepared op).
Status MaxPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes, void* y,
               size_t y_bytes);

// Dilation must be 1 (PyTorch's average pooling has none).
Status AvgPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const AvgPoolOptions& options, const void* x,
               size_t x_bytes, void* y, size_t y_bytes);

// Adaptive pools: g.output gives the output sizes; kernel/stride/padding/dilation are ignored.
Status AdaptiveAvgPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, int32_t zero_point, const void* x,
                       size_t x_bytes, void* y, size_t y_bytes);
Status AdaptiveMaxPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes, void* y,
                       size_t y_bytes);

// The index ranges the ops use (also used by the reference).
inline int64_t AdaptiveAvgStart(int64_t o, int64_t out, int64_t in) {
  return static_cast<int64_t>(std::floor(static_cast<float>(o * in) / static_cast<float>(out)));
}
inline int64_t AdaptiveAvgEnd(int64_t o, int64_t out, int64_t in) {
  return static_cast<int64_t>(std::ceil(static_cast<float>((o + 1) * in) / static_cast<float>(out)));
}
inline int64_t AdaptiveMaxStart(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
inline int64_t AdaptiveMaxEnd(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

}  // namespace qk
