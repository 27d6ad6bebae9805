// Conv and transposed-conv ops against native/reference/conv-ref, exactly, at the run's ISA level and every thread count.
//
// Random geometries from fixed seeds (kernel 1..7, stride 1..3, dilation 1..3, asymmetric
// padding 0..3, groups incl. depthwise, batch 1..3, per-tensor / per-channel weights, bias or
// none, zero points over the whole range, relu or not, both layouts, every padding mode,
// 1-D / 2-D / 3-D), the special cases (1x1 direct GEMM, long 1-D sequences, stride
// above the kernel span for transposed convs), and the shape errors. Outputs are pre-filled
// with a sentinel, so an element the op forgets shows up.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/conv.h"
#include "reference/conv-ref.h"

namespace qk {
namespace test {
namespace {

constexpr uint8_t kSentinel = 0xA5;

struct ConvCase {
  ConvGeometry g;
  size_t batch = 1;
  size_t in_spatial[3] = {1, 1, 1};
  bool per_channel = false, has_bias = false, relu = false;
  bool symmetric = false;  // every weight zero point 0 (the direct GEMM paths then skip the row terms)
  int32_t x_zp = 0, y_zp = 0;
  float x_scale = 0.05f, y_scale = 0.1f;
  // The value ranges (AVX2's vpmaddubsw kernels run under a proof that depends on them):
  // weights over int8, |w| <= 64 (every pair safe) or at the extremes -128 / 127; x over uint8,
  // <= 127 (7-bit) or at the top, 240..255.
  enum class Values { kRandom, kSmall, kExtreme } w_values = Values::kRandom, x_values = Values::kRandom;
};

std::string Describe(const ConvCase& c) {
  const ConvGeometry& g = c.g;
  auto tuple = [&](const size_t* v) {
    std::string s = "(";
    for (int d = 0; d < g.dims; ++d) s += (d ? "," : "") + std::to_string(v[d]);
    return s + ")";
  };
  static const char* kModes[] = {"zeros", "reflect", "replicate", "circular"};
  return std::string(g.transposed ? "convT" : "conv") + std::to_string(g.dims) + "d N" + std::to_string(c.batch) +
         " " + std::to_string(g.in_channels) + "->" + std::to_string(g.out_channels) + " g" +
         std::to_string(g.groups) + " in" + tuple(c.in_spatial) + " k" + tuple(g.kernel) + " s" + tuple(g.stride) +
         " d" + tuple(g.dilation) + " p" + tuple(g.pad_before) + "/" + tuple(g.pad_after) + " op" +
         tuple(g.output_padding) + " " + kModes[static_cast<int>(g.padding_mode)] +
         (c.per_channel ? " per-channel" : " per-tensor") + (c.symmetric ? " symmetric" : "") + (c.has_bias ? " bias" : "") + (c.relu ? " relu" : "") +
         " xzp" + std::to_string(c.x_zp) + " yzp" + std::to_string(c.y_zp) +
         (c.w_values == ConvCase::Values::kSmall ? " w|64|" : c.w_values == ConvCase::Values::kExtreme ? " w-extreme" : "") +
         (c.x_values == ConvCase::Values::kSmall ? " x7bit" : c.x_values == ConvCase::Values::kExtreme ? " x-top" : "");
}

// Runs one case at every thread count and both layouts; false when it failed.
bool RunCase(Context& ctx, Random& rng, const ConvCase& c) {
  const ConvGeometry& g = c.g;
  size_t out_spatial[3];
  Status st = ConvOutputSize(g, c.in_spatial, out_spatial);
  if (!ctx.Check(st.ok(), Describe(c) + ": ConvOutputSize failed: " + st.message())) return false;
  size_t in_pixels = 1, out_pixels = 1, weight_count = 0;
  for (int d = 0; d < g.dims; ++d) {
    in_pixels *= c.in_spatial[d];
    out_pixels *= out_spatial[d];
  }
  ConvWeightCount(g, &weight_count);
  std::vector<int8_t> w = RandomQuantized<int8_t>(rng, weight_count);
  std::vector<uint8_t> x = RandomQuantized<uint8_t>(rng, c.batch * g.in_channels * in_pixels);
  for (int8_t& v : w) {
    if (c.w_values == ConvCase::Values::kSmall) v = static_cast<int8_t>(v / 2);
    if (c.w_values == ConvCase::Values::kExtreme) v = v < 0 ? -128 : 127;
  }
  for (uint8_t& v : x) {
    if (c.x_values == ConvCase::Values::kSmall) v &= 0x7F;
    if (c.x_values == ConvCase::Values::kExtreme) v |= 0xF0;
  }
  const size_t nq = c.per_channel ? g.out_channels : 1;
  std::vector<double> w_scales(nq);
  std::vector<int32_t> w_zps(nq);
  size_t taps = 1;
  for (int d = 0; d < g.dims; ++d) taps *= g.kernel[d];
  const double depth = static_cast<double>(taps * (g.transposed ? g.in_channels : g.in_channels) / g.groups);
  for (size_t i = 0; i < nq; ++i) {
    w_scales[i] = rng.LogUniform(-3.5, -1.5);
    const int64_t pick = rng.Int(0, 5);
    w_zps[i] = pick == 0 ? -128 : pick == 1 ? 127 : pick == 2 ? 0 : static_cast<int32_t>(rng.Int(-128, 127));
    if (c.symmetric) w_zps[i] = 0;
  }
  std::vector<float> bias;
  if (c.has_bias) {
    for (size_t i = 0; i < g.out_channels; ++i) bias.push_back(static_cast<float>(rng.Uniform(-2, 2)));
  }
  std::shared_ptr<const ConvWeights> weights;
  st = CreateConvWeights(g, w.data(), w_scales.data(), w_zps.data(), nq, c.has_bias ? bias.data() : nullptr,
                         &weights);
  if (!ctx.Check(st.ok(), Describe(c) + ": CreateConvWeights failed: " + st.message())) return false;
  // y_scale spreads the outputs over the range: acc has a standard deviation of about
  // 5500 * sqrt(depth) for random values.
  const float y_scale = static_cast<float>(c.x_scale * w_scales[0] * 5500.0 * std::sqrt(depth) /
                                           rng.Uniform(30, 120));
  // Each case runs under one of PyTorch's engines (their output stages differ; doc/numerics.md).
  const RefEngine ref_engine = static_cast<RefEngine>(rng.Int(0, 2));
  const QEngine engine = ref_engine == kRefOnednn ? QEngine::kOnednn
                         : ref_engine == kRefQnnpack ? QEngine::kQnnpack : QEngine::kFbgemm;
  std::vector<double> channel_scales(g.out_channels);
  for (size_t oc = 0; oc < g.out_channels; ++oc) channel_scales[oc] = w_scales[nq == 1 ? 0 : oc];
  std::vector<uint8_t> expected(c.batch * g.out_channels * out_pixels);
  ConvRef(g, w.data(), channel_scales.data(), weights->w_zero_points.data(), c.has_bias ? bias.data() : nullptr,
          x.data(), c.batch, c.in_spatial, c.x_scale, c.x_zp, y_scale, c.y_zp, c.relu, expected.data(), ref_engine,
          nq != 1);
  const std::vector<uint8_t> x_cl = SwapLayout(x, c.batch, g.in_channels, in_pixels);
  bool ok = true;
  for (int layout = 0; layout < 2 && ok; ++layout) {
    const bool channels_last = layout == 1;
    for (int t = 0; t < 4 && ok; ++t) {
      SetNumThreads(kThreadCounts[t]);
      std::vector<uint8_t> y(expected.size(), kSentinel);
      st = ConvU8(*weights, channels_last ? x_cl.data() : x.data(), c.batch, c.in_spatial,
                  channels_last ? ConvLayout::kChannelsLast : ConvLayout::kContiguous, c.x_scale, c.x_zp, y_scale,
                  c.y_zp, c.relu, y.data(), engine);
      if (!ctx.Check(st.ok(), Describe(c) + ": ConvU8 failed: " + st.message())) {
        ok = false;
        break;
      }
      if (channels_last) y = SwapLayout(y, c.batch, out_pixels, g.out_channels);
      for (size_t i = 0; i < y.size(); ++i) {
        if (y[i] != expected[i]) {
          const size_t n = i / (g.out_channels * out_pixels), oc = i / out_pixels % g.out_channels;
          ctx.Fail(Describe(c) + " engine " + QEngineName(engine) + (channels_last ? " channels_last" : " contiguous") + " threads " +
                   std::to_string(kThreadCounts[t]) + ": first mismatch at n=" + std::to_string(n) + " oc=" +
                   std::to_string(oc) + " pixel=" + std::to_string(i % out_pixels) + ": got " +
                   std::to_string(y[i]) + ", expected " + std::to_string(expected[i]));
          ok = false;
          break;
        }
      }
    }
  }
  SetNumThreads(1);
  return ok;
}

// A random geometry of `dims` spatial dims whose output is non-empty; `budget` bounds the
// multiply-adds (the reference and the emulated AVX-512 kernels are slow).
ConvCase RandomCase(Random& rng, int dims, bool transposed) {
  ConvCase c;
  ConvGeometry& g = c.g;
  g.dims = dims;
  g.transposed = transposed;
  const int64_t kind = rng.Int(0, 5);
  if (kind == 0) {  // depthwise (channel multiplier 1, or 2 through the general path)
    g.groups = static_cast<size_t>(rng.Int(2, 19));
    g.in_channels = g.groups;
    g.out_channels = g.groups * static_cast<size_t>(rng.Int(0, 3) == 0 ? 2 : 1);
  } else {
    g.groups = kind == 1 ? static_cast<size_t>(rng.Int(2, 4)) : 1;
    g.in_channels = g.groups * static_cast<size_t>(rng.Int(1, 9));
    g.out_channels = g.groups * static_cast<size_t>(rng.Int(1, 9));
  }
  const int64_t max_kernel = dims == 1 ? 7 : dims == 2 ? 5 : 3;
  const int64_t max_in = dims == 1 ? 40 : dims == 2 ? 11 : 6;
  const int64_t mode = transposed ? 0 : rng.Int(0, 5);
  g.padding_mode = mode <= 2 ? ConvPaddingMode::kZeros : static_cast<ConvPaddingMode>(mode - 2);
  for (int d = 0; d < dims; ++d) {
    g.kernel[d] = static_cast<size_t>(rng.Int(1, max_kernel));
    g.stride[d] = static_cast<size_t>(rng.Int(1, 3));
    g.dilation[d] = static_cast<size_t>(rng.Int(1, 3));
    g.pad_before[d] = static_cast<size_t>(rng.Int(0, 3));
    g.pad_after[d] = rng.Int(0, 2) == 0 ? static_cast<size_t>(rng.Int(0, 3)) : g.pad_before[d];
    if (transposed) g.output_padding[d] = static_cast<size_t>(rng.Int(0, std::max(g.stride[d], g.dilation[d]) - 1));
    // The smallest input that gives a non-empty output and a legal padding.
    const size_t span = g.dilation[d] * (g.kernel[d] - 1) + 1;
    size_t min_in = 1;
    if (!transposed) {
      const size_t pads = g.pad_before[d] + g.pad_after[d];
      min_in = span > pads ? span - pads : 1;
      const size_t pad_max = std::max(g.pad_before[d], g.pad_after[d]);
      if (g.padding_mode == ConvPaddingMode::kReflect) min_in = std::max(min_in, pad_max + 1);
      if (g.padding_mode == ConvPaddingMode::kCircular) min_in = std::max(min_in, pad_max);
    } else {
      // out = (in - 1) * stride + span + output_padding - pads must be positive.
      const size_t pads = g.pad_before[d] + g.pad_after[d];
      while ((min_in - 1) * g.stride[d] + span + g.output_padding[d] <= pads) ++min_in;
    }
    c.in_spatial[d] = std::max<size_t>(min_in, static_cast<size_t>(rng.Int(1, max_in)));
  }
  c.batch = static_cast<size_t>(rng.Int(1, 3));
  c.per_channel = rng.Int(0, 1) == 1;
  c.has_bias = rng.Int(0, 2) != 0;
  c.relu = rng.Int(0, 3) == 0;
  const int64_t zp_pick = rng.Int(0, 4);
  c.x_zp = zp_pick == 0 ? 0 : zp_pick == 1 ? 255 : static_cast<int32_t>(rng.Int(0, 255));
  c.y_zp = static_cast<int32_t>(rng.Int(0, 255));
  c.x_scale = static_cast<float>(rng.LogUniform(-2.5, -0.5));
  return c;
}

void RunRandom(Context& ctx, uint64_t seed, int dims, bool transposed, int count) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(seed);
  int failures = 0;
  for (int i = 0; i < count && failures < 3; ++i) {
    if (!RunCase(ctx, rng, RandomCase(rng, dims, transposed))) ++failures;
  }
}

// A fixed case: every dim the same kernel, stride, symmetric padding and length; per-channel
// weights with bias, zero points away from 0.
ConvCase FixedCase(int dims, size_t in, size_t out, size_t groups, size_t kernel, size_t stride, size_t pad,
                   size_t length, size_t batch) {
  ConvCase c;
  c.g.dims = dims;
  c.g.in_channels = in;
  c.g.out_channels = out;
  c.g.groups = groups;
  for (int d = 0; d < dims; ++d) {
    c.g.kernel[d] = kernel;
    c.g.stride[d] = stride;
    c.g.pad_before[d] = c.g.pad_after[d] = pad;
    c.in_spatial[d] = length;
  }
  c.batch = batch;
  c.x_zp = 131;
  c.y_zp = 77;
  c.has_bias = true;
  c.per_channel = true;
  return c;
}

QK_TEST(kIsa, "conv/ops/random-conv1d") { RunRandom(ctx, 101, 1, false, 60); }
QK_TEST(kIsa, "conv/ops/random-conv2d") { RunRandom(ctx, 102, 2, false, 50); }
QK_TEST(kIsa, "conv/ops/random-conv3d") { RunRandom(ctx, 103, 3, false, 25); }
QK_TEST(kIsa, "conv/ops/random-conv-transpose1d") { RunRandom(ctx, 104, 1, true, 50); }
QK_TEST(kIsa, "conv/ops/random-conv-transpose2d") { RunRandom(ctx, 105, 2, true, 40); }
QK_TEST(kIsa, "conv/ops/random-conv-transpose3d") { RunRandom(ctx, 106, 3, true, 20); }

// The fixed shapes that pick each path: 1x1 direct GEMM (also grouped and strided), depthwise
// with channel tails, a long 1-D sequence, transposed with stride above the dilated kernel.
QK_TEST(kIsa, "conv/ops/paths") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(107);
  auto make = [](int dims, size_t in, size_t out, size_t groups, size_t kernel, size_t stride, size_t pad,
                 size_t length) { return FixedCase(dims, in, out, groups, kernel, stride, pad, length, 1); };
  std::vector<ConvCase> cases = {
      make(2, 37, 19, 1, 1, 1, 0, 7),     // 1x1: the input is the GEMM's A
      make(2, 12, 9, 3, 1, 1, 0, 5),      // grouped 1x1
      make(2, 16, 8, 1, 1, 2, 0, 9),      // strided 1x1: implicit GEMM
      make(1, 16, 16, 1, 9, 1, 4, 2500),  // long 1-D sequence (several row blocks)
      make(1, 67, 67, 67, 5, 1, 2, 300),  // depthwise 1-D, channel tails of every kernel
      make(2, 35, 35, 35, 3, 1, 1, 20),   // depthwise 3x3
      make(2, 33, 33, 33, 3, 2, 0, 15),   // depthwise 3x3 stride 2
      make(3, 17, 17, 17, 3, 1, 1, 5),    // depthwise 3-D (odd tap count 27)
      make(1, 5, 4, 1, 1, 1, 0, 1),       // one pixel
  };
  ConvCase t = make(1, 6, 5, 1, 2, 5, 0, 9);  // transposed, stride 5 > kernel 2: phases without taps
  t.g.transposed = true;
  t.g.output_padding[0] = 3;
  cases.push_back(t);
  ConvCase relu = make(2, 8, 8, 8, 3, 1, 1, 6);  // depthwise with relu and per-tensor weights
  relu.relu = true;
  relu.per_channel = false;
  cases.push_back(relu);
  // The uint8-row GEMM paths: 1-D windows whose kpad (16) exceeds k (15) at the image's end,
  // over two images; stems with 9-byte runs; and symmetric weights (row terms skipped) on the
  // windows, the in-place 1x1 and the gathered implicit GEMM.
  ConvCase windows = make(1, 3, 32, 1, 5, 2, 0, 41);
  windows.batch = 2;
  cases.push_back(windows);
  cases.push_back(make(2, 3, 16, 1, 3, 2, 1, 17));
  for (ConvCase c : {make(1, 16, 16, 1, 9, 1, 4, 700), make(2, 32, 24, 1, 1, 1, 0, 7), make(3, 4, 8, 1, 3, 1, 1, 6),
                     make(1, 8, 8, 1, 3, 2, 1, 33)}) {
    c.symmetric = true;
    cases.push_back(c);
  }
  for (const ConvCase& c : cases) RunCase(ctx, rng, c);
}

// Transposed 1-D convolutions on the windows path (groups 1, dilation 1, kernel >= stride: each
// stride phase an ordinary convolution of stride 1): phases of several tasks over two images, a
// padding past the kernel span (phases whose first window starts inside the input), output
// padding, phases of unequal tap counts, 15-byte windows (kpad 16) at the image's end, kernel ==
// stride (one tap per phase), and symmetric weights (row terms skipped).
QK_TEST(kIsa, "conv/ops/transposed-windows") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("conv/ops/transposed-windows"));
  auto make = [](size_t in, size_t out, size_t kernel, size_t stride, size_t pad, size_t output_padding,
                 size_t length, size_t batch) {
    ConvCase c = FixedCase(1, in, out, 1, kernel, stride, pad, length, batch);
    c.g.transposed = true;
    c.g.output_padding[0] = output_padding;
    return c;
  };
  std::vector<ConvCase> cases = {
      make(24, 40, 4, 2, 1, 0, 300, 2),  // the bench's shape, scaled: 300 outputs per phase
      make(5, 7, 7, 3, 6, 2, 20, 1),     // pad 6 of a span 7: windows start inside the input
      make(3, 9, 5, 2, 0, 1, 17, 2),     // taps 3 and 2; 15- and 6-byte windows
      make(6, 5, 3, 3, 1, 0, 11, 1),     // kernel == stride
      make(8, 33, 3, 1, 2, 0, 40, 1),    // stride 1: one phase
  };
  for (ConvCase c : {make(16, 16, 6, 2, 2, 1, 290, 1), make(3, 5, 4, 2, 1, 0, 9, 2)}) {
    c.symmetric = true;
    cases.push_back(c);
  }
  for (const ConvCase& c : cases) RunCase(ctx, rng, c);
}

