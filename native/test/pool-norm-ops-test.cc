// Pool-norm operators through Dispatch() against the reference, at 1 to 4 threads, both layouts, both 8-bit dtypes; prepared ops as plan steps; layer norm's short groups against scalar dispatch.
//
// Pooling and batch norm compare with native/reference/pool-norm-ref.cc exactly; layer/group
// norm and resampling (scalar C++ in the op, checked against PyTorch by the jest suites) must give
// the same bytes at every thread count. Outputs carry guard bytes; the error cases check that bad
// geometry comes back as a RangeError Status with the output untouched.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/resample.h"
#include "plan/op-step.h"
#include "reference/pool-norm-ref.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kGuard = 16;
constexpr uint8_t kSentinel = 0xA5;

size_t Numel(const PoolGeometry& g, const size_t dims[3]) { return g.batch * g.channels * dims[0] * dims[1] * dims[2]; }

template <typename T>
std::vector<T> Input(Random& rng, size_t n) {
  return RandomQuantized<T>(rng, n);
}

// Runs `op` into a guarded buffer at each thread count; each result must equal `expected`.
template <typename T, typename Op>
void CheckThreads(Context& ctx, const std::string& where, const std::vector<T>& expected, const Op& op) {
  const int saved = GetNumThreads();
  for (int threads : kThreadCounts) {
    SetNumThreads(threads);
    std::vector<uint8_t> out(expected.size() + kGuard, kSentinel);
    const Status status = op(out.data(), expected.size());
    if (!ctx.Check(status.ok(), where + ": " + status.message())) break;
    if (std::memcmp(out.data(), expected.data(), expected.size()) != 0) {
      for (size_t i = 0; i < expected.size(); ++i) {
        if (static_cast<T>(out[i]) != expected[i]) {
          ctx.Fail(where + " threads=" + std::to_string(threads) + ": element " + std::to_string(i) + ", expected " +
                   std::to_string(expected[i]) + ", got " + std::to_string(static_cast<T>(out[i])));
          break;
        }
      }
      break;
    }
    for (size_t i = expected.size(); i < out.size(); ++i) {
      if (out[i] != kSentinel) {
        ctx.Fail(where + ": wrote past the output");
        break;
      }
    }
  }
  SetNumThreads(saved);
}

// A random valid pooling geometry of `dims` spatial dims.
PoolGeometry RandomPool(Random& rng, int dims, bool dilation) {
  PoolGeometry g;
  g.batch = static_cast<size_t>(rng.Int(1, 3));
  g.channels = static_cast<size_t>(rng.Int(0, 3) == 0 ? rng.Int(1, 3) : rng.Int(1, 70));
  for (int d = 3 - dims; d < 3; ++d) {
    g.kernel[d] = static_cast<size_t>(rng.Int(1, 4));
    g.dilation[d] = dilation ? static_cast<size_t>(rng.Int(1, 2)) : 1;
    g.padding[d] = static_cast<size_t>(rng.Int(0, static_cast<int64_t>(g.kernel[d] / 2)));
    g.stride[d] = static_cast<size_t>(rng.Int(1, 3));
    const size_t span = g.dilation[d] * (g.kernel[d] - 1) + 1;
    g.input[d] = span + static_cast<size_t>(rng.Int(0, dims == 3 ? 4 : 9));
    int64_t out = 0;
    PoolOutputSize(static_cast<int64_t>(g.input[d]), static_cast<int64_t>(g.kernel[d]), static_cast<int64_t>(g.padding[d]),
                   static_cast<int64_t>(g.stride[d]), static_cast<int64_t>(g.dilation[d]), rng.Int(0, 1) == 1, &out);
    g.output[d] = static_cast<size_t>(out);
  }
  return g;
}

std::string Describe(const PoolGeometry& g, PoolLayout layout) {
  auto three = [](const size_t v[3]) {
    return std::to_string(v[0]) + "x" + std::to_string(v[1]) + "x" + std::to_string(v[2]);
  };
  return "N" + std::to_string(g.batch) + " C" + std::to_string(g.channels) + " in " + three(g.input) + " out " +
         three(g.output) + " k " + three(g.kernel) + " s " + three(g.stride) + " p " + three(g.padding) + " d " +
         three(g.dilation) + (layout == PoolLayout::kChannelsLast ? " NHWC" : " NCHW");
}

template <typename T>
QDType DTypeOf() {
  return std::is_same<T, uint8_t>::value ? QDType::kQUInt8 : QDType::kQInt8;
}

