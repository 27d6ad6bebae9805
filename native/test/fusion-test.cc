// Tests of plan fusion: ConvU8's per-block epilogue (final values, every element once, on every conv path) and FusePlan's conv + add steps (the unfused plan's bytes; refused where invalid).
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/conv-op.h"
#include "ops/elementwise.h"
#include "plan/fusion.h"
#include "plan/op-step.h"
#include "plan/plan.h"

namespace qk {
namespace test {
namespace {

// One conv geometry of the paths ConvU8 takes (each has its own epilogue placement).
struct ConvCase {
  const char* name;
  int dims;
  size_t in_channels, out_channels, groups, kernel, stride, spatial;
  bool transposed;
  ConvLayout layout;
  bool out_channels_last;
};

const ConvCase kCases[] = {
    {"3x3 (implicit GEMM)", 2, 8, 16, 1, 3, 1, 24, false, ConvLayout::kChannelsLast, true},
    {"3x3 stride 2", 2, 8, 24, 1, 3, 2, 33, false, ConvLayout::kChannelsLast, true},
    {"3x3 W lines (strided indirect)", 2, 16, 24, 1, 3, 1, 40, false, ConvLayout::kChannelsLast, true},
    {"1x1 (pointwise)", 2, 16, 24, 1, 1, 1, 20, false, ConvLayout::kChannelsLast, true},
    {"1x1 groups 2 (pointwise, grouped)", 2, 16, 24, 2, 1, 1, 7, false, ConvLayout::kChannelsLast, true},
    {"depthwise 3x3", 2, 24, 24, 24, 3, 1, 13, false, ConvLayout::kChannelsLast, true},
    {"3x3 groups 4", 2, 16, 16, 4, 3, 1, 8, false, ConvLayout::kChannelsLast, true},
    {"conv1d k3 (windows)", 1, 8, 16, 1, 3, 1, 40, false, ConvLayout::kChannelsLast, true},
    {"transposed 3x3 stride 2", 2, 8, 8, 1, 3, 2, 6, true, ConvLayout::kChannelsLast, true},
    {"contiguous in and out", 2, 8, 16, 1, 3, 1, 9, false, ConvLayout::kContiguous, false},
    {"contiguous in, channels_last out", 2, 8, 16, 1, 3, 1, 24, false, ConvLayout::kContiguous, true},
};

struct BuiltConv {
  std::shared_ptr<const ConvOp> op;
  std::vector<uint8_t> x;
};

bool BuildConv(Context& ctx, Random& rng, const ConvCase& c, BuiltConv* out) {
  ConvGeometry g;
  g.dims = c.dims;
  g.in_channels = c.in_channels;
  g.out_channels = c.out_channels;
  g.groups = c.groups;
  g.transposed = c.transposed;
  for (int d = 0; d < c.dims; ++d) {
    g.kernel[d] = c.kernel;
    g.stride[d] = c.stride;
    g.dilation[d] = 1;
    g.pad_before[d] = g.pad_after[d] = c.kernel / 2;
  }
  size_t count = 0;
  if (!ctx.Check(ConvWeightCount(g, &count), std::string(c.name) + ": weight count")) return false;
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, count);
  std::vector<double> scales(c.out_channels);
  std::vector<int32_t> zero_points(c.out_channels, 0);
  std::vector<float> bias(c.out_channels);
  for (size_t i = 0; i < c.out_channels; ++i) {
    scales[i] = rng.Uniform(0.002, 0.01);
    bias[i] = static_cast<float>(rng.Uniform(-1, 1));
  }
  std::shared_ptr<const ConvWeights> weights;
  Status st = CreateConvWeights(g, w.data(), scales.data(), zero_points.data(), c.out_channels, bias.data(), &weights);
  if (!ctx.Check(st.ok(), std::string(c.name) + ": CreateConvWeights: " + st.message())) return false;
  ConvParams p;
  p.batch = 2;
  for (int d = 0; d < c.dims; ++d) p.in_spatial[d] = c.spatial;
  p.layout = c.layout;
  p.out_channels_last = c.out_channels_last;
  p.x_scale = 0.03;
  p.x_zero_point = 120;
  p.y_scale = 0.05;
  p.y_zero_point = 100;
  st = ConvOp::Prepare(weights, nullptr, p, &out->op);
  if (!ctx.Check(st.ok(), std::string(c.name) + ": ConvOp::Prepare: " + st.message())) return false;
  out->x = RandomQuantized<uint8_t>(rng, out->op->input_bytes(0));
  return true;
}

// The epilogue sees the conv's final values, each element exactly once, on every path.
QK_TEST(kIsa, "plan/fusion/conv-epilogue-blocks") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("plan/fusion/conv-epilogue-blocks"));
  for (const size_t threads : {size_t{1}, size_t{2}}) {
    SetNumThreads(threads);
    for (const ConvCase& c : kCases) {
      BuiltConv conv;
      if (!BuildConv(ctx, rng, c, &conv)) continue;
      const size_t n = conv.op->output_bytes();
      std::vector<uint8_t> want(n), got(n);
      const void* in[1] = {conv.x.data()};
      if (!ctx.Check(conv.op->Run(in, want.data(), nullptr).ok(), std::string(c.name) + ": Run")) continue;
      struct Seen {
        const std::vector<uint8_t>* want;
        uint8_t* y;
        std::vector<std::atomic<int>> calls;
        std::atomic<int> wrong{0}, blocks{0};
        explicit Seen(size_t n) : calls(n) {}
      } seen(n);
      seen.want = &want;
      seen.y = got.data();
      ConvEpilogue epilogue;
      epilogue.context = &seen;
      epilogue.fn = [](const void* raw, size_t begin, size_t end) {
        Seen& s = *const_cast<Seen*>(static_cast<const Seen*>(raw));
        s.blocks.fetch_add(1);
        for (size_t i = begin; i < end; ++i) {
          s.calls[i].fetch_add(1);
          if (s.y[i] != (*s.want)[i]) s.wrong.fetch_add(1);
          s.y[i] = static_cast<uint8_t>(s.y[i] ^ 0x5a);  // rewriting its range in place is allowed
        }
      };
      const std::string where = std::string(c.name) + ", " + std::to_string(threads) + " thread(s)";
      const Status st = conv.op->RunWithEpilogue(conv.x.data(), got.data(), epilogue);
      if (!ctx.Check(st.ok(), where + ": RunWithEpilogue: " + st.message())) continue;
      size_t not_once = 0;
      for (size_t i = 0; i < n; ++i) not_once += seen.calls[i].load() != 1;
      ctx.Check(not_once == 0, where + ": " + std::to_string(not_once) + " elements not handed to the epilogue exactly once");
      ctx.Check(seen.wrong.load() == 0, where + ": the epilogue saw " + std::to_string(seen.wrong.load()) + " values before the conv's final ones");
      size_t rewritten = 0;
      for (size_t i = 0; i < n; ++i) rewritten += got[i] == static_cast<uint8_t>(want[i] ^ 0x5a);
      ctx.Check(rewritten == n, where + ": the epilogue's in-place writes were overwritten");
      if (GetOptions().verbose) std::printf("  %s: %d epilogue calls for %zu bytes\n", where.c_str(), seen.blocks.load(), n);
    }
  }
  SetNumThreads(1);
}