// Runs the cases, then every other one again with symmetric weights and x_zp 0 (the indirect
// paths then skip the row terms).
void RunWithSymmetricHalf(Context& ctx, Random& rng, std::vector<ConvCase>* cases) {
  const size_t fixed = cases->size();
  for (size_t i = 0; i < fixed; i += 2) {
    ConvCase c = (*cases)[i];
    c.symmetric = true;
    c.x_zp = 0;
    cases->push_back(c);
  }
  for (const ConvCase& c : *cases) RunCase(ctx, rng, c);
}

// The indirect GEMM (ordinary convs at the levels whose GEMM layout has an indirect kernel:
// scalar, avx2 and avx512vnni): W-line runs (groups 1, W dilation 1) with odd channel counts, whose
// runs are padded to 4 bytes and whose last pixels would read past x (gathered instead), lines
// crossing the padding, stride 2, per-tap runs under dilation and groups, 3-D, several column
// blocks and batches, the padding modes, and symmetric weights (row terms skipped).
QK_TEST(kIsa, "conv/ops/indirect") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(108);
  auto make = [](int dims, size_t in, size_t out, size_t groups, size_t kernel, size_t stride, size_t pad,
                 size_t length, size_t batch) {
    ConvCase c = FixedCase(dims, in, out, groups, kernel, stride, pad, length, batch);
    c.x_zp = 119;
    c.y_zp = 61;
    return c;
  };
  std::vector<ConvCase> cases = {
      make(2, 5, 7, 1, 3, 1, 1, 9, 2),     // 15-byte lines padded to 16, the last ones gathered
      make(2, 3, 16, 1, 3, 2, 1, 18, 1),   // 3x3 stem, stride 2
      make(2, 3, 40, 1, 7, 2, 3, 19, 2),   // 7x7 stem, stride 2, two column blocks
      make(2, 64, 40, 1, 3, 1, 1, 8, 2),   // many channels, batch 2
      make(2, 6, 9, 3, 3, 2, 1, 10, 2),    // groups 3 (2 channels a run), stride 2
      make(2, 7, 5, 1, 2, 1, 0, 6, 1),     // even kernel, no padding
      make(3, 16, 32, 1, 3, 1, 1, 5, 1),   // the conv3d shape, small
      make(3, 5, 8, 1, 3, 2, 1, 7, 2),     // 3-D stride 2, odd channels
      make(1, 6, 4, 2, 3, 1, 1, 30, 2),    // grouped 1-D (not the windows path)
      make(2, 1, 3, 1, 5, 1, 2, 7, 3),     // one channel: 5-byte lines
  };
  ConvCase dilated = make(2, 6, 9, 1, 3, 1, 2, 11, 1);  // W dilation: per-tap runs of 6 channels
  dilated.g.dilation[0] = dilated.g.dilation[1] = 2;
  cases.push_back(dilated);
  ConvCase h_dilated = make(2, 3, 8, 1, 3, 1, 1, 9, 2);  // H dilation only: still W lines
  h_dilated.g.dilation[0] = 3;
  cases.push_back(h_dilated);
  ConvCase asymmetric = make(2, 4, 12, 1, 3, 2, 0, 12, 1);  // padding on one side only
  asymmetric.g.pad_after[0] = 2;
  asymmetric.g.pad_before[1] = 3;
  cases.push_back(asymmetric);
  for (ConvPaddingMode mode : {ConvPaddingMode::kReflect, ConvPaddingMode::kReplicate, ConvPaddingMode::kCircular}) {
    ConvCase c = make(2, 3, 6, 1, 3, 1, 1, 7, 2);  // mapped coordinates: edge lines gathered
    c.g.padding_mode = mode;
    cases.push_back(c);
  }
  RunWithSymmetricHalf(ctx, rng, &cases);
}