// Average pooling's options at random: count_include_pad, sometimes a divisor, any zero point of T.
template <typename T>
AvgPoolOptions RandomAvgOptions(Random& rng) {
  AvgPoolOptions options;
  options.count_include_pad = rng.Int(0, 1) == 1;
  options.divisor_override = rng.Int(0, 3) == 0 ? rng.Int(1, 20) : 0;
  options.zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
  return options;
}

template <typename T>
void TestPools(Context& ctx) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(std::is_same<T, uint8_t>::value ? 21 : 22);
  const QDType dtype = DTypeOf<T>();
  for (int trial = 0; trial < 60; ++trial) {
    const int dims = static_cast<int>(rng.Int(1, 3));
    const PoolLayout layout = rng.Int(0, 1) ? PoolLayout::kChannelsLast : PoolLayout::kChannelsFirst;
    const PoolGeometry g = RandomPool(rng, dims, true);
    const std::vector<T> x = Input<T>(rng, Numel(g, g.input));
    const std::string where = Describe(g, layout);
    std::vector<T> expected(Numel(g, g.output));
    MaxPoolRef(g, layout, false, x.data(), expected.data());
    CheckThreads(ctx, "max pool " + where, expected, [&](uint8_t* y, size_t n) {
      return MaxPool(g, dtype, layout, x.data(), x.size(), y, n);
    });

    PoolGeometry a = RandomPool(rng, dims, false);
    const AvgPoolOptions options = RandomAvgOptions<T>(rng);
    const std::vector<T> xa = Input<T>(rng, Numel(a, a.input));
    std::vector<T> avg(Numel(a, a.output));
    AvgPoolRef(a, layout, options, xa.data(), avg.data());
    CheckThreads(ctx, "avg pool " + Describe(a, layout), avg, [&](uint8_t* y, size_t n) {
      return AvgPool(a, dtype, layout, options, xa.data(), xa.size(), y, n);
    });

    PoolGeometry ad = a;
    for (int d = 3 - dims; d < 3; ++d) ad.output[d] = static_cast<size_t>(rng.Int(1, static_cast<int64_t>(ad.input[d]) + 3));
    std::vector<T> adaptive(Numel(ad, ad.output));
    AdaptiveAvgPoolRef(ad, layout, options.zero_point, xa.data(), adaptive.data());
    CheckThreads(ctx, "adaptive avg pool " + Describe(ad, layout), adaptive, [&](uint8_t* y, size_t n) {
      return AdaptiveAvgPool(ad, dtype, layout, options.zero_point, xa.data(), xa.size(), y, n);
    });
    MaxPoolRef(ad, layout, true, xa.data(), adaptive.data());
    CheckThreads(ctx, "adaptive max pool " + Describe(ad, layout), adaptive, [&](uint8_t* y, size_t n) {
      return AdaptiveMaxPool(ad, dtype, layout, xa.data(), xa.size(), y, n);
    });
  }
}

template <typename T>
void TestBatchNorm(Context& ctx) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(std::is_same<T, uint8_t>::value ? 31 : 32);
  for (int trial = 0; trial < 40; ++trial) {
    BatchNormArgs args;
    args.batch = static_cast<size_t>(rng.Int(1, 3));
    args.channels = static_cast<size_t>(rng.Int(1, 80));
    args.spatial = static_cast<size_t>(rng.Int(1, 40));
    args.channels_last_input = rng.Int(0, 1) == 1;
    std::vector<float> w(args.channels), b(args.channels), m(args.channels), v(args.channels);
    for (size_t c = 0; c < args.channels; ++c) {
      w[c] = static_cast<float>(rng.Uniform(-2, 2));
      b[c] = static_cast<float>(rng.Uniform(-1, 1));
      m[c] = static_cast<float>(rng.Uniform(-1, 1));
      v[c] = static_cast<float>(rng.Uniform(0.01, 3));
    }
    args.weight = w.data();
    args.bias = b.data();
    args.mean = m.data();
    args.var = v.data();
    args.params_len = args.channels;
    args.eps = 1e-5;
    args.x_scale = rng.LogUniform(-3, 0);
    args.y_scale = rng.LogUniform(-3, 0);
    args.x_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
    args.y_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
    args.relu = rng.Int(0, 2) == 0;
    const std::vector<T> x = Input<T>(rng, args.batch * args.channels * args.spatial);
    std::vector<T> expected(x.size());
    BatchNormRef(args, x.data(), expected.data());
    CheckThreads(ctx, "batch norm C" + std::to_string(args.channels) + " S" + std::to_string(args.spatial), expected,
                 [&](uint8_t* y, size_t n) { return BatchNorm(args, DTypeOf<T>(), x.data(), x.size(), y, n); });
  }
}

