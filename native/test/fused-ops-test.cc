// The prepared linear and conv ops (ops/linear-op.h, ops/conv-op.h) against native/reference/fused-ref: LeakyReLU/Tanh epilogues and ConvAdd(ReLU), exactly.
//
// Random shapes from fixed seeds over both activations' and ConvAdd's parameters (1-D/2-D/3-D,
// groups, padding modes, both input layouts and both output layouts, per-tensor / per-channel,
// bias or none), at the run's ISA level and every thread count; one prepared op also runs on
// two threads at once. Outputs are pre-filled with a sentinel, so an element the op forgets shows up.
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/conv-op.h"
#include "ops/linear-op.h"
#include "reference/fused-ref.h"

namespace qk {
namespace test {
namespace {

constexpr uint8_t kSentinel = 0xA5;

// The first index where got differs from expected, or -1.
int64_t FirstMismatch(const std::vector<uint8_t>& got, const std::vector<uint8_t>& expected) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected[i]) return static_cast<int64_t>(i);
  }
  return got.size() == expected.size() ? -1 : 0;
}

std::string MismatchText(const std::vector<uint8_t>& got, const std::vector<uint8_t>& expected, int64_t at) {
  return "first mismatch at " + std::to_string(at) + ": got " + std::to_string(got[static_cast<size_t>(at)]) +
         ", expected " + std::to_string(expected[static_cast<size_t>(at)]);
}

// Runs the op at every thread count into a sentinel-filled output, maps it to the reference's
// layout with `to_reference` (null: as is) and compares; false (and a failure) on the first difference.
bool RunAtEveryThreadCount(Context& ctx, const Op& op, const void* const* inputs, const std::vector<uint8_t>& expected,
                           const std::function<std::vector<uint8_t>(const std::vector<uint8_t>&)>& to_reference,
                           const std::string& what) {
  bool ok = true;
  for (int t = 0; t < 4 && ok; ++t) {
    SetNumThreads(kThreadCounts[t]);
    std::vector<uint8_t> y(op.output_bytes(), kSentinel);
    const Status st = RunWithScratch(op, inputs, y.data());
    ok = ctx.Check(st.ok(), what + ": Run: " + st.message());
    if (!ok) break;
    if (to_reference) y = to_reference(y);
    const int64_t at = FirstMismatch(y, expected);
    if (at >= 0) {
      ctx.Fail(what + " threads " + std::to_string(kThreadCounts[t]) + ": " + MismatchText(y, expected, at));
      ok = false;
    }
  }
  SetNumThreads(1);
  return ok;
}

// Weight qparams: per-tensor or per-channel scales (as doubles, and rounded to float per channel) and zero points.
struct WeightQ {
  std::vector<double> scales;
  std::vector<int32_t> zero_points;
  std::vector<float> channel_scales;  // per output channel, fp32
  std::vector<int32_t> channel_zero_points;
};

WeightQ RandomWeightQ(Random& rng, size_t channels, bool per_channel) {
  WeightQ q;
  const size_t count = per_channel ? channels : 1;
  for (size_t i = 0; i < count; ++i) {
    q.scales.push_back(rng.LogUniform(-3.5, -1.5));
    q.zero_points.push_back(static_cast<int32_t>(rng.Int(-128, 127)));
  }
  for (size_t c = 0; c < channels; ++c) {
    q.channel_scales.push_back(static_cast<float>(q.scales[per_channel ? c : 0]));
    q.channel_zero_points.push_back(q.zero_points[per_channel ? c : 0]);
  }
  return q;
}

// ---- linear -------------------------------------------------------------------------------

