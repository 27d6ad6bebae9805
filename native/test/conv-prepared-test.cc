// The prepared conv run (PrepareConvRun, taken by ConvOp::Run): the reference's bytes and ConvU8's on every geometry it accepts, every layout, thread count and ISA level.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/conv-op.h"
#include "ops/conv.h"
#include "reference/conv-ref.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace test {
namespace {

// Whether the active level's GEMM layout has an indirect kernel (scalar, avx2, avx512vnni; not
// the NEON levels, doc/conv.md), which a prepared run needs: elsewhere ConvOp keeps the
// per-call paths, whose bytes are the same.
bool IndirectLevel() {
  const Isa level = ActiveIsa();
  return level != Isa::kNeon && level != Isa::kNeonDot;
}

struct PreparedCase {
  const char* name;
  ConvGeometry g;
  size_t batch;
  size_t in[3];
  bool per_channel, w_zero_points, relu;
  int32_t x_zp;
  int x_max;      // input bytes in [0, x_max]: 127 and x_zp <= 127 lets a pair-proof pack run
  bool prepared;  // whether PrepareConvRun takes it
  // Weights in [-64, 64]: every weight pair is safe, so the avx2 pack needs no exact twin and
  // reads uint8 rows as the other x86 levels' do (the 1-D windows then take a transposed conv).
  bool safe_pairs = false;
};

ConvGeometry Geometry(int dims, size_t in, size_t out, size_t groups, const size_t kernel[3], const size_t stride[3],
                      const size_t dilation[3], const size_t pad[3], bool transposed, const size_t output_padding[3],
                      ConvPaddingMode mode = ConvPaddingMode::kZeros) {
  ConvGeometry g;
  g.dims = dims;
  g.in_channels = in;
  g.out_channels = out;
  g.groups = groups;
  for (int d = 0; d < dims; ++d) {
    g.kernel[d] = kernel[d];
    g.stride[d] = stride[d];
    g.dilation[d] = dilation[d];
    g.pad_before[d] = g.pad_after[d] = pad[d];
    g.output_padding[d] = output_padding[d];
  }
  g.transposed = transposed;
  g.padding_mode = mode;
  return g;
}

std::vector<PreparedCase> Cases() {
  const size_t one[3] = {1, 1, 1}, two[3] = {2, 2, 2}, three[3] = {3, 3, 3}, zero[3] = {0, 0, 0};
  const size_t k233[3] = {2, 3, 3}, k122[3] = {1, 2, 2}, s122[3] = {1, 2, 2}, four[3] = {4, 4, 4};
  std::vector<PreparedCase> cases;
  // The overhead bench's two (4x4 input, 4 channels).
  cases.push_back({"conv2d 4->4 3x3 pad 1", Geometry(2, 4, 4, 1, three, one, one, one, false, zero), 1, {4, 4, 1},
                   false, false, false, 128, 255, true});
  cases.push_back({"convT2d 4->4 k2 s2", Geometry(2, 4, 4, 1, two, two, one, zero, true, zero), 1, {4, 4, 1}, false,
                   false, false, 128, 255, true});
  cases.push_back({"conv2d 5->7 3x3 s2 pad 1 per-channel relu", Geometry(2, 5, 7, 1, three, two, one, one, false, zero),
                   2, {7, 6, 1}, true, true, true, 120, 127, true});
  cases.push_back({"conv2d 6->4 groups 2 dilation 2 pad 2", Geometry(2, 6, 4, 2, three, one, two, two, false, zero), 2,
                   {6, 7, 1}, true, true, false, 3, 255, true});
  cases.push_back({"conv2d reflect", Geometry(2, 3, 5, 1, three, one, one, one, false, zero, ConvPaddingMode::kReflect),
                   1, {5, 5, 1}, false, true, false, 77, 255, true});
  cases.push_back({"conv2d replicate s2",
                   Geometry(2, 3, 5, 1, three, two, one, one, false, zero, ConvPaddingMode::kReplicate), 1, {6, 5, 1},
                   true, false, false, 200, 255, true});
  cases.push_back({"conv2d circular pad 2",
                   Geometry(2, 4, 3, 1, three, one, one, two, false, zero, ConvPaddingMode::kCircular), 2, {4, 5, 1},
                   false, false, true, 10, 127, true});
  cases.push_back({"conv3d 3->4 k(2,3,3) pad 1", Geometry(3, 3, 4, 1, k233, one, one, one, false, zero), 1, {3, 4, 5},
                   true, true, false, 128, 255, true});
  cases.push_back({"conv1d 4->6 groups 2", Geometry(1, 4, 6, 2, three, one, one, one, false, zero), 2, {9, 1, 1}, true,
                   false, false, 128, 255, true});
  cases.push_back({"conv1d 3->5 dilation 2", Geometry(1, 3, 5, 1, three, one, two, two, false, zero), 1, {8, 1, 1},
                   false, true, true, 100, 127, true});
  // Phase lines of 20 pixels: written in place (the short ones above go through a block).
  cases.push_back({"convT2d 3->4 k2 s2 wide", Geometry(2, 3, 4, 1, two, two, one, zero, true, zero), 1, {3, 20, 1},
                   false, true, false, 128, 255, true});
  // Kernel == stride: the stacked phases (one GEMM per input pixel), with padding, output
  // padding, groups and weight zero points; 1-D and 3-D.
  cases.push_back({"convT2d 4->6 groups 2 k2 s2 pad 1 output padding 1",
                   Geometry(2, 4, 6, 2, two, two, one, one, true, one), 2, {3, 5, 1}, true, true, true, 128, 255,
                   true});
  cases.push_back({"convT1d 5->3 k3 s3 pad 1", Geometry(1, 5, 3, 1, three, three, one, one, true, zero), 1, {6, 1, 1},
                   false, true, false, 90, 127, true});
  cases.push_back({"convT3d 3->2 k(1,2,2) s(1,2,2)", Geometry(3, 3, 2, 1, k122, s122, one, zero, true, zero), 1,
                   {2, 3, 2}, true, false, false, 128, 255, true});
  // An output row shorter than the stride: a phase without outputs along H.
  cases.push_back({"convT2d 1-high output", Geometry(2, 3, 4, 1, three, two, one, one, true, zero), 2, {1, 3, 1}, true,
                   false, false, 128, 255, true});
  cases.push_back({"convT2d 3->5 k3 s2 pad 1 output padding 1", Geometry(2, 3, 5, 1, three, two, one, one, true, one),
                   2, {5, 4, 1}, true, true, false, 128, 255, true});
  cases.push_back({"convT2d 4->4 k3 s2 dilation 3", Geometry(2, 4, 4, 1, three, two, three, zero, true, zero), 1,
                   {3, 4, 1}, false, false, true, 60, 127, true});
  cases.push_back({"convT2d 4->6 groups 2 k3 s2 pad 1", Geometry(2, 4, 6, 2, three, two, one, one, true, zero), 1,
                   {4, 3, 1}, true, true, false, 128, 255, true});
  // 1-D transposed with two taps or more per phase, groups 1, dilation 1: the windows path reads
  // the input in place (ConvU8); with groups or a dilation it stays prepared.
  cases.push_back({"convT1d 3->4 k4 s2 pad 1", Geometry(1, 3, 4, 1, four, two, one, one, true, zero), 2, {7, 1, 1},
                   false, true, false, 128, 255, false, true});
  cases.push_back({"convT1d 4->6 groups 2 k4 s2 pad 1", Geometry(1, 4, 6, 2, four, two, one, one, true, zero), 2,
                   {7, 1, 1}, false, true, false, 128, 255, true});
  cases.push_back({"convT1d 3->4 k4 s3 dilation 2 pad 1", Geometry(1, 3, 4, 1, four, three, two, one, true, zero), 1,
                   {6, 1, 1}, true, false, false, 128, 255, true});
  cases.push_back({"convT3d 2->3 k(2,3,3) s(1,2,2) pad 1", Geometry(3, 2, 3, 1, k233, s122, one, one, true, zero), 1,
                   {2, 3, 3}, true, false, false, 128, 255, true});
  // Phases that no tap reaches (kernel below the stride; an even dilation of stride 2): the per-call path.
  cases.push_back({"convT2d k3 s2 dilation 2", Geometry(2, 4, 4, 1, three, two, two, zero, true, zero), 1, {3, 4, 1},
                   false, false, true, 60, 127, false});
  cases.push_back({"convT2d k1 s2 (empty phases)", Geometry(2, 3, 4, 1, one, two, one, zero, true, zero), 1, {3, 3, 1},
                   false, false, false, 128, 255, false});
  // Past the prepared size of an ordinary conv (its per-call path reads the input in place); a
  // transposed one of the same input stays prepared.
  cases.push_back({"conv2d 32->8 on 28x28", Geometry(2, 32, 8, 1, three, one, one, one, false, zero), 1, {28, 28, 1},
                   false, false, false, 128, 255, false});
  cases.push_back({"convT2d 32->8 k3 s2 pad 1 on 28x28", Geometry(2, 32, 8, 1, three, two, one, one, true, zero), 1,
                   {28, 28, 1}, false, false, false, 128, 255, true});
  // Few input channels (<= 4): prepared past 16 KiB of input too (the stems), and runs
  // padded by an eighth or more to whole k groups go through gathered rows and the direct GEMM
  // (7x7 lines of 21 bytes, 3x3 lines of 9, 5x5 lines of 5, per-tap runs of 3 under groups).
  const size_t seven[3] = {7, 7, 7}, five[3] = {5, 5, 5};
  cases.push_back({"conv2d 3->24 7x7 s2 pad 3 on 76x74 (stem)", Geometry(2, 3, 24, 1, seven, two, one, three, false, zero),
                   1, {76, 74, 1}, false, false, true, 128, 255, true});
  cases.push_back({"conv2d 3->40 3x3 s2 pad 1 on 80x72 per-channel zero points",
                   Geometry(2, 3, 40, 1, three, two, one, one, false, zero), 1, {80, 72, 1}, true, true, false, 97, 255,
                   true});
  cases.push_back({"conv2d 1->8 5x5 s2 pad 2 on 140x130", Geometry(2, 1, 8, 1, five, two, one, two, false, zero), 1,
                   {140, 130, 1}, true, false, false, 128, 255, true});
  cases.push_back({"conv2d 6->10 groups 2 3x3 s2 pad 1 reflect",
                   Geometry(2, 6, 10, 2, three, two, one, one, false, zero, ConvPaddingMode::kReflect), 2, {9, 11, 1},
                   true, true, true, 128, 255, true});
  // Paths that read their input in place anyway.
  cases.push_back({"conv2d 1x1", Geometry(2, 4, 8, 1, one, one, one, zero, false, zero), 1, {4, 4, 1}, false, false,
                   false, 128, 255, false});
  cases.push_back({"conv1d windows", Geometry(1, 4, 8, 1, three, one, one, one, false, zero), 1, {9, 1, 1}, false,
                   false, false, 128, 255, false});
  return cases;
}

QK_TEST(kIsa, "conv/prepared-run/bytes") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("conv/prepared-run/bytes"));
  const int threads_before = GetNumThreads();
  for (const PreparedCase& c : Cases()) {
    const ConvGeometry& g = c.g;
    size_t count = 0;
    ConvWeightCount(g, &count);
    std::vector<int8_t> w = RandomQuantized<int8_t>(rng, count);
    if (c.safe_pairs) {
      for (int8_t& v : w) v = static_cast<int8_t>(v / 2);
    }
    const size_t nq = c.per_channel ? g.out_channels : 1;
    std::vector<double> scales(nq);
    std::vector<int32_t> zero_points(nq, 0);
    std::vector<float> bias(g.out_channels);
    for (size_t i = 0; i < nq; ++i) {
      scales[i] = rng.Uniform(0.002, 0.02);
      if (c.w_zero_points) zero_points[i] = static_cast<int32_t>(rng.Int(-20, 20));
    }
    for (float& b : bias) b = static_cast<float>(rng.Uniform(-3, 3));
    std::shared_ptr<const ConvWeights> weights;
    Status st = CreateConvWeights(g, w.data(), scales.data(), zero_points.data(), nq, bias.data(), &weights);
    if (!ctx.Check(st.ok(), std::string(c.name) + ": CreateConvWeights: " + st.message())) return;
    size_t out_spatial[3];
    st = ConvOutputSize(g, c.in, out_spatial);
    if (!ctx.Check(st.ok(), std::string(c.name) + ": ConvOutputSize: " + st.message())) return;
    size_t x_count = 0, y_count = 0;
    ConvTensorCount(c.batch, g.in_channels, c.in, &x_count);
    ConvTensorCount(c.batch, g.out_channels, out_spatial, &y_count);
    std::vector<uint8_t> x(x_count);
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng.Int(0, c.x_max));
    const double x_scale = 0.03, y_scale = 0.05;
    const int32_t y_zp = 100;
    // The reference: contiguous in and out.
    std::vector<double> channel_scales(g.out_channels);
    for (size_t oc = 0; oc < g.out_channels; ++oc) channel_scales[oc] = scales[nq == 1 ? 0 : oc];
    std::vector<uint8_t> expected(y_count);
    ConvRef(g, w.data(), channel_scales.data(), weights->w_zero_points.data(), bias.data(), x.data(), c.batch, c.in,
            x_scale, c.x_zp, y_scale, y_zp, c.relu, expected.data(), kRefFbgemm, nq != 1);
    for (int layout = 0; layout < 3; ++layout) {
      ConvParams p;
      p.batch = c.batch;
      for (int d = 0; d < 3; ++d) p.in_spatial[d] = c.in[d];
      p.layout = layout == 1 ? ConvLayout::kChannelsLast : ConvLayout::kContiguous;
      p.out_channels_last = layout != 0;
      p.x_scale = x_scale;
      p.x_zero_point = c.x_zp;
      p.y_scale = y_scale;
      p.y_zero_point = y_zp;
      p.relu = c.relu;
      std::shared_ptr<const ConvOp> op;
      st = ConvOp::Prepare(weights, nullptr, p, &op);
      const std::string what = std::string(c.name) + " layout " + std::to_string(layout);
      if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
      const bool expect_prepared = c.prepared && IndirectLevel();
      ctx.Check(op->prepared_run() == expect_prepared, what + ": prepared_run() is not " + (expect_prepared ? "true" : "false"));
      // ConvU8 on the same bytes (its own tests hold it to the reference in every layout).
      std::vector<uint8_t> plain(y_count, 0x3C);
      st = ConvU8(*weights, x.data(), p.batch, p.in_spatial, p.layout, p.x_scale, p.x_zero_point, p.y_scale,
                  p.y_zero_point, p.relu, plain.data(), p.engine, p.out_channels_last);
      if (!ctx.Check(st.ok(), what + ": ConvU8: " + st.message())) return;
      if (layout == 0) ctx.Check(plain == expected, what + ": ConvU8 differs from the reference");
      // The handle's cache: its runs (a miss, then hits) and an op prepared from it.
      ConvStageCache cache;
      std::shared_ptr<const ConvOp> cached_op;
      st = ConvOp::Prepare(weights, nullptr, p, &cached_op, &cache);
      if (!ctx.Check(st.ok(), what + ": Prepare with the cache: " + st.message())) return;
      ctx.Check(cached_op->prepared_run() == expect_prepared, what + ": the cache's op differs in prepared_run()");
      for (int threads : {1, 2, 3}) {
        SetNumThreads(threads);
        // Twice over sentinels: a run leaves nothing behind for the next.
        for (uint8_t sentinel : {uint8_t{0xA5}, uint8_t{0x5A}}) {
          const std::string where = what + " threads " + std::to_string(threads);
          std::vector<uint8_t> y(y_count, sentinel), y_cached(y_count, sentinel), y_eager(y_count, sentinel);
          const void* inputs[1] = {x.data()};
          st = op->Run(inputs, y.data(), nullptr);
          if (!ctx.Check(st.ok(), what + ": Run: " + st.message())) return;
          ctx.Check(y == plain, where + ": Run differs from ConvU8");
          st = cached_op->Run(inputs, y_cached.data(), nullptr);
          if (!ctx.Check(st.ok(), what + ": Run (cache's op): " + st.message())) return;
          ctx.Check(y_cached == plain, where + ": the cache's op differs from ConvU8");
          st = cache.Conv(*weights, x.data(), p.batch, p.in_spatial, p.layout, p.x_scale, p.x_zero_point, p.y_scale,
                          p.y_zero_point, p.relu, y_eager.data(), p.engine, p.out_channels_last);
          if (!ctx.Check(st.ok(), what + ": ConvStageCache::Conv: " + st.message())) return;
          ctx.Check(y_eager == plain, where + ": ConvStageCache::Conv differs from ConvU8");
        }
      }
    }
  }
  SetNumThreads(threads_before);
}