// Layer norm over short groups (1..20 values, 1..70 groups: the normalize_rows kernel's permuted
// steps, its per-run fallback and the op's 32-group chunks), with and without the affine arrays:
// the bytes at the dispatch level under test, at every thread count, equal those at scalar, whose
// normalize_rows is the normalize formula run by run.
template <typename T>
void TestLayerNormShortGroups(Context& ctx) {
  Random rng(std::is_same<T, uint8_t>::value ? 43 : 44);
  const QDType dtype = DTypeOf<T>();
  for (size_t n = 1; n <= 20; ++n) {
    for (int trial = 0; trial < 4; ++trial) {
      NormalizeArgs args;
      args.groups = static_cast<size_t>(rng.Int(1, 70));
      args.group_size = n;
      std::vector<float> gamma(n), beta(n);
      for (size_t i = 0; i < n; ++i) {
        gamma[i] = static_cast<float>(rng.Uniform(-2, 2));
        beta[i] = static_cast<float>(rng.Uniform(-3, 3));
      }
      if (trial % 2 == 0) {
        args.gamma = gamma.data();
        args.beta = beta.data();
        args.affine_len = n;
      }
      args.x_scale = static_cast<float>(rng.Uniform(0.01, 0.2));
      args.y_scale = static_cast<float>(rng.Uniform(0.01, 0.2));
      args.eps = trial == 3 ? 0.0 : 1e-5;  // eps 0: constant groups give an infinite scale
      args.x_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
      args.y_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
      std::vector<T> x = Input<T>(rng, args.groups * n);
      if (trial == 3) std::fill(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n), static_cast<T>(7));
      std::vector<T> expected(x.size());
      std::string error;
      if (!ctx.Check(SetMaxIsa(Isa::kScalar, &error), error)) return;
      const Status status = Normalize(args, dtype, x.data(), x.size(), expected.data(), expected.size());
      if (!ctx.Check(SetMaxIsa(GetOptions().isa, &error), error)) return;
      if (!ctx.Check(status.ok(), "layer norm at scalar: " + status.message())) return;
      CheckThreads(ctx, "layer norm n=" + std::to_string(n) + " groups=" + std::to_string(args.groups) + " trial=" +
                            std::to_string(trial), expected,
                   [&](uint8_t* y, size_t bytes) { return Normalize(args, dtype, x.data(), x.size(), y, bytes); });
    }
  }
}

// Scalar ops without a separate reference: the bytes must not depend on the thread count.
template <typename T>
void TestThreadInvariance(Context& ctx) {
  Random rng(std::is_same<T, uint8_t>::value ? 41 : 42);
  const QDType dtype = DTypeOf<T>();
  for (int trial = 0; trial < 20; ++trial) {
    NormalizeArgs args;
    args.groups = static_cast<size_t>(rng.Int(1, 40));
    args.channels_per_group = static_cast<size_t>(rng.Int(1, 4));
    args.group_size = args.channels_per_group * static_cast<size_t>(rng.Int(1, 1200));  // channels of 512+ take the table path
    args.per_channel = rng.Int(0, 1) == 1;
    args.num_channels = args.channels_per_group * 2;
    std::vector<float> gamma(args.per_channel ? args.num_channels : args.group_size, 1.5f), beta(gamma.size(), 0.25f);
    args.gamma = gamma.data();
    args.beta = beta.data();
    args.affine_len = gamma.size();
    args.x_scale = 0.05f;
    args.y_scale = 0.02f;
    args.x_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
    args.y_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
    const std::vector<T> x = Input<T>(rng, args.groups * args.group_size);
    std::vector<T> one(x.size());
    SetNumThreads(1);
    if (!ctx.Check(Normalize(args, dtype, x.data(), x.size(), one.data(), one.size()).ok(), "normalize failed")) return;
    CheckThreads(ctx, "normalize", one, [&](uint8_t* y, size_t n) { return Normalize(args, dtype, x.data(), x.size(), y, n); });

    ResampleGeometry g;
    g.batch = static_cast<size_t>(rng.Int(1, 2));
    g.channels = static_cast<size_t>(rng.Int(1, 40));
    for (int d = 1; d < 3; ++d) {
      g.input[d] = static_cast<size_t>(rng.Int(1, 12));
      g.output[d] = static_cast<size_t>(rng.Int(1, 25));
    }
    const PoolLayout layout = rng.Int(0, 1) ? PoolLayout::kChannelsLast : PoolLayout::kChannelsFirst;
    const std::vector<T> xr = Input<T>(rng, g.batch * g.channels * g.input[1] * g.input[2]);
    std::vector<T> nearest(g.batch * g.channels * g.output[1] * g.output[2]), bilinear(nearest.size());
    SetNumThreads(1);
    ctx.Check(UpsampleNearest(g, dtype, layout, xr.data(), xr.size(), nearest.data(), nearest.size()).ok(), "nearest");
    const bool align = rng.Int(0, 1) == 1;
    ctx.Check(UpsampleBilinear(g, dtype, layout, align, 3, xr.data(), xr.size(), bilinear.data(), bilinear.size()).ok(),
              "bilinear");
    CheckThreads(ctx, "nearest", nearest,
                 [&](uint8_t* y, size_t n) { return UpsampleNearest(g, dtype, layout, xr.data(), xr.size(), y, n); });
    CheckThreads(ctx, "bilinear", bilinear, [&](uint8_t* y, size_t n) {
      return UpsampleBilinear(g, dtype, layout, align, 3, xr.data(), xr.size(), y, n);
    });
  }
}

