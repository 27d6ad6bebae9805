// Softmax: every registered normalize-and-quantize microkernel against the scalar one (bit-identical), and the prepared op against native/reference/softmax-ref.
//
// The kernels see lengths 0..70 and a few long runs (every tail of 8 and 16 lanes), both the
// reciprocal and the divisor form, and random output qparams; values are written between
// guard bytes, so a kernel that writes past its output fails. The op sees random
// [outer][size][inner] shapes of both dtypes (last dim and not) at the run's ISA level.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/softmax.h"
#include "reference/softmax-ref.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

std::vector<size_t> KernelSizes() {
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 70; ++n) sizes.push_back(n);
  for (size_t n : {127, 128, 129, 1000, 1027}) sizes.push_back(n);
  return sizes;
}

template <typename T>
void RegisterSoftmaxKernel(const char* name, Isa isa, void (*kernel)(size_t, const float*, const float*, T*, const SoftmaxParams*),
                           void (*scalar)(size_t, const float*, const float*, T*, const SoftmaxParams*)) {
  RegisterTest(Mode::kIsa, std::string("softmax/ukernel/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(SeedFromName(name));
    const bool is_signed = kTypeMin<T> < 0;
    for (size_t n : KernelSizes()) {
      for (int form = 0; form < 2; ++form) {
        std::vector<float> e(n), divisors(n);
        for (size_t i = 0; i < n; ++i) {
          e[i] = static_cast<float>(rng.Unit());
          divisors[i] = static_cast<float>(rng.Uniform(1, 50));
        }
        const double y_scale = rng.LogUniform(-4, -1);
        QuantizeParams q{1.0f / static_cast<float>(y_scale), static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>)),
                         is_signed ? -128 : 0, is_signed ? 127 : 255};
        const SoftmaxParams p{1.0f / static_cast<float>(rng.Uniform(1, 50)), &q};
        const float* d = form == 1 ? divisors.data() : nullptr;
        std::vector<T> expected(n);
        scalar(n, e.data(), d, expected.data(), &p);
        // Guard bytes on both sides of the output.
        std::vector<T> guarded(n + 32, static_cast<T>(0x5A));
        kernel(n, e.data(), d, guarded.data() + 16, &p);
        for (size_t i = 0; i < n; ++i) {
          if (guarded[16 + i] != expected[i]) {
            ctx.Fail(std::string(name) + " n=" + std::to_string(n) + (d ? " divisors" : " reciprocal") + ": index " +
                     std::to_string(i) + " e " + DescribeFloat(e[i]) + ": expected " + std::to_string(expected[i]) +
                     ", got " + std::to_string(guarded[16 + i]));
            return;
          }
        }
        for (size_t i = 0; i < 16; ++i) {
          if (guarded[i] != static_cast<T>(0x5A) || guarded[16 + n + i] != static_cast<T>(0x5A)) {
            ctx.Fail(std::string(name) + " n=" + std::to_string(n) + " wrote outside its output");
            return;
          }
        }
      }
    }
  });
}

void RegisterKernel(const char* name, Isa isa, SoftmaxU8Fn* kernel) {
  RegisterSoftmaxKernel<uint8_t>(name, isa, kernel, qk_f32_qu8_softmax_ukernel__scalar);
}
void RegisterKernel(const char* name, Isa isa, SoftmaxS8Fn* kernel) {
  RegisterSoftmaxKernel<int8_t>(name, isa, kernel, qk_f32_qs8_softmax_ukernel__scalar);
}

bool RegisterAllKernels() {
#define QK_UKERNEL(slot, type, isa, function) RegisterKernel(#function, Isa::isa, &function);
#include "ukernels/softmax/registry.inc"  // this family's lines only
#undef QK_UKERNEL
  return true;
}

const bool kKernelsRegistered = RegisterAllKernels();