// Random geometries (every dims, groups, stride, dilation, padding, mode and transposed form the
// checks accept): the prepared run against ConvU8, every layout.
QK_TEST(kIsa, "conv/prepared-run/random") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("conv/prepared-run/random"));
  int prepared = 0;
  for (int trial = 0; trial < 400 && !ctx.failed(); ++trial) {
    ConvGeometry g;
    g.dims = static_cast<int>(rng.Int(1, 3));
    g.transposed = rng.Int(0, 2) == 0;
    g.groups = static_cast<size_t>(rng.Int(1, 3));
    g.in_channels = g.groups * static_cast<size_t>(rng.Int(1, 3));
    g.out_channels = g.groups * static_cast<size_t>(rng.Int(1, 3));
    if (!g.transposed) g.padding_mode = static_cast<ConvPaddingMode>(rng.Int(0, 3));
    size_t in[3] = {1, 1, 1};
    for (int d = 0; d < g.dims; ++d) {
      g.kernel[d] = static_cast<size_t>(rng.Int(1, 4));
      g.stride[d] = static_cast<size_t>(rng.Int(1, 3));
      g.dilation[d] = static_cast<size_t>(rng.Int(1, 3));
      g.pad_before[d] = static_cast<size_t>(rng.Int(0, 3));
      g.pad_after[d] = g.transposed ? g.pad_before[d] : static_cast<size_t>(rng.Int(0, 3));
      if (g.transposed) g.output_padding[d] = static_cast<size_t>(rng.Int(0, std::max(g.stride[d], g.dilation[d]) - 1));
      in[d] = static_cast<size_t>(rng.Int(1, g.dims == 3 ? 4 : 7));
    }
    const size_t batch = static_cast<size_t>(rng.Int(1, 2));
    size_t out_spatial[3];
    if (!ConvOutputSize(g, in, out_spatial).ok()) continue;
    size_t count = 0;
    ConvWeightCount(g, &count);
    const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, count);
    const bool per_channel = rng.Int(0, 1) == 1;
    const size_t nq = per_channel ? g.out_channels : 1;
    std::vector<double> scales(nq);
    std::vector<int32_t> zero_points(nq);
    for (size_t i = 0; i < nq; ++i) {
      scales[i] = rng.Uniform(0.002, 0.02);
      zero_points[i] = rng.Int(0, 1) == 1 ? static_cast<int32_t>(rng.Int(-10, 10)) : 0;
    }
    std::shared_ptr<const ConvWeights> weights;
    Status st = CreateConvWeights(g, w.data(), scales.data(), zero_points.data(), nq, nullptr, &weights);
    if (!ctx.Check(st.ok(), "CreateConvWeights: " + st.message())) return;
    ConvParams p;
    p.batch = batch;
    for (int d = 0; d < 3; ++d) p.in_spatial[d] = in[d];
    p.x_scale = 0.03;
    p.x_zero_point = static_cast<int32_t>(rng.Int(0, 255));
    p.y_scale = 0.05;
    p.y_zero_point = 90;
    p.relu = rng.Int(0, 1) == 1;
    // The engines' output stages differ (oneDNN adds the zero point in float, QNNPACK rounds the bias).
    static const QEngine kEngines[] = {QEngine::kFbgemm, QEngine::kOnednn, QEngine::kQnnpack};
    p.engine = kEngines[rng.Int(0, 2)];
    const int x_max = rng.Int(0, 1) == 1 ? 127 : 255;
    size_t x_count = 0;
    ConvTensorCount(batch, g.in_channels, in, &x_count);
    std::vector<uint8_t> x(x_count);
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng.Int(0, x_max));
    const std::string what = "trial " + std::to_string(trial) + " dims " + std::to_string(g.dims) +
                             (g.transposed ? " transposed" : "") + " groups " + std::to_string(g.groups);
    for (int layout = 0; layout < 3; ++layout) {
      p.layout = layout == 1 ? ConvLayout::kChannelsLast : ConvLayout::kContiguous;
      p.out_channels_last = layout != 0;
      std::shared_ptr<const ConvOp> op;
      st = ConvOp::Prepare(weights, nullptr, p, &op);
      if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
      prepared += op->prepared_run() ? 1 : 0;
      std::vector<uint8_t> expected(op->output_bytes(), 0x3C), y(op->output_bytes(), 0xA5);
      st = ConvU8(*weights, x.data(), p.batch, p.in_spatial, p.layout, p.x_scale, p.x_zero_point, p.y_scale,
                  p.y_zero_point, p.relu, expected.data(), p.engine, p.out_channels_last);
      if (!ctx.Check(st.ok(), what + ": ConvU8: " + st.message())) return;
      const void* inputs[1] = {x.data()};
      st = op->Run(inputs, y.data(), nullptr);
      if (!ctx.Check(st.ok(), what + ": Run: " + st.message())) return;
      ctx.Check(y == expected, what + " layout " + std::to_string(layout) + ": Run differs from ConvU8");
    }
  }
  if (IndirectLevel()) {
    ctx.Check(prepared > 300, "only " + std::to_string(prepared) + " prepared runs among the trials");
  } else {
    ctx.Check(prepared == 0, std::to_string(prepared) + " prepared runs at a level without an indirect kernel");
  }
}

