// Quantized convolution and transposed convolution (1-D, 2-D, 3-D; quint8 activations, qint8 weights).
//
// Algorithms (doc/conv.md has the details and the packed layouts):
//   - depthwise (groups == in_channels == out_channels): dedicated microkernels per ISA
//     (ukernels/conv/), one output row at a time through an indirection buffer;
//   - 1x1, stride 1, no padding: the channels_last input IS the GEMM's A matrix (QGemmU8);
//   - everything else: implicit GEMM, im2col of a block of output pixels into per-task
//     scratch, then QGemmU8 on the block (K order: kernel taps d,h,w then input channel);
//   - transposed: decomposed into stride phases: the outputs o with (o + pad_before) % stride
//     == r only see the taps k with (r - k * dilation) % stride == 0, so each phase is an
//     ordinary (gathering) implicit GEMM with its own weights (1-D, dilation 1: an ordinary
//     1-D convolution of stride 1 on the windows path); every output element is computed by
//     one task, with no scatter-add.
//   - prepared (PrepareConvRun, for ConvOp and the eager cache): the indirection into a padded
//     copy of the input built once per shape, so a small conv's run only runs (doc/conv.md, path 8).
// Non-zero padding modes map padded coordinates to input coordinates (reflect, replicate,
// circular); in the zeros mode the padding value is the input zero point (a real zero).
// Input in contiguous layout is transposed to channels_last, and the output back.
//
// Numerics: the output stage of DESIGN §2 (GemmRequant in ops/qgemm.h), per output channel:
//   acc = sum (x - x_zp)(w - w_zp[c]); raw = float(acc) + bias[c] / (x_scale * w_scale[c]);
//   y = clamp(round_half_even(raw * ((x_scale * w_scale[c]) / y_scale)) + y_zp, lo, 255),
//   lo = relu ? y_zp : 0. Identical for every ISA and thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/conv-geometry.h"  // ConvGeometry, ConvPaddingMode
#include "base/status.h"
#include "ukernels/dispatch.h"

