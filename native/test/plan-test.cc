// Tests of the traced-plan layer: arena planning (no live overlap, reuse on chains) and plan runs (views, constants, outputs, errors, concurrent runs).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "plan/arena.h"
#include "plan/plan.h"

namespace qk {
namespace test {
namespace {

// ---- arena ----

// Checks the layout's invariants against the buffers, by brute force.
void CheckLayout(Context& ctx, const std::vector<ArenaBuffer>& buffers, const ArenaLayout& layout) {
  ctx.Check(layout.offsets.size() == buffers.size(), "one offset per buffer");
  size_t sum = 0;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const size_t size = (buffers[i].bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    sum += size;
    ctx.Check(layout.offsets[i] % kArenaAlignment == 0, "offset " + std::to_string(i) + " is not aligned");
    ctx.Check(layout.offsets[i] + size <= layout.bytes, "buffer " + std::to_string(i) + " ends past the arena");
    for (size_t j = 0; j < i; ++j) {
      const bool alive_together = buffers[i].first_step <= buffers[j].last_step && buffers[j].first_step <= buffers[i].last_step;
      const size_t size_j = (buffers[j].bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
      const bool overlap = layout.offsets[i] < layout.offsets[j] + size_j && layout.offsets[j] < layout.offsets[i] + size;
      if (alive_together && overlap && size > 0 && size_j > 0) {
        ctx.Fail("buffers " + std::to_string(i) + " and " + std::to_string(j) + " are alive together and overlap");
      }
    }
  }
  ctx.Check(layout.sum_bytes == sum, "sum_bytes " + std::to_string(layout.sum_bytes) + " != " + std::to_string(sum));
  ctx.Check(layout.bytes <= layout.sum_bytes, "the arena is larger than no reuse at all");
  // Lower bound: at every step, the buffers alive then all fit at once.
  size_t steps = 0;
  for (const ArenaBuffer& b : buffers) steps = std::max(steps, b.last_step + 1);
  for (size_t s = 0; s < steps; ++s) {
    size_t live = 0;
    for (const ArenaBuffer& b : buffers) {
      if (b.first_step <= s && s <= b.last_step) live += (b.bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    }
    ctx.Check(layout.bytes >= live, "the arena is smaller than the buffers alive at step " + std::to_string(s));
  }
}

QK_TEST(kIsa, "plan/arena-random-lifetimes") {
  Random rng(SeedFromName("plan/arena-random-lifetimes"));
  for (int round = 0; round < 200; ++round) {
    std::vector<ArenaBuffer> buffers(static_cast<size_t>(rng.Int(0, 24)));
    for (ArenaBuffer& b : buffers) {
      b.bytes = static_cast<size_t>(rng.Int(0, 5000));
      b.first_step = static_cast<size_t>(rng.Int(0, 20));
      b.last_step = b.first_step + static_cast<size_t>(rng.Int(0, 6));
    }
    ArenaLayout layout;
    const Status status = PlanArena(buffers, &layout);
    if (!ctx.Check(status.ok(), status.message())) return;
    CheckLayout(ctx, buffers, layout);
    if (ctx.failed()) return;
  }
}

QK_TEST(kIsa, "plan/arena-chain-reuses") {
  // A chain a -> b -> c -> d -> e: each buffer lives from its writer to its one reader, so two
  // buffers are alive at a time and the arena is two buffers, not five.
  std::vector<ArenaBuffer> buffers;
  for (size_t i = 0; i < 5; ++i) buffers.push_back({1000, i, i + 1});
  ArenaLayout layout;
  ctx.Check(PlanArena(buffers, &layout).ok(), "PlanArena failed");
  CheckLayout(ctx, buffers, layout);
  ctx.Check(layout.bytes == 2 * 1024, "chain arena " + std::to_string(layout.bytes) + " bytes, expected 2048");
  ctx.Check(layout.sum_bytes == 5 * 1024, "sum " + std::to_string(layout.sum_bytes));
}

QK_TEST(kIsa, "plan/arena-errors") {
  ArenaLayout layout;
  Status status = PlanArena({{10, 3, 2}}, &layout);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "an inverted lifetime must be a RangeError");
  status = PlanArena({{SIZE_MAX - 10, 0, 0}}, &layout);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "a size that overflows when aligned must be a RangeError");
  status = PlanArena({{SIZE_MAX / 2, 0, 0}, {SIZE_MAX / 2, 0, 0}, {SIZE_MAX / 2, 0, 0}}, &layout);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "sizes whose sum overflows must be a RangeError");
}

// ---- plan ----

// out[i] = sat(in0[i] + k): one input, n bytes.
class AddConstantStep : public PlanStep {
 public:
  AddConstantStep(size_t n, int k) : n_(n), k_(k) {}
  std::string name() const override { return "add_constant"; }
  Status Run(const void* const* inputs, void* output, void*) const override {
    const uint8_t* x = static_cast<const uint8_t*>(inputs[0]);
    uint8_t* y = static_cast<uint8_t*>(output);
    for (size_t i = 0; i < n_; ++i) y[i] = static_cast<uint8_t>(std::min(255, std::max(0, x[i] + k_)));
    return Status::Ok();
  }