void RunLinearCase(Context& ctx, Random& rng, int activation) {
  const size_t rows = static_cast<size_t>(rng.Int(1, 40)), in = static_cast<size_t>(rng.Int(1, 70));
  const size_t out = static_cast<size_t>(rng.Int(1, 50));
  const bool per_channel = rng.Int(0, 1) == 1, has_bias = rng.Int(0, 2) != 0;
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, out * in);
  const std::vector<uint8_t> x = RandomQuantized<uint8_t>(rng, rows * in);
  const WeightQ q = RandomWeightQ(rng, out, per_channel);
  std::vector<float> bias;
  for (size_t j = 0; has_bias && j < out; ++j) bias.push_back(static_cast<float>(rng.Uniform(-3, 3)));
  LinearParams p;
  p.rows = rows;
  p.x_scale = rng.LogUniform(-2.5, -0.5);
  p.x_zero_point = static_cast<int32_t>(rng.Int(0, 255));
  // Outputs spread over the range: the fp32 values are about x_scale * w_scale * 5500 * sqrt(in).
  p.y_scale = p.x_scale * q.scales[0] * 5500.0 * std::sqrt(static_cast<double>(in)) / rng.Uniform(30, 120);
  p.y_zero_point = static_cast<int32_t>(rng.Int(0, 255));
  p.activation = static_cast<Activation>(activation);
  p.negative_slope = static_cast<float>(rng.Uniform(-0.5, 1.5));
  const std::string what = "linear act " + std::to_string(activation) + " " + std::to_string(rows) + "x" +
                           std::to_string(in) + "->" + std::to_string(out) + (per_channel ? " per-channel" : "") +
                           (has_bias ? " bias" : "");
  std::shared_ptr<const LinearWeights> weights;
  Status st = CreateLinearWeights(w.data(), out, in, q.scales.data(), q.zero_points.data(), q.scales.size(),
                                  has_bias ? bias.data() : nullptr, &weights);
  if (!ctx.Check(st.ok(), what + ": CreateLinearWeights: " + st.message())) return;
  std::shared_ptr<const LinearOp> op;
  st = LinearOp::Prepare(weights, p, &op);
  if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
  std::vector<uint8_t> expected(rows * out);
  ref::LinearActivationRef(rows, out, in, x.data(), static_cast<float>(p.x_scale), p.x_zero_point, w.data(),
                           q.channel_scales.data(), q.channel_zero_points.data(), has_bias ? bias.data() : nullptr,
                           activation, p.negative_slope, p.y_scale, p.y_zero_point, expected.data());
  const void* inputs[1] = {x.data()};
  RunAtEveryThreadCount(ctx, *op, inputs, expected, nullptr, what);
}

QK_TEST(kIsa, "fused/ops/linear-leaky-relu") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(201);
  for (int i = 0; i < 30 && !ctx.failed(); ++i) RunLinearCase(ctx, rng, 2);
}

QK_TEST(kIsa, "fused/ops/linear-tanh") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(202);
  for (int i = 0; i < 30 && !ctx.failed(); ++i) RunLinearCase(ctx, rng, 3);
}

// ---- ConvAdd ------------------------------------------------------------------------------