namespace qk {

struct OutputStage;  // ops/qgemm.h

enum class ConvLayout { kContiguous /* N C [D] [H] W */, kChannelsLast /* N [D] [H] W C */ };

// Checks the geometry alone (channels, groups, kernel, stride, dilation, padding-mode rules,
// output_padding < max(stride, dilation) as PyTorch requires). RangeError naming the parameter.
Status CheckConvGeometry(const ConvGeometry& g);

// Output spatial size, with every PyTorch shape check (RangeError status naming the parameter).
// Unused entries (index >= dims) of in_spatial are ignored and those of out_spatial set to 1.
//   conv:       out = (in + pad_before + pad_after - dilation * (kernel - 1) - 1) / stride + 1
//   transposed: out = (in - 1) * stride - pad_before - pad_after + dilation * (kernel - 1)
//                     + output_padding + 1
// Reflect padding needs pad < in, circular pad <= in (as PyTorch's F.pad).
Status ConvOutputSize(const ConvGeometry& g, const size_t in_spatial[3], size_t out_spatial[3]);

// Number of weight values: conv out * (in / groups) * prod(kernel), transposed
// in * (out / groups) * prod(kernel). False on overflow (CheckConvGeometry catches it).
bool ConvWeightCount(const ConvGeometry& g, size_t* count);

struct ConvPacked;  // the packed forms (implementation detail of conv.cc)

// Immutable prepacked weights (+ bias, qparams, original weights for weight()).
// Shared by a module and its in-flight async calls.
struct ConvWeights {
  ConvGeometry geometry;
  bool per_channel = false;
  // Per output channel (per-tensor: the one value repeated), scales rounded to float as PyTorch does.
  // For transposed weights ([in][out/groups][k...]) output channel oc = group * (out / groups) + j
  // is weight axis 1 within its group; PyTorch's FBGEMM refuses per-channel transposed weights,
  // qkernels indexes their qparams by output channel (the only axis the output stage can scale).
  std::vector<float> w_scales;
  std::vector<double> w_scales_f64;    // the same scales as given (onednn and qnnpack read doubles)
  std::vector<int32_t> w_zero_points;
  std::vector<float> bias;             // empty or out_channels values
  std::vector<int8_t> w;               // the original weights, PyTorch's layout
  std::shared_ptr<const ConvPacked> packed;
};

// w in PyTorch's layout: conv [out][in/groups][k...]; transposed [in][out/groups][k...].
// w_scales/w_zero_points: 1 value (per-tensor) or out_channels values (per output channel).
// Scales must be positive and finite (after rounding to float), zero points in [-128, 127];
// bias: out_channels floats or nullptr (any value; NaN follows the output stage: y_min).
Status CreateConvWeights(const ConvGeometry& g, const int8_t* w, const double* w_scales,
                         const int32_t* w_zero_points, size_t num_qparams, const float* bias,
                         std::shared_ptr<const ConvWeights>* out);
const ConvGeometry& GeometryOf(const ConvWeights& w);

// A per-block epilogue of ConvU8 (a traced plan's fused conv + add, plan/fusion.h). ConvU8
// calls fn(context, begin, end) for element ranges [begin, end) of y that hold their final
// conv values, each element of y in exactly one call, possibly from several threads at once
// (disjoint ranges). fn may rewrite its range of y in place, and must touch nothing else of y.
// Paths that write y in blocks call it per block, while the block is in cache; the others
// (a contiguous output, grouped GEMMs, transposed phases, the 1-D window path) call it on
// chunks of the whole output after the conv.
struct ConvEpilogue {
  void (*fn)(const void* context, size_t begin, size_t end) = nullptr;
  const void* context = nullptr;
};

// x: [batch][...] quint8 in `layout`; y: same layout (channels_last when out_channels_last, the
// layout PyTorch's engines return whatever the input's), out_spatial from ConvOutputSize.
// The output stage is the one of `engine` (ops/qgemm.h GemmRequant); the scales are doubles as
// PyTorch keeps them (fbgemm's formula rounds them to float first).
// The caller provides buffers of the exact sizes (batch * in_channels * prod(in_spatial) and
// batch * out_channels * prod(out_spatial)); x_scale, y_scale positive finite, zero points in [0, 255].
// Splits the work over the thread pool; output identical for any thread count and ISA.
// `stage`: ConvOutputStage of these weights, qparams, relu and engine, made ahead by an op that
// runs them on every call (ConvOp), or null (ConvU8 then makes it: a division or two per output
// channel on every call).
Status ConvU8(const ConvWeights& w, const uint8_t* x, size_t batch, const size_t in_spatial[3],
              ConvLayout layout, double x_scale, int32_t x_zero_point, double y_scale,
              int32_t y_zero_point, bool relu, uint8_t* y, QEngine engine = QEngine::kFbgemm,
              bool out_channels_last = false, const ConvEpilogue* epilogue = nullptr,
              const OutputStage* stage = nullptr);
// A conv prepared for one input shape, layout, qparams and ISA level (ops/conv.cc): the runs'
// indirection into a padded copy of the input, the GEMM stages and the task list, built once
// so that RunPreparedConv only copies the input and runs the kernels. Immutable; shared.
struct ConvRun;
// ConvU8's arguments but the buffers (checked as ConvU8 checks them). *out is null (with Ok)
// when the shape takes a path that reads its input in place anyway (depthwise, 1x1, the 1-D
// windows, a transposed phase that no tap reaches) or is too large to index this way.
Status PrepareConvRun(const ConvWeights& w, size_t batch, const size_t in_spatial[3], ConvLayout layout,
                      double x_scale, int32_t x_zero_point, double y_scale, int32_t y_zero_point, bool relu,
                      QEngine engine, bool out_channels_last, const OutputStage* stage,
                      std::shared_ptr<const ConvRun>* out);
// ConvU8(w, x, ..., y, ..., epilogue, stage) for the arguments `run` was prepared with, the same
// bytes. False (nothing written) when the active ISA level is no longer the run's: the caller
// runs ConvU8.
bool RunPreparedConv(const ConvRun& run, const uint8_t* x, uint8_t* y, const ConvEpilogue* epilogue);
// The output stage's per-channel constants ConvU8 uses for these arguments (ops/qgemm.h).
OutputStage ConvOutputStage(const ConvWeights& w, double x_scale, int32_t x_zero_point, double y_scale,
                            int32_t y_zero_point, bool relu, QEngine engine);

}  // namespace qk