// The indirect GEMM over whole W lines (the levels with a strided indirect kernel: scalar and
// avx512vnni; the others run these through the per-pixel pointers): lines long enough for the
// strided path (an interior of 16 pixels or more), their edge columns gathered, tasks of up to 8
// lines with a tail, D/H lines in the padding, stride 2 with an edge on one side, 7x7 stem runs
// whose 24-byte reads end the stretch early (a run must stay inside its input line), odd channel
// counts, one column block of 16 and two blocks, the padding modes, dilation along D and H,
// batches, relu, and symmetric weights (no row terms).
QK_TEST(kIsa, "conv/ops/indirect-lines") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(1212);
  auto make = [](int dims, size_t in, size_t out, size_t kernel, size_t stride, size_t pad, size_t height,
                 size_t width, size_t batch) {
    ConvCase c = FixedCase(dims, in, out, 1, kernel, stride, pad, height, batch);
    c.in_spatial[dims - 1] = width;
    c.x_zp = 119;
    c.y_zp = 61;
    return c;
  };
  std::vector<ConvCase> cases = {
      make(3, 16, 32, 3, 1, 1, 4, 20, 2),    // the conv3d shape: 3x3 runs of 48 bytes, 2 lines a task
      make(2, 4, 8, 3, 1, 1, 130, 18, 1),    // 130 lines: tasks of 8 and a tail of 2
      make(2, 5, 7, 3, 1, 1, 6, 20, 2),      // 15-byte runs read as 16: the last pixel's run ends the stretch
      make(2, 3, 16, 3, 2, 1, 9, 40, 1),     // 3x3 stem, stride 2: one edge pixel (left), 16 columns
      make(2, 3, 40, 7, 2, 3, 8, 44, 2),     // 7x7 stem: 3 edges each side, 24-byte reads, two blocks
      make(2, 1, 5, 5, 1, 2, 7, 40, 1),      // one channel: 5-byte runs read as 8, 2 edges left and 5 right
      make(2, 24, 36, 3, 1, 1, 3, 18, 3),    // few lines (tasks of one line), batch 3
      make(3, 6, 12, 3, 2, 1, 5, 38, 1),     // 3-D stride 2
  };
  ConvCase one_side = make(2, 8, 12, 3, 1, 0, 5, 22, 2);  // padding after W only
  one_side.g.pad_after[1] = 2;
  one_side.g.pad_before[0] = 2;
  cases.push_back(one_side);
  ConvCase dilated = make(3, 4, 9, 3, 1, 2, 5, 21, 1);  // D and H dilation 2: lines further apart
  dilated.g.dilation[0] = dilated.g.dilation[1] = 2;
  dilated.relu = true;
  cases.push_back(dilated);
  for (ConvPaddingMode mode : {ConvPaddingMode::kReflect, ConvPaddingMode::kReplicate, ConvPaddingMode::kCircular}) {
    ConvCase c = make(2, 3, 6, 3, 1, 1, 5, 20, 2);  // mapped D/H lines and edge columns
    c.g.padding_mode = mode;
    cases.push_back(c);
  }
  RunWithSymmetricHalf(ctx, rng, &cases);
}