// A plan: x -> conv -> add(conv, other) or add(other, conv) (+ relu), other a plan input.
struct AddPlan {
  Plan plan;
  Plan::ValueId x = 0, other = 0, conv_out = 0, y = 0;
};

std::shared_ptr<const BinaryOp> MakeAdd(Context& ctx, size_t n, size_t row, bool relu, int formula, double a_scale,
                                        double b_scale) {
  BinarySpec spec;
  spec.dtype = QDType::kQUInt8;
  spec.relu = relu;
  spec.a_scale = a_scale;
  spec.a_zero_point = 100;
  spec.b_scale = b_scale;
  spec.b_zero_point = 90;
  spec.out_scale = 0.07;
  spec.out_zero_point = 80;
  spec.qnnpack_add = formula == 2;
  std::shared_ptr<const BinaryOp> op;
  const Status st = BinaryOp::Prepare(spec, n, row, formula == 0 ? row - row % 64 : 0, &op);
  ctx.Check(st.ok(), "BinaryOp::Prepare: " + st.message());
  return op;
}

bool RunPlan(Context& ctx, const Plan& plan, const std::vector<const void*>& inputs, const std::vector<size_t>& sizes,
             std::vector<uint8_t>* out) {
  void* outputs[1] = {out->data()};
  const size_t output_sizes[1] = {out->size()};
  const Status st = plan.Run(inputs.data(), sizes.data(), inputs.size(), outputs, output_sizes, 1);
  return ctx.Check(st.ok(), "plan run: " + st.message());
}

