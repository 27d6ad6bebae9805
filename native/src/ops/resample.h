// Quantized resampling: nearest (1-D, 2-D, 3-D) and bilinear (2-D) upsampling/downsampling, NCHW or NHWC.
//
// Index computation (PyTorch 1.13, aten/src/ATen/native/UpSample.h and the quantized kernels):
//   nearest, per dim: out == in: i = o; out == 2 in: i = o >> 1; else
//     scale = scale_factor given ? float(1.0 / scale_factor) : float(in) / float(out)
//     i = min(int64(floorf(float(o) * scale)), in - 1)
//   bilinear (align_corners a):
//     scale = a ? (out > 1 ? float(in - 1) / float(out - 1) : 0)
//               : (scale_factor given ? float(1.0 / scale_factor) : float(in) / float(out))
//     src   = a ? scale * float(o) : max(scale * (float(o) + 0.5f) - 0.5f, 0)          (fp32)
//     i0 = int64(src), step = i0 < in - 1 ? 1 : 0, l1 = src - float(i0), l0 = 1 - l1 (fp32)
//     t = (h0 * (w0 * q00 + w1 * q01) + h1 * (w0 * q10 + w1 * q11)) - float(zp), each op in fp32
//     y = clamp(nearbyint(t) + zp)      (output qparams are the input's)
//     Channels last follows torch's NHWC kernel, which GCC built with FMA contraction: src =
//     fma(scale, o + 0.5f, -0.5f) and, for channels below C rounded down to 8 (its vector part),
//     t = fma(h1, fma(w1, q11, w0 * q10), h0 * fma(w1, q01, w0 * q00)) - zp; for the other channels
//     (its scalar tail) t = fma(h0, fma(w0, q00, w1 * q01), h1 * fma(w0, q10, w1 * q11)) - zp.
//   When in == out in both dims, bilinear copies (PyTorch's special case).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "ops/op.h"
#include "ops/pool.h"
#include "ops/quantize.h"

namespace qk {

struct ResampleGeometry {
  size_t batch = 1;
  size_t channels = 1;
  size_t input[3] = {1, 1, 1};   // D, H, W
  size_t output[3] = {1, 1, 1};
  double scale_factor[3] = {0, 0, 0};  // 0: not given (the sizes decide)
};

enum class ResampleMode { kNearest, kBilinear };

// The prepared resampling op (ops/op.h): Prepare checks the geometry and builds the source index
// tables (nearest) or the taps (bilinear) once; Run reads them, allocating nothing.
class ResampleOp final : public Op {
 public:
  // align_corners and zero_point are read by bilinear only, which is 2-D (g.input[0] and
  // g.output[0] must be 1).
  static Status Prepare(ResampleMode mode, const ResampleGeometry& g, QDType dtype, PoolLayout layout, bool align_corners,
                        int32_t zero_point, std::shared_ptr<const ResampleOp>* out);

  const char* name() const override { return mode_ == ResampleMode::kNearest ? "upsample_nearest" : "upsample_bilinear"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return x_bytes_; }
  size_t output_bytes() const override { return y_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

  // One bilinear tap along a dim: the first source index, the step to the second (0 at the edge), the weights.
  struct Tap {
    int64_t index;
    int64_t step;
    float l0;
    float l1;
  };

 private:
  ResampleOp() = default;
  void RunNearest(const uint8_t* x, uint8_t* y) const;
  template <typename T>
  void RunBilinear(const T* x, T* y) const;

  ResampleMode mode_ = ResampleMode::kNearest;
  ResampleGeometry g_;
  QDType dtype_ = QDType::kQUInt8;
  PoolLayout layout_ = PoolLayout::kChannelsFirst;
  int32_t zero_point_ = 0;
  size_t x_bytes_ = 0, y_bytes_ = 0;
  std::vector<size_t> source_;  // nearest: the source index of each output D, then H, then W coordinate
  bool doubled_ = false;        // nearest: W doubles (source column ow / 2)
  bool copy_ = false;           // bilinear with equal sizes: a copy (PyTorch's special case)
  std::vector<Tap> rows_, cols_;  // bilinear
};

// One call: Prepare, the buffers checked, Run (the C++ tests' entry points).
Status UpsampleNearest(const ResampleGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes,
                       void* y, size_t y_bytes);

// 2-D only: g.input[0] and g.output[0] must be 1.
Status UpsampleBilinear(const ResampleGeometry& g, QDType dtype, PoolLayout layout, bool align_corners,
                        int32_t zero_point, const void* x, size_t x_bytes, void* y, size_t y_bytes);

// Source index of output position o along one dim (nearest), as PyTorch computes it.
int64_t NearestSourceIndex(int64_t o, int64_t in, int64_t out, double scale_factor);

}  // namespace qk