void RunConvAddCase(Context& ctx, Random& rng, int dims) {
  ConvGeometry g;
  g.dims = dims;
  g.groups = static_cast<size_t>(rng.Int(0, 3) == 0 ? rng.Int(2, 3) : 1);
  g.in_channels = g.groups * static_cast<size_t>(rng.Int(1, 6));
  g.out_channels = g.groups * static_cast<size_t>(rng.Int(1, 6));
  const int64_t mode = rng.Int(0, 5);
  g.padding_mode = mode <= 2 ? ConvPaddingMode::kZeros : static_cast<ConvPaddingMode>(mode - 2);
  ConvParams p;
  p.batch = static_cast<size_t>(rng.Int(1, 2));
  const int64_t max_in = dims == 1 ? 30 : dims == 2 ? 9 : 5;
  for (int d = 0; d < dims; ++d) {
    g.kernel[d] = static_cast<size_t>(rng.Int(1, dims == 3 ? 2 : 3));
    g.stride[d] = static_cast<size_t>(rng.Int(1, 2));
    g.dilation[d] = static_cast<size_t>(rng.Int(1, 2));
    g.pad_before[d] = static_cast<size_t>(rng.Int(0, 2));
    g.pad_after[d] = static_cast<size_t>(rng.Int(0, 2));
    const size_t span = g.dilation[d] * (g.kernel[d] - 1) + 1;
    const size_t pads = g.pad_before[d] + g.pad_after[d];
    size_t min_in = std::max<size_t>(span > pads ? span - pads : 1, std::max(g.pad_before[d], g.pad_after[d]) + 1);
    p.in_spatial[d] = std::max<size_t>(min_in, static_cast<size_t>(rng.Int(1, max_in)));
  }
  const bool per_channel = rng.Int(0, 1) == 1, has_bias = rng.Int(0, 2) != 0;
  size_t weight_count = 0;
  ConvWeightCount(g, &weight_count);
  const size_t in_pixels = p.in_spatial[0] * p.in_spatial[1] * p.in_spatial[2];
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, weight_count);
  const std::vector<uint8_t> x = RandomQuantized<uint8_t>(rng, p.batch * g.in_channels * in_pixels);
  const WeightQ q = RandomWeightQ(rng, g.out_channels, per_channel);
  std::vector<float> bias;
  for (size_t j = 0; has_bias && j < g.out_channels; ++j) bias.push_back(static_cast<float>(rng.Uniform(-3, 3)));
  p.x_scale = rng.LogUniform(-2.5, -0.5);
  p.x_zero_point = static_cast<int32_t>(rng.Int(0, 255));
  const double depth = static_cast<double>(weight_count / g.out_channels);
  p.y_scale = p.x_scale * q.scales[0] * 5500.0 * std::sqrt(depth) / rng.Uniform(30, 120);
  p.y_zero_point = static_cast<int32_t>(rng.Int(0, 255));
  p.relu = rng.Int(0, 1) == 1;
  p.add = true;
  p.extra_scale = p.y_scale * rng.Uniform(0.3, 3);
  p.extra_zero_point = static_cast<int32_t>(rng.Int(0, 255));
  const std::string what = "conv_add " + std::to_string(dims) + "d " + std::to_string(g.in_channels) + "->" +
                           std::to_string(g.out_channels) + " g" + std::to_string(g.groups) + " mode " +
                           std::to_string(static_cast<int>(g.padding_mode)) + (p.relu ? " relu" : "");
  std::shared_ptr<const ConvWeights> weights;
  Status st = CreateConvWeights(g, w.data(), q.scales.data(), q.zero_points.data(), q.scales.size(),
                                has_bias ? bias.data() : nullptr, &weights);
  if (!ctx.Check(st.ok(), what + ": CreateConvWeights: " + st.message())) return;
  ConvAddGemms gemms;
  size_t out_spatial[3] = {1, 1, 1};
  st = ConvOutputSize(g, p.in_spatial, out_spatial);
  if (!ctx.Check(st.ok(), what + ": ConvOutputSize: " + st.message())) return;
  const size_t out_pixels = out_spatial[0] * out_spatial[1] * out_spatial[2];
  const std::vector<uint8_t> extra = RandomQuantized<uint8_t>(rng, p.batch * g.out_channels * out_pixels);
  std::vector<uint8_t> expected(extra.size());
  ref::ConvAddRef(g, w.data(), q.channel_scales.data(), q.channel_zero_points.data(), has_bias ? bias.data() : nullptr,
                  x.data(), p.batch, p.in_spatial, out_spatial, static_cast<float>(p.x_scale), p.x_zero_point,
                  extra.data(), static_cast<float>(p.extra_scale), p.extra_zero_point, p.relu, p.y_scale,
                  p.y_zero_point, expected.data());
  const std::vector<uint8_t> x_cl = SwapLayout(x, p.batch, g.in_channels, in_pixels);
  const std::vector<uint8_t> extra_cl = SwapLayout(extra, p.batch, g.out_channels, out_pixels);
  // Layouts: contiguous, channels_last, contiguous input with channels_last output.
  for (int layout = 0; layout < 3; ++layout) {
    ConvParams lp = p;
    lp.layout = layout == 1 ? ConvLayout::kChannelsLast : ConvLayout::kContiguous;
    lp.out_channels_last = layout != 0;
    std::shared_ptr<const ConvOp> op;
    st = ConvOp::Prepare(weights, &gemms, lp, &op);
    if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
    if (!ctx.Check(op->output_bytes() == expected.size() && op->input_count() == 2, what + ": sizes")) return;
    const void* inputs[2] = {layout == 1 ? x_cl.data() : x.data(), lp.out_channels_last ? extra_cl.data() : extra.data()};
    std::function<std::vector<uint8_t>(const std::vector<uint8_t>&)> to_contiguous;
    if (lp.out_channels_last) {
      to_contiguous = [&](const std::vector<uint8_t>& y) { return SwapLayout(y, p.batch, out_pixels, g.out_channels); };
    }
    if (!RunAtEveryThreadCount(ctx, *op, inputs, expected, to_contiguous, what + " layout " + std::to_string(layout))) {
      return;
    }
  }
}

QK_TEST(kIsa, "fused/ops/conv-add-1d") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(211);
  for (int i = 0; i < 25 && !ctx.failed(); ++i) RunConvAddCase(ctx, rng, 1);
}

QK_TEST(kIsa, "fused/ops/conv-add-2d") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(212);
  for (int i = 0; i < 25 && !ctx.failed(); ++i) RunConvAddCase(ctx, rng, 2);
}

QK_TEST(kIsa, "fused/ops/conv-add-3d") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(213);
  for (int i = 0; i < 12 && !ctx.failed(); ++i) RunConvAddCase(ctx, rng, 3);
}