// A run prepared at one ISA level and run after the level changed goes the per-call way (its
// packs are the old level's): the same bytes, and back on the prepared run when the level returns.
QK_TEST(kIsa, "conv/prepared-run/level-change") {
  if (!RequireIsaLevel(ctx)) return;
  const Isa level = ActiveIsa();
  if (level == Isa::kScalar) return;  // nothing below it to change to
  if (!IndirectLevel()) return;      // no prepared run at this level
  Random rng(SeedFromName("conv/prepared-run/level-change"));
  const PreparedCase c = Cases()[1];  // the bench's transposed conv (a copy: Cases() is a temporary)
  size_t count = 0;
  ConvWeightCount(c.g, &count);
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, count);
  const double scale = 0.01;
  const int32_t zero_point = 0;
  std::shared_ptr<const ConvWeights> weights;
  Status st = CreateConvWeights(c.g, w.data(), &scale, &zero_point, 1, nullptr, &weights);
  if (!ctx.Check(st.ok(), "CreateConvWeights: " + st.message())) return;
  ConvParams p;
  p.in_spatial[0] = c.in[0];
  p.in_spatial[1] = c.in[1];
  p.x_zero_point = 128;
  p.y_zero_point = 100;
  p.x_scale = 0.02;
  p.y_scale = 0.04;
  std::shared_ptr<const ConvOp> op;
  st = ConvOp::Prepare(weights, nullptr, p, &op);
  if (!ctx.Check(st.ok() && op->prepared_run(), "Prepare: " + st.message())) return;
  const std::vector<uint8_t> x = RandomQuantized<uint8_t>(rng, op->input_bytes(0));
  std::vector<uint8_t> expected(op->output_bytes()), y(op->output_bytes(), 0xA5);
  st = ConvU8(*weights, x.data(), 1, p.in_spatial, p.layout, p.x_scale, p.x_zero_point, p.y_scale, p.y_zero_point,
              false, expected.data());
  if (!ctx.Check(st.ok(), "ConvU8: " + st.message())) return;
  std::string error;
  ctx.Check(SetMaxIsa(Isa::kScalar, &error), "SetMaxIsa(scalar): " + error);
  const void* inputs[1] = {x.data()};
  st = op->Run(inputs, y.data(), nullptr);
  SetMaxIsa(level, &error);
  if (!ctx.Check(st.ok(), "Run at scalar: " + st.message())) return;
  ctx.Check(y == expected, "Run at scalar differs from ConvU8");
  std::fill(y.begin(), y.end(), 0x5A);
  st = op->Run(inputs, y.data(), nullptr);
  if (!ctx.Check(st.ok(), "Run back at the level: " + st.message())) return;
  ctx.Check(y == expected, "Run back at the level differs from ConvU8");
}

}  // namespace
}  // namespace test
}  // namespace qk