// Fused and unfused plans give the same bytes for every conv path, operand order, relu and add formula.
QK_TEST(kIsa, "plan/fusion/conv-add-equals-unfused") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("plan/fusion/conv-add-equals-unfused"));
  for (const size_t threads : {size_t{1}, size_t{2}}) {
    SetNumThreads(threads);
    for (const ConvCase& c : kCases) {
      BuiltConv conv;
      if (!BuildConv(ctx, rng, c, &conv)) continue;
      const size_t n = conv.op->output_bytes();
      const std::vector<uint8_t> other = RandomQuantized<uint8_t>(rng, n);
      // A row of one pixel's channels (a channels_last add) or of the whole tensor.
      for (const size_t row : {c.out_channels, n}) {
        for (int formula = 0; formula < 3; ++formula) {
          for (const size_t operand : {size_t{0}, size_t{1}}) {
            const bool relu = (formula + operand) % 2 == 1;
            std::shared_ptr<const BinaryOp> add = MakeAdd(ctx, n, row, relu, formula, 0.05, 0.04);
            if (add == nullptr) continue;
            std::vector<uint8_t> want(n), got(n);
            size_t fused_steps = 0;
            for (const bool fuse : {false, true}) {
              Plan plan;
              const Plan::ValueId x = plan.AddInput(conv.x.size()), o = plan.AddInput(n);
              Plan::ValueId h = 0, y = 0;
              bool ok = plan.AddStep(std::make_shared<OpStep>(conv.op), {x}, n, &h).ok();
              ok = ok && plan.AddStep(std::make_shared<OpStep>(add), operand == 0 ? std::vector<Plan::ValueId>{h, o}
                                                                                 : std::vector<Plan::ValueId>{o, h},
                                      n, &y).ok();
              ok = ok && plan.AddOutput(y).ok();
              FusionReport report;
              if (fuse) ok = ok && FusePlan(&plan, &report).ok();
              ok = ok && plan.Finalize().ok();
              if (!ctx.Check(ok, std::string(c.name) + ": building the plan")) continue;
              if (fuse) {
                fused_steps = plan.step_count();
                ctx.Check(report.conv_add == 1 && report.merged.size() == 1 && report.merged[0].first == h &&
                              report.merged[0].second == y,
                          std::string(c.name) + ": the conv + add pair is not reported as merged");
              }
              RunPlan(ctx, plan, {conv.x.data(), other.data()}, {conv.x.size(), n}, fuse ? &got : &want);
            }
            const std::string where = std::string(c.name) + ", row " + std::to_string(row) + ", formula " +
                                      std::to_string(formula) + ", conv is operand " + std::to_string(operand) +
                                      (relu ? ", relu, " : ", ") + std::to_string(threads) + " thread(s)";
            ctx.Check(fused_steps == 1, where + ": the fused plan has " + std::to_string(fused_steps) + " steps, not 1");
            ctx.Check(got == want, where + ": the fused plan's bytes differ from the unfused plan's");
          }
        }
      }
    }
  }
  SetNumThreads(1);
}

// Where the conv's output has another use, the pass leaves the plan alone.
QK_TEST(kIsa, "plan/fusion/conv-add-refused") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("plan/fusion/conv-add-refused"));
  BuiltConv conv;
  if (!BuildConv(ctx, rng, kCases[0], &conv)) return;
  const size_t n = conv.op->output_bytes();
  std::shared_ptr<const BinaryOp> add = MakeAdd(ctx, n, 16, false, 0, 0.05, 0.05);
  if (add == nullptr) return;
  enum Use { kOutputToo, kReadTwice, kAddToItself, kViewed };
  for (const Use use : {kOutputToo, kReadTwice, kAddToItself, kViewed}) {
    Plan plan;
    const Plan::ValueId x = plan.AddInput(conv.x.size()), o = plan.AddInput(n);
    Plan::ValueId h = 0, y = 0, z = 0, v = 0;
    bool ok = plan.AddStep(std::make_shared<OpStep>(conv.op), {x}, n, &h).ok();
    ok = ok && plan.AddStep(std::make_shared<OpStep>(add), {h, use == kAddToItself ? h : o}, n, &y).ok();
    if (use == kReadTwice) ok = ok && plan.AddStep(std::make_shared<OpStep>(add), {o, h}, n, &z).ok();
    if (use == kViewed) ok = ok && plan.AddView(h, 0, n / 2, &v).ok();
    ok = ok && plan.AddOutput(use == kReadTwice ? z : y).ok();
    if (use == kOutputToo) ok = ok && plan.AddOutput(h).ok();
    const size_t steps = plan.step_count();
    FusionReport report;
    ok = ok && FusePlan(&plan, &report).ok() && plan.Finalize().ok();
    if (!ctx.Check(ok, "building the plan")) continue;
    ctx.Check(report.conv_add == 0 && plan.step_count() == steps,
              "case " + std::to_string(static_cast<int>(use)) + ": a conv whose output has another use was fused");
  }
  // MergeSteps itself refuses a first step whose output has another use.
  Plan plan;
  const Plan::ValueId x = plan.AddInput(conv.x.size()), o = plan.AddInput(n);
  Plan::ValueId h = 0, y = 0;
  plan.AddStep(std::make_shared<OpStep>(conv.op), {x}, n, &h);
  plan.AddStep(std::make_shared<OpStep>(add), {h, o}, n, &y);
  plan.AddOutput(h);
  ctx.Check(!plan.MergeSteps(0, 1, std::make_shared<OpStep>(conv.op), {x, o}).ok(), "MergeSteps merged a step whose output is a plan output");
}

}  // namespace
}  // namespace test
}  // namespace qk