 private:
  size_t n_;
  int k_;
};

// out[i] = in0[i] ^ in1[i], computed through scratch (to check scratch is usable and private).
class XorStep : public PlanStep {
 public:
  explicit XorStep(size_t n) : n_(n) {}
  std::string name() const override { return "xor"; }
  size_t scratch_bytes() const override { return n_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override {
    const uint8_t* a = static_cast<const uint8_t*>(inputs[0]);
    const uint8_t* b = static_cast<const uint8_t*>(inputs[1]);
    uint8_t* t = static_cast<uint8_t*>(scratch);
    for (size_t i = 0; i < n_; ++i) t[i] = static_cast<uint8_t>(a[i] ^ b[i]);
    std::memcpy(output, t, n_);
    return Status::Ok();
  }

 private:
  size_t n_;
};

// Concatenates its inputs of the given sizes.
class ConcatStep : public PlanStep {
 public:
  explicit ConcatStep(std::vector<size_t> sizes) : sizes_(std::move(sizes)) {}
  std::string name() const override { return "cat"; }
  Status Run(const void* const* inputs, void* output, void*) const override {
    uint8_t* y = static_cast<uint8_t*>(output);
    for (size_t i = 0; i < sizes_.size(); ++i) {
      std::memcpy(y, inputs[i], sizes_[i]);
      y += sizes_[i];
    }
    return Status::Ok();
  }