// One prepared op, two threads at once on their own buffers and scratch: both get the serial result.
QK_TEST(kIsa, "fused/ops/concurrent-runs") {
  ConvGeometry g;
  g.in_channels = 6;
  g.out_channels = 4;
  g.kernel[0] = g.kernel[1] = 3;
  g.pad_before[0] = g.pad_before[1] = g.pad_after[0] = g.pad_after[1] = 1;
  Random rng(214);
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, 4 * 6 * 9);
  const double scale = 0.01;
  const int32_t zp = 3;
  std::shared_ptr<const ConvWeights> weights;
  Status st = CreateConvWeights(g, w.data(), &scale, &zp, 1, nullptr, &weights);
  if (!ctx.Check(st.ok(), "CreateConvWeights: " + st.message())) return;
  ConvAddGemms gemms;
  ConvParams p;
  p.in_spatial[0] = p.in_spatial[1] = 12;
  p.x_scale = 0.05;
  p.y_scale = 0.4;
  p.y_zero_point = 100;
  p.add = true;
  p.extra_scale = 0.3;
  p.extra_zero_point = 128;
  std::shared_ptr<const ConvOp> op;
  st = ConvOp::Prepare(weights, &gemms, p, &op);
  if (!ctx.Check(st.ok(), "Prepare: " + st.message())) return;
  std::vector<uint8_t> x[2] = {RandomQuantized<uint8_t>(rng, 6 * 144), RandomQuantized<uint8_t>(rng, 6 * 144)};
  std::vector<uint8_t> extra = RandomQuantized<uint8_t>(rng, 4 * 144);
  std::vector<uint8_t> serial[2], parallel[2];
  for (int i = 0; i < 2; ++i) {
    serial[i].assign(op->output_bytes(), kSentinel);
    const void* inputs[2] = {x[i].data(), extra.data()};
    st = RunWithScratch(*op, inputs, serial[i].data());
    if (!ctx.Check(st.ok(), "Run: " + st.message())) return;
    parallel[i].assign(op->output_bytes(), kSentinel);
  }
  Status statuses[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) {
    threads[i] = std::thread([&, i] {
      const void* inputs[2] = {x[i].data(), extra.data()};
      for (int repeat = 0; repeat < 20 && statuses[i].ok(); ++repeat) statuses[i] = RunWithScratch(*op, inputs, parallel[i].data());
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 2; ++i) {
    ctx.Check(statuses[i].ok(), "concurrent Run: " + statuses[i].message());
    ctx.Check(parallel[i] == serial[i], "thread " + std::to_string(i) + " differs from the serial run");
  }
  ctx.Check(serial[0] != serial[1], "the two inputs should give different outputs");
}

QK_TEST(kIsa, "fused/ops/errors") {
  ConvGeometry g;
  g.in_channels = g.out_channels = 2;
  const int8_t w[4 * 9] = {};
  const double scale = 0.1;
  const int32_t zp = 0;
  std::shared_ptr<const ConvWeights> weights;
  Status st = CreateConvWeights(g, w, &scale, &zp, 1, nullptr, &weights);
  if (!ctx.Check(st.ok(), "CreateConvWeights: " + st.message())) return;
  ConvAddGemms gemms;
  ConvParams p;
  p.in_spatial[0] = p.in_spatial[1] = 4;
  p.add = true;
  std::shared_ptr<const ConvOp> op;
  p.y_scale = std::nan("");
  st = ConvOp::Prepare(weights, &gemms, p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("for scale") != std::string::npos,
            "NaN scale: " + st.message());
  p.y_scale = 1;
  p.extra_zero_point = 256;
  st = ConvOp::Prepare(weights, &gemms, p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("extra zero point") != std::string::npos,
            "extra zero point 256: " + st.message());
  p.extra_zero_point = 0;
  st = ConvOp::Prepare(weights, nullptr, p, &op);
  ctx.Check(st.kind() == ErrorKind::kTypeError, "add without the GEMM cache: " + st.message());
  st = ConvOp::Prepare(weights, &gemms, p, &op);
  if (!ctx.Check(st.ok(), "Prepare: " + st.message())) return;
  std::vector<uint8_t> x(op->input_bytes(0)), extra(op->input_bytes(1)), y(op->output_bytes());
  const void* inputs[2] = {x.data(), extra.data()};
  st = op->Run(inputs, y.data(), nullptr);
  ctx.Check(st.kind() == ErrorKind::kTypeError && op->scratch_bytes() > 0, "Run without scratch: " + st.message());
  g.transposed = true;
  std::shared_ptr<const ConvWeights> transposed;
  st = CreateConvWeights(g, w, &scale, &zp, 1, nullptr, &transposed);
  if (!ctx.Check(st.ok(), "CreateConvWeights (transposed): " + st.message())) return;
  st = ConvOp::Prepare(transposed, &gemms, p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("non-transposed") != std::string::npos,
            "transposed add: " + st.message());
  LinearParams lp;
  lp.activation = static_cast<Activation>(7);
  std::shared_ptr<const LinearWeights> lw;
  st = CreateLinearWeights(w, 2, 2, &scale, &zp, 1, nullptr, &lw);
  if (!ctx.Check(st.ok(), "CreateLinearWeights: " + st.message())) return;
  std::shared_ptr<const LinearOp> lop;
  st = LinearOp::Prepare(lw, lp, &lop);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("activation") != std::string::npos,
            "activation 7: " + st.message());
}

}  // namespace
}  // namespace test
}  // namespace qk