// The AVX2 indirect kernels' choice (run at every level; the others ignore it): the 4x16c4
// (vpmaddubsw) kernel under a proof, weights |w| <= 64 (any x, x_zp) or x and x_zp <= 127; the
// exact 6x16c2 kernel on widened input otherwise. Extreme weights with x at the top would
// saturate vpmaddubsw pair sums (255 * -128 * 2), so a wrong choice shows as a mismatch; a
// 7-bit x with x_zp above 127 and padding reads x_zp, so it has no proof either. The 1-D windows
// path makes the same choice, its windows (x alone) apart from its gathered edge rows (x_zp for
// padding): 4x16c4 windows on a 7-bit x whatever x_zp, the exact kernel on int16 windows and
// int16 edge rows otherwise; transposed phases (through ConvU8) take it as well. So does the 1x1
// path (x alone: its rows in place, or widened per task for the exact kernel).
QK_TEST(kIsa, "conv/ops/indirect-proof") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(1208);
  using Values = ConvCase::Values;
  auto make = [](int dims, size_t in, size_t out, size_t groups, size_t kernel, size_t stride, size_t pad,
                 size_t length, Values w, Values x, int32_t x_zp) {
    ConvCase c = FixedCase(dims, in, out, groups, kernel, stride, pad, length, 2);
    c.w_values = w;
    c.x_values = x;
    c.x_zp = x_zp;
    c.y_zp = 77;
    return c;
  };
  std::vector<ConvCase> cases;
  for (Values w : {Values::kSmall, Values::kExtreme, Values::kRandom}) {
    for (Values x : {Values::kSmall, Values::kExtreme, Values::kRandom}) {
      for (int32_t x_zp : {int32_t{119}, int32_t{200}}) {
        cases.push_back(make(2, 5, 20, 1, 3, 1, 1, 9, w, x, x_zp));   // 15-byte lines, two column blocks
        cases.push_back(make(2, 3, 16, 1, 7, 2, 3, 13, w, x, x_zp));  // 7x7 stem, lines crossing the padding
        cases.push_back(make(2, 8, 6, 2, 3, 2, 1, 9, w, x, x_zp));    // groups 2: per-tap runs
        cases.push_back(make(1, 5, 20, 1, 3, 1, 1, 40, w, x, x_zp));  // windows, k = 15: kpad past a window
        cases.push_back(make(1, 8, 16, 1, 9, 2, 4, 50, w, x, x_zp));  // windows, stride 2, wide padding
        cases.push_back(make(1, 6, 16, 1, 3, 1, 0, 30, w, x, x_zp));  // windows, no padding: edges at the end
        cases.push_back(make(2, 8, 20, 1, 1, 1, 0, 6, w, x, x_zp));   // 1x1: rows in place (or widened)
        cases.push_back(make(2, 10, 20, 2, 1, 1, 0, 5, w, x, x_zp));  // 1x1, groups 2 of 5 channels
        ConvCase transposed = make(1, 6, 10, 1, 4, 2, 1, 20, w, x, x_zp);  // a windows pass per phase
        transposed.g.transposed = true;
        cases.push_back(transposed);
      }
    }
  }
  for (const ConvCase& c : cases) RunCase(ctx, rng, c);
}