 private:
  std::vector<size_t> sizes_;
};

class FailingStep : public PlanStep {
 public:
  std::string name() const override { return "conv2d"; }
  Status Run(const void* const*, void*, void*) const override { return Status::RangeError("input: bad shape"); }
};

constexpr size_t kN = 300;

// x -> a = x + 3 -> b = a + 5 -> c = xor(b, const) -> d = cat(view(c, 0..100), view(a, 200..300))
// outputs: d (written directly), a view of b (copied), the input itself (copied).
struct ToyPlan {
  Plan plan;
  std::vector<uint8_t> constant;
};

std::unique_ptr<ToyPlan> BuildToyPlan(Context& ctx) {
  auto toy = std::make_unique<ToyPlan>();
  Plan& p = toy->plan;
  for (size_t i = 0; i < kN; ++i) toy->constant.push_back(static_cast<uint8_t>(i * 7));
  Plan::ValueId x = p.AddInput(kN), k = p.AddConstant(toy->constant), a, b, c, d, c_head, a_tail, b_mid;
  bool ok = p.AddStep(std::make_shared<AddConstantStep>(kN, 3), {x}, kN, &a).ok();
  ok = ok && p.AddStep(std::make_shared<AddConstantStep>(kN, 5), {a}, kN, &b).ok();
  ok = ok && p.AddStep(std::make_shared<XorStep>(kN), {b, k}, kN, &c).ok();
  ok = ok && p.AddView(c, 0, 100, &c_head).ok() && p.AddView(a, 200, 100, &a_tail).ok();
  ok = ok && p.AddStep(std::make_shared<ConcatStep>(std::vector<size_t>{100, 100}), {c_head, a_tail}, 200, &d).ok();
  ok = ok && p.AddView(b, 50, 20, &b_mid).ok();
  ok = ok && p.AddOutput(d).ok() && p.AddOutput(b_mid).ok() && p.AddOutput(x).ok();
  const Status status = p.Finalize();
  ctx.Check(ok && status.ok(), "building the toy plan failed: " + status.message());
  return toy;
}

// The same computation, one plain loop per step.
void ToyExpected(const std::vector<uint8_t>& x, const std::vector<uint8_t>& k, std::vector<uint8_t>* d, std::vector<uint8_t>* b_mid) {
  std::vector<uint8_t> a(kN), b(kN), c(kN);
  for (size_t i = 0; i < kN; ++i) a[i] = static_cast<uint8_t>(std::min(255, x[i] + 3));
  for (size_t i = 0; i < kN; ++i) b[i] = static_cast<uint8_t>(std::min(255, a[i] + 5));
  for (size_t i = 0; i < kN; ++i) c[i] = static_cast<uint8_t>(b[i] ^ k[i]);
  d->assign(c.begin(), c.begin() + 100);
  d->insert(d->end(), a.begin() + 200, a.end());
  b_mid->assign(b.begin() + 50, b.begin() + 70);
}

bool RunToy(const Plan& p, const std::vector<uint8_t>& x, std::vector<uint8_t>* d, std::vector<uint8_t>* b_mid, std::vector<uint8_t>* x_copy,
            std::string* error) {
  d->assign(200, 0);
  b_mid->assign(20, 0);
  x_copy->assign(kN, 0);
  const void* inputs[] = {x.data()};
  const size_t input_sizes[] = {x.size()};
  void* outputs[] = {d->data(), b_mid->data(), x_copy->data()};
  const size_t output_sizes[] = {200, 20, kN};
  const Status status = p.Run(inputs, input_sizes, 1, outputs, output_sizes, 3);
  *error = status.message();
  return status.ok();
}

QK_TEST(kIsa, "plan/run-matches-steps") {
  std::unique_ptr<ToyPlan> toy = BuildToyPlan(ctx);
  if (ctx.failed()) return;
  const Plan& p = toy->plan;
  ctx.Check(p.input_count() == 1 && p.output_count() == 3 && p.step_count() == 4, "plan shape");
  // Intermediates a, b, c (300 -> 320 bytes each; d is written into the caller's output) plus
  // xor's scratch: a and b live until the end (views read or copied), so reuse is limited,
  // but c's scratch and a later buffer still share nothing they must not (CheckLayout-style
  // invariants are tested above); the arena never exceeds the sum.
  ctx.Check(p.arena_bytes() <= p.intermediate_bytes(), "arena larger than the intermediates");
  ctx.Check(p.intermediate_bytes() == 4 * 320, "intermediates " + std::to_string(p.intermediate_bytes()));
  Random rng(SeedFromName("plan/run-matches-steps"));
  for (int round = 0; round < 20; ++round) {
    std::vector<uint8_t> x(kN), d, b_mid, x_copy, want_d, want_b_mid;
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng.Int(0, 255));
    std::string error;
    if (!ctx.Check(RunToy(p, x, &d, &b_mid, &x_copy, &error), "run failed: " + error)) return;
    ToyExpected(x, toy->constant, &want_d, &want_b_mid);
    ctx.Check(d == want_d, "output 0 (cat) differs from the step-by-step result");
    ctx.Check(b_mid == want_b_mid, "output 1 (view of an intermediate) differs");
    ctx.Check(x_copy == x, "output 2 (the input) differs");
  }
}

QK_TEST(kIsa, "plan/chain-arena-is-two-buffers") {
  // Ten add steps in a chain over 1000 bytes: the arena holds two intermediates at a time.
  Plan p;
  Plan::ValueId v = p.AddInput(1000);
  for (int i = 0; i < 10; ++i) {
    if (!ctx.Check(p.AddStep(std::make_shared<AddConstantStep>(1000, 1), {v}, 1000, &v).ok(), "AddStep")) return;
  }
  ctx.Check(p.AddOutput(v).ok() && p.Finalize().ok(), "finalize");
  ctx.Check(p.arena_bytes() == 2 * 1024, "arena " + std::to_string(p.arena_bytes()) + ", expected 2048");
  ctx.Check(p.intermediate_bytes() == 9 * 1024, "the last step writes the output directly; 9 intermediates expected");
  std::vector<uint8_t> x(1000, 7), y(1000, 0);
  const void* in[] = {x.data()};
  const size_t in_sizes[] = {1000};
  void* out[] = {y.data()};
  const size_t out_sizes[] = {1000};
  ctx.Check(p.Run(in, in_sizes, 1, out, out_sizes, 1).ok(), "run");
  ctx.Check(std::all_of(y.begin(), y.end(), [](uint8_t b) { return b == 17; }), "chain result");
}

QK_TEST(kIsa, "plan/errors") {
  std::unique_ptr<ToyPlan> toy = BuildToyPlan(ctx);
  if (ctx.failed()) return;
  std::vector<uint8_t> x(kN - 1), d(200), b_mid(20), x_copy(kN);
  const void* inputs[] = {x.data()};
  const size_t short_size[] = {kN - 1};
  void* outputs[] = {d.data(), b_mid.data(), x_copy.data()};
  const size_t output_sizes[] = {200, 20, kN};
  Status status = toy->plan.Run(inputs, short_size, 1, outputs, output_sizes, 3);
  ctx.Check(status.kind() == ErrorKind::kRangeError && status.message().find("input 0") != std::string::npos,
            "a short input must be a RangeError naming it: " + status.message());
  const size_t right_size[] = {kN};
  const size_t bad_outputs[] = {200, 21, kN};
  status = toy->plan.Run(inputs, right_size, 1, outputs, bad_outputs, 3);
  ctx.Check(status.kind() == ErrorKind::kRangeError && status.message().find("output 1") != std::string::npos,
            "a wrong output size must be a RangeError naming it: " + status.message());
  status = toy->plan.Run(inputs, right_size, 1, outputs, output_sizes, 2);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "a missing output buffer must be a RangeError");

