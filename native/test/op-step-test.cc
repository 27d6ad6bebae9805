// Prepared ops as plan steps (plan/op-step.h): a two-op plan (LinearOp with an fp32 epilogue, then SoftmaxOp) gives the eager calls' bytes, scratch coming from the plan's arena.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "ops/linear-op.h"
#include "ops/softmax.h"
#include "plan/op-step.h"

namespace qk {
namespace test {
namespace {

QK_TEST(kIsa, "plan/op-step/linear-then-softmax") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(401);
  const size_t rows = 7, in = 33, out = 19;
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, out * in);
  const double w_scale = 0.01;
  const int32_t w_zp = 2;
  std::shared_ptr<const LinearWeights> weights;
  Status st = CreateLinearWeights(w.data(), out, in, &w_scale, &w_zp, 1, nullptr, &weights);
  if (!ctx.Check(st.ok(), "CreateLinearWeights: " + st.message())) return;
  LinearParams lp;
  lp.rows = rows;
  lp.x_scale = 0.05;
  lp.x_zero_point = 120;
  lp.y_scale = 0.08;
  lp.y_zero_point = 128;
  lp.activation = Activation::kTanh;
  std::shared_ptr<const LinearOp> linear;
  st = LinearOp::Prepare(weights, lp, &linear);
  if (!ctx.Check(st.ok(), "LinearOp::Prepare: " + st.message())) return;
  SoftmaxOpParams sp;
  sp.outer = rows;
  sp.size = out;
  sp.x_scale = lp.y_scale;
  sp.x_zero_point = lp.y_zero_point;
  sp.y_scale = 1.0 / 256;
  std::shared_ptr<const SoftmaxOp> softmax;
  st = SoftmaxOp::Prepare(sp, &softmax);
  if (!ctx.Check(st.ok(), "SoftmaxOp::Prepare: " + st.message())) return;

  const std::vector<uint8_t> x = RandomQuantized<uint8_t>(rng, rows * in);
  // Eager: each op with its own scratch.
  std::vector<uint8_t> hidden(linear->output_bytes()), expected(softmax->output_bytes());
  const void* x_in[1] = {x.data()};
  const void* h_in[1] = {hidden.data()};
  if (!ctx.Check(RunWithScratch(*linear, x_in, hidden.data()).ok(), "eager linear")) return;
  if (!ctx.Check(RunWithScratch(*softmax, h_in, expected.data()).ok(), "eager softmax")) return;

  Plan plan;
  Plan::ValueId input = plan.AddInput(x.size()), h = 0, y = 0;
  bool ok = plan.AddStep(std::make_shared<OpStep>(linear), {input}, linear->output_bytes(), &h).ok();
  ok = ok && plan.AddStep(std::make_shared<OpStep>(softmax), {h}, softmax->output_bytes(), &y).ok();
  ok = ok && plan.AddOutput(y).ok() && plan.Finalize().ok();
  if (!ctx.Check(ok, "building the plan")) return;
  ctx.Check(linear->scratch_bytes() > 0 && plan.arena_bytes() >= linear->scratch_bytes(),
            "the linear step's scratch lives in the arena (" + std::to_string(plan.arena_bytes()) + " bytes)");
  // Two threads run the plan at once, each several times.
  std::vector<uint8_t> got[2] = {std::vector<uint8_t>(expected.size()), std::vector<uint8_t>(expected.size())};
  Status statuses[2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      const void* inputs[1] = {x.data()};
      const size_t input_sizes[1] = {x.size()};
      void* outputs[1] = {got[t].data()};
      const size_t output_sizes[1] = {got[t].size()};
      for (int repeat = 0; repeat < 10 && statuses[t].ok(); ++repeat) {
        statuses[t] = plan.Run(inputs, input_sizes, 1, outputs, output_sizes, 1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 2; ++t) {
    ctx.Check(statuses[t].ok(), "plan run: " + statuses[t].message());
    ctx.Check(got[t] == expected, "thread " + std::to_string(t) + ": the plan's bytes differ from the eager ops'");
  }
}

}  // namespace
}  // namespace test
}  // namespace qk