// A PoolOp prepared once and run as a traced plan's one step, three times: its NCHW staging
// lives in the plan's arena (holding the previous run's bytes), its W table and the per-thread
// window list are reused; every run must give the reference's bytes.
template <typename T>
void TestPoolOpInPlan(Context& ctx) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(std::is_same<T, uint8_t>::value ? 23 : 24);
  const QDType dtype = DTypeOf<T>();
  const PoolKind kinds[4] = {PoolKind::kMax, PoolKind::kAvg, PoolKind::kAdaptiveAvg, PoolKind::kAdaptiveMax};
  for (int trial = 0; trial < 40; ++trial) {
    const PoolKind kind = kinds[trial % 4];
    const int dims = static_cast<int>(rng.Int(1, 3));
    const PoolLayout layout = rng.Int(0, 1) ? PoolLayout::kChannelsLast : PoolLayout::kChannelsFirst;
    PoolGeometry g = RandomPool(rng, dims, kind == PoolKind::kMax);
    if (kind == PoolKind::kAdaptiveAvg || kind == PoolKind::kAdaptiveMax) {
      for (int d = 3 - dims; d < 3; ++d) g.output[d] = static_cast<size_t>(rng.Int(1, static_cast<int64_t>(g.input[d]) + 3));
    }
    const AvgPoolOptions options = RandomAvgOptions<T>(rng);
    const std::vector<T> x = Input<T>(rng, Numel(g, g.input));
    std::vector<T> expected(Numel(g, g.output));
    switch (kind) {
      case PoolKind::kMax: MaxPoolRef(g, layout, false, x.data(), expected.data()); break;
      case PoolKind::kAdaptiveMax: MaxPoolRef(g, layout, true, x.data(), expected.data()); break;
      case PoolKind::kAvg: AvgPoolRef(g, layout, options, x.data(), expected.data()); break;
      case PoolKind::kAdaptiveAvg: AdaptiveAvgPoolRef(g, layout, options.zero_point, x.data(), expected.data()); break;
    }
    std::shared_ptr<const PoolOp> op;
    const Status prepared = PoolOp::Prepare(kind, g, dtype, layout, options, &op);
    const std::string where = std::string(prepared.ok() ? op->name() : "pool") + " " + Describe(g, layout);
    if (!ctx.Check(prepared.ok(), "Prepare " + where + ": " + prepared.message())) return;
    ctx.Check((layout == PoolLayout::kChannelsFirst) == (op->scratch_bytes() > 0),
              "scratch only for NCHW staging: " + where + " has " + std::to_string(op->scratch_bytes()) + " bytes");
    Plan plan;
    Plan::ValueId input = plan.AddInput(x.size()), y = 0;
    bool ok = plan.AddStep(std::make_shared<OpStep>(op), {input}, op->output_bytes(), &y).ok();
    ok = ok && plan.AddOutput(y).ok() && plan.Finalize().ok();
    if (!ctx.Check(ok, "building the plan: " + where)) return;
    for (int run = 0; run < 3; ++run) {
      std::vector<T> got(expected.size(), static_cast<T>(run * 37));
      const void* inputs[1] = {x.data()};
      const size_t input_sizes[1] = {x.size()};
      void* outputs[1] = {got.data()};
      const size_t output_sizes[1] = {got.size()};
      const Status st = plan.Run(inputs, input_sizes, 1, outputs, output_sizes, 1);
      if (!ctx.Check(st.ok() && got == expected, "plan run " + std::to_string(run) + ": " + where + " " + st.message())) return;
    }
  }
}