  Plan p;
  Plan::ValueId in = p.AddInput(4), out, view;
  ctx.Check(p.AddView(in, 2, 3, &view).kind() == ErrorKind::kRangeError, "a view past its base must be a RangeError");
  ctx.Check(p.AddStep(std::make_shared<FailingStep>(), {in, 99}, 4, &out).kind() == ErrorKind::kRangeError,
            "an unknown input value must be a RangeError");
  ctx.Check(p.Finalize().kind() == ErrorKind::kError, "a plan without outputs cannot be finalized");
  ctx.Check(p.AddStep(std::make_shared<FailingStep>(), {in}, 4, &out).ok() && p.AddOutput(out).ok() && p.Finalize().ok(), "build");
  std::vector<uint8_t> four(4), result(4);
  const void* in4[] = {four.data()};
  const size_t size4[] = {4};
  void* out4[] = {result.data()};
  status = p.Run(in4, size4, 1, out4, size4, 1);
  ctx.Check(status.kind() == ErrorKind::kRangeError && status.message() == "step 0 (conv2d): input: bad shape",
            "a step's error keeps its kind and names the step: " + status.message());
  ctx.Check(p.AddOutput(out).kind() == ErrorKind::kError, "a finalized plan cannot grow");
}

QK_TEST(kThreadsSweep, "plan/concurrent-runs") {
  // Several threads run one plan at once; each run takes its own arena, so every result is
  // the single-threaded one.
  std::unique_ptr<ToyPlan> toy = BuildToyPlan(ctx);
  if (ctx.failed()) return;
  constexpr int kThreads = 4, kRuns = 200;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Random rng(static_cast<uint64_t>(t) + 1);
      for (int r = 0; r < kRuns; ++r) {
        std::vector<uint8_t> x(kN), d, b_mid, x_copy, want_d, want_b_mid;
        for (uint8_t& v : x) v = static_cast<uint8_t>(rng.Int(0, 255));
        std::string error;
        const bool ok = RunToy(toy->plan, x, &d, &b_mid, &x_copy, &error);
        ToyExpected(x, toy->constant, &want_d, &want_b_mid);
        if (!ok || d != want_d || b_mid != want_b_mid || x_copy != x) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) ctx.Check(mismatches[t] == 0, "thread " + std::to_string(t) + ": " + std::to_string(mismatches[t]) + " wrong runs");
}

}  // namespace
}  // namespace test
}  // namespace qk