// long: attention-like shapes (many columns of 64-300 values) where the op's per-top exp tables
// are made and reused; `narrow` draws the values from a 24-wide range so tops repeat and tables
// are small. Either way the bytes must be the reference's, which computes every exp directly.
template <typename T>
void RunOpCase(Context& ctx, Random& rng, QDType dtype, bool long_columns = false) {
  SoftmaxOpParams p;
  p.dtype = dtype;
  p.outer = static_cast<size_t>(long_columns ? rng.Int(4, 24) : rng.Int(1, 4));
  p.size = static_cast<size_t>(long_columns ? rng.Int(64, 300) : rng.Int(1, 40));
  p.inner = rng.Int(0, 1) == 0 ? 1 : static_cast<size_t>(rng.Int(2, long_columns ? 5 : 37));
  p.x_scale = rng.LogUniform(-3, 0);
  p.x_zero_point = rng.Int(kTypeMin<T>, kTypeMax<T>);
  p.y_scale = rng.Int(0, 3) == 0 ? 1.0 / 256 : rng.LogUniform(-3.5, -1.5);
  p.y_zero_point = rng.Int(kTypeMin<T>, kTypeMax<T>);
  const std::string what = std::string(QDTypeName(dtype)) + " " + std::to_string(p.outer) + "x" + std::to_string(p.size) +
                           "x" + std::to_string(p.inner) + " x_scale " + std::to_string(p.x_scale);
  const size_t n = p.outer * p.size * p.inner;
  std::vector<T> x = RandomQuantized<T>(rng, n);
  if (long_columns && rng.Int(0, 1) == 0) {
    const int32_t low = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T> - 24));
    for (T& v : x) v = static_cast<T>(low + rng.Int(0, 24));
  }
  std::vector<int32_t> x32(x.begin(), x.end()), expected(n);
  ref::SoftmaxRef(x32.data(), p.outer, p.size, p.inner, dtype == QDType::kQInt8, p.x_scale,
                  static_cast<int32_t>(p.x_zero_point), p.y_scale, static_cast<int32_t>(p.y_zero_point), expected.data());
  // Without and with the shared exp table (a plan's op): the same bytes, twice over (a run
  // must not change the table or the op).
  for (const bool exp_table : {false, true}) {
    p.exp_table = exp_table;
    std::shared_ptr<const SoftmaxOp> op;
    Status st = SoftmaxOp::Prepare(p, &op);
    if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
    for (int run = 0; run < 2; ++run) {
      std::vector<T> y(n, static_cast<T>(0x5A));
      const void* inputs[1] = {x.data()};
      st = RunWithScratch(*op, inputs, y.data());
      if (!ctx.Check(st.ok(), what + ": Run: " + st.message())) return;
      for (size_t i = 0; i < n; ++i) {
        if (y[i] != expected[i]) {
          ctx.Fail(what + (exp_table ? " (exp table)" : "") + ": index " + std::to_string(i) + ": expected " +
                   std::to_string(expected[i]) + ", got " + std::to_string(y[i]));
          return;
        }
      }
    }
  }
}

QK_TEST(kIsa, "softmax/ops/random") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(301);
  for (int i = 0; i < 60 && !ctx.failed(); ++i) {
    if (i % 2 == 0) RunOpCase<uint8_t>(ctx, rng, QDType::kQUInt8);
    else RunOpCase<int8_t>(ctx, rng, QDType::kQInt8);
  }
  for (int i = 0; i < 16 && !ctx.failed(); ++i) {
    if (i % 2 == 0) RunOpCase<uint8_t>(ctx, rng, QDType::kQUInt8, /*long_columns=*/true);
    else RunOpCase<int8_t>(ctx, rng, QDType::kQInt8, /*long_columns=*/true);
  }
}

QK_TEST(kIsa, "softmax/ops/errors") {
  SoftmaxOpParams p;
  std::shared_ptr<const SoftmaxOp> op;
  p.dtype = QDType::kQInt32;
  Status st = SoftmaxOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("dtype") != std::string::npos, "qint32: " + st.message());
  p.dtype = QDType::kQInt8;
  p.y_zero_point = 128;
  st = SoftmaxOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("[-128, 127]") != std::string::npos,
            "qint8 zero point 128: " + st.message());
  p.y_zero_point = 0;
  p.y_scale = 1e-50;  // positive, but 0 in float32
  st = SoftmaxOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("for scale") != std::string::npos, "1e-50: " + st.message());
  p.y_scale = 1;
  p.outer = 0;  // empty: nothing to do, no scratch
  st = SoftmaxOp::Prepare(p, &op);
  if (!ctx.Check(st.ok(), "empty: " + st.message())) return;
  ctx.Check(op->scratch_bytes() == 0 && op->output_bytes() == 0, "empty op sizes");
  ctx.Check(op->Run(nullptr, nullptr, nullptr).ok(), "empty run");
}

}  // namespace
}  // namespace test
}  // namespace qk