QK_TEST(kIsa, "conv/ops/errors") {
  ConvGeometry g;
  g.dims = 2;
  g.in_channels = 4;
  g.out_channels = 6;
  g.kernel[0] = g.kernel[1] = 3;
  size_t in[3] = {5, 5, 1}, out[3];
  ctx.Check(ConvOutputSize(g, in, out).ok() && out[0] == 3 && out[1] == 3, "valid 2-D geometry");
  auto expect_range_error = [&](ConvGeometry bad, const size_t* in_spatial, const char* what) {
    size_t o[3];
    const Status st = ConvOutputSize(bad, in_spatial, o);
    ctx.Check(!st.ok() && st.kind() == ErrorKind::kRangeError, std::string(what) + ": expected a RangeError");
  };
  ConvGeometry bad = g;
  bad.groups = 4;  // 6 out channels are not a multiple of 4 groups
  expect_range_error(bad, in, "out channels not divisible by groups");
  bad = g;
  bad.groups = 0;
  expect_range_error(bad, in, "groups 0");
  bad = g;
  bad.stride[1] = 0;
  expect_range_error(bad, in, "stride 0");
  bad = g;
  bad.dims = 4;
  expect_range_error(bad, in, "4 spatial dims");
  const size_t small[3] = {2, 5, 1};
  expect_range_error(g, small, "input smaller than the kernel");
  bad = g;
  bad.padding_mode = ConvPaddingMode::kReflect;
  bad.pad_before[0] = bad.pad_after[0] = 5;
  expect_range_error(bad, in, "reflect padding as large as the input");
  bad = g;
  bad.transposed = true;
  bad.output_padding[0] = 1;  // stride 1, dilation 1
  expect_range_error(bad, in, "output padding not below stride or dilation");
  bad = g;
  bad.transposed = true;
  bad.padding_mode = ConvPaddingMode::kCircular;
  expect_range_error(bad, in, "transposed with a non-zeros padding mode");
  bad = g;
  bad.output_padding[0] = 1;
  expect_range_error(bad, in, "output padding on an ordinary conv");
  bad = g;
  bad.transposed = true;
  bad.stride[0] = bad.stride[1] = size_t{1} << 31;
  const size_t huge[3] = {size_t{1} << 40, 5, 1};
  expect_range_error(bad, huge, "transposed output size beyond 2^64");
  bad = g;
  bad.kernel[0] = size_t{1} << 40;
  expect_range_error(bad, in, "kernel size beyond 2^31");

  // Weights and call arguments.
  const std::vector<int8_t> w(6 * 4 * 9, 1);
  const double scale = 0.1, bad_scale = -1;
  const int32_t zp = 0, bad_zp = 200;
  std::shared_ptr<const ConvWeights> weights;
  ctx.Check(!CreateConvWeights(g, w.data(), &bad_scale, &zp, 1, nullptr, &weights).ok(), "negative weight scale");
  ctx.Check(!CreateConvWeights(g, w.data(), &scale, &bad_zp, 1, nullptr, &weights).ok(), "weight zero point 200");
  ctx.Check(!CreateConvWeights(g, w.data(), &scale, &zp, 2, nullptr, &weights).ok(), "2 qparams for 6 channels");
  ctx.Check(!CreateConvWeights(g, nullptr, &scale, &zp, 1, nullptr, &weights).ok(), "null weight");
  if (!ctx.Check(CreateConvWeights(g, w.data(), &scale, &zp, 1, nullptr, &weights).ok(), "valid weights")) return;
  std::vector<uint8_t> x(4 * 25, 3), y(6 * 9);
  ctx.Check(ConvU8(*weights, x.data(), 1, in, ConvLayout::kContiguous, 0.1f, 0, 0.1f, 0, false, y.data()).ok(),
            "valid call");
  ctx.Check(!ConvU8(*weights, x.data(), 1, in, ConvLayout::kContiguous, 0.0f, 0, 0.1f, 0, false, y.data()).ok(),
            "input scale 0");
  ctx.Check(!ConvU8(*weights, x.data(), 1, in, ConvLayout::kContiguous, 0.1f, 256, 0.1f, 0, false, y.data()).ok(),
            "input zero point 256");
  ctx.Check(!ConvU8(*weights, x.data(), 1, in, ConvLayout::kContiguous, 0.1f, 0, NAN, 0, false, y.data()).ok(),
            "output scale NaN");
  ctx.Check(!ConvU8(*weights, x.data(), 1, small, ConvLayout::kContiguous, 0.1f, 0, 0.1f, 0, false, y.data()).ok(),
            "input smaller than the kernel");
}

}  // namespace
}  // namespace test
}  // namespace qk