QK_TEST(kIsa, "pool-norm/ops/pools-qu8") { TestPools<uint8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/pool-op-plan-qu8") { TestPoolOpInPlan<uint8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/pool-op-plan-qs8") { TestPoolOpInPlan<int8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/pools-qs8") { TestPools<int8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/batch-norm-qu8") { TestBatchNorm<uint8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/batch-norm-qs8") { TestBatchNorm<int8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/layer-norm-short-groups-qu8") { TestLayerNormShortGroups<uint8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/layer-norm-short-groups-qs8") { TestLayerNormShortGroups<int8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/normalize-resample-threads-qu8") { TestThreadInvariance<uint8_t>(ctx); }
QK_TEST(kIsa, "pool-norm/ops/normalize-resample-threads-qs8") { TestThreadInvariance<int8_t>(ctx); }

QK_TEST(kIsa, "pool-norm/ops/errors") {
  PoolGeometry g;
  g.channels = 2;
  g.input[2] = 4;
  g.kernel[2] = 2;
  g.stride[2] = 2;
  g.output[2] = 2;
  std::vector<uint8_t> x(8, 1), y(4 + kGuard, kSentinel);
  // True when the failed call wrote nothing; resets the sentinels for the next call.
  auto untouched = [&] {
    bool clean = true;
    for (uint8_t b : y) clean = clean && b == kSentinel;
    std::fill(y.begin(), y.end(), kSentinel);
    return clean;
  };
  ctx.Check(MaxPool(g, QDType::kQUInt8, PoolLayout::kChannelsFirst, x.data(), x.size(), y.data(), 4).ok(), "valid case");
  std::fill(y.begin(), y.end(), kSentinel);
  PoolGeometry bad = g;
  bad.padding[2] = 2;  // more than half the kernel
  Status s = MaxPool(bad, QDType::kQUInt8, PoolLayout::kChannelsFirst, x.data(), x.size(), y.data(), 4);
  ctx.Check(s.kind() == ErrorKind::kRangeError && untouched(), "padding > kernel / 2: " + s.message());
  bad = g;
  bad.output[2] = 3;  // not what the geometry gives
  s = MaxPool(bad, QDType::kQUInt8, PoolLayout::kChannelsFirst, x.data(), x.size(), y.data(), 6);
  ctx.Check(s.kind() == ErrorKind::kRangeError && untouched(), "wrong output size: " + s.message());
  bad = g;
  bad.kernel[2] = 5;  // larger than the input: no output size fits
  bad.stride[2] = 1;
  bad.output[2] = 1;
  s = MaxPool(bad, QDType::kQUInt8, PoolLayout::kChannelsFirst, x.data(), x.size(), y.data(), 2);
  ctx.Check(s.kind() == ErrorKind::kRangeError && untouched(), "kernel > input: " + s.message());
  s = MaxPool(g, QDType::kQUInt8, PoolLayout::kChannelsFirst, x.data(), 7, y.data(), 4);
  ctx.Check(s.kind() == ErrorKind::kRangeError && untouched(), "short input: " + s.message());
  s = AvgPool(g, QDType::kQInt32, PoolLayout::kChannelsFirst, AvgPoolOptions{}, x.data(), x.size(), y.data(), 4);
  ctx.Check(s.kind() == ErrorKind::kRangeError && untouched(), "qint32: " + s.message());
  bad = g;
  bad.dilation[2] = 2;
  bad.output[2] = 1;
  s = AvgPool(bad, QDType::kQUInt8, PoolLayout::kChannelsFirst, AvgPoolOptions{}, x.data(), x.size(), y.data(), 2);
  ctx.Check(s.kind() == ErrorKind::kRangeError && untouched(), "dilated average pool: " + s.message());
}

}  // namespace
}  // namespace test
}  // namespace qk
