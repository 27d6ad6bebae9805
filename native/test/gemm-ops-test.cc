// GEMM op tests: QGemmU8, QGemmF32, LinearU8 and LinearDynamicF32 through dispatch, at every ISA level and thread count, against the reference.
//
// Shapes cross the op's row blocks (64 rows) and column tasks (256 columns); every result must
// be the reference's exact bytes (fp32: exact bits) at 1..4 threads. The threads-sweep mode
// adds larger shapes. Error cases check that bad arguments come back as a Status.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "gemm-tester.h"
#include "harness.h"
#include "ops/linear.h"
#include "ops/qgemm.h"
#include "ops/quantize.h"
#include "pack/gemm-pack.h"
#include "reference/conv-ref.h"
#include "reference/gemm-ref.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace test {
namespace {

struct Shape {
  size_t m, n, k;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 5, 0}, {1, 37, 64}, {3, 5, 7}, {7, 33, 17}, {17, 70, 33}, {70, 9, 100}, {65, 300, 19}, {2, 1, 257}};
const Shape kSweepShapes[] = {{129, 520, 77}, {256, 64, 1024}, {1, 1030, 300}, {200, 200, 200}};

// The output stage of problem p.
GemmRequant RequantOf(const GemmProblem& p) {
  GemmRequant rq;
  rq.a_scale = p.a_scale;
  rq.a_zero_point = p.a_zp;
  rq.w_scales = p.w_scales.data();
  rq.bias = p.bias.empty() ? nullptr : p.bias.data();
  rq.y_scale = p.y_scale;
  rq.y_zero_point = p.y_zp;
  rq.y_min = p.y_min;
  rq.y_max = p.y_max;
  return rq;
}

bool RunQGemm(Context& ctx, const GemmProblem& p, const int* threads, size_t thread_count) {
  GemmWeightsDesc desc;
  desc.n = p.n;
  desc.k = p.k;
  desc.w = p.w.data();
  desc.w_zero_points = p.w_zp.data();
  std::shared_ptr<GemmWeights> weights;
  Status st = GemmWeights::Create(desc, &weights);
  if (!ctx.Check(st.ok(), "GemmWeights::Create: " + st.message())) return false;
  const GemmRequant rq = RequantOf(p);
  const size_t ldy = p.n + 1;
  bool ok = true;
  for (size_t t = 0; t < thread_count && ok; ++t) {
    SetNumThreads(threads[t]);
    const std::string what = "QGemmU8 threads=" + std::to_string(threads[t]);
    std::vector<uint8_t> y(p.m * ldy + 16, kGemmSentinel);
    st = QGemmU8(*weights, p.m, p.a.data(), p.lda, rq, y.data(), ldy);
    ok = ctx.Check(st.ok(), what + ": " + st.message()) && CheckGemmU8(ctx, what, p, y, ldy);
    if (!ok) break;
    std::vector<float> yf(p.m * ldy + 16, kGemmF32Sentinel);
    st = QGemmF32(*weights, p.m, p.a.data(), p.lda, p.a_scale, p.a_zp, p.w_scales.data(),
                  p.bias.empty() ? nullptr : p.bias.data(), p.relu, yf.data(), ldy);
    ok = ctx.Check(st.ok(), what + " f32: " + st.message()) && CheckGemmF32(ctx, "QGemmF32 threads=" +
                                                                                std::to_string(threads[t]), p, yf, ldy);
  }
  SetNumThreads(1);
  return ok;
}

void TestQGemm(Context& ctx, const Shape* shapes, size_t count, const int* threads, size_t thread_count) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(0x51);
  int variant = 0;
  for (size_t s = 0; s < count; ++s) {
    for (int rep = 0; rep < 3; ++rep) {
      if (!RunQGemm(ctx, MakeGemmProblem(rng, shapes[s].m, shapes[s].n, shapes[s].k, variant++), threads,
                    thread_count)) {
        return;
      }
    }
  }
}

QK_TEST(kIsa, "gemm-ops/qgemm") { TestQGemm(ctx, kShapes, sizeof(kShapes) / sizeof(kShapes[0]), kThreadCounts, 4); }

QK_TEST(kThreadsSweep, "gemm-ops/qgemm-large") {
  const int threads[] = {1, 2, 3, 5, 8};
  TestQGemm(ctx, kSweepShapes, sizeof(kSweepShapes) / sizeof(kSweepShapes[0]), threads, 5);
}

// kPairProof layouts (u8 x s8 int16 pair sums): the op runs the fast kernel only under a proof
// (every weight pair |w0| + |w1| <= 128, or every activation <= 127) and else the exact twin;
// either way the result must equal the reference, and the choice must follow the proof exactly.
bool RunPackedCall(Context& ctx, const PackedGemm& packed, const GemmProblem& p, const std::string& what) {
  const GemmRequant rq = RequantOf(p);
  const size_t ldy = p.n + 2;
  std::vector<uint8_t> y(p.m * ldy + 16, kGemmSentinel);
  Status st = QGemmU8Packed(packed, p.m, p.a.data(), p.lda, rq, y.data(), ldy);
  if (!ctx.Check(st.ok(), what + ": " + st.message()) || !CheckGemmU8(ctx, what, p, y, ldy)) return false;
  // The fp32 output shows every accumulator (no clamping), so a saturated pair cannot hide.
  std::vector<float> yf(p.m * ldy + 16, kGemmF32Sentinel);
  st = QGemmF32Packed(packed, p.m, p.a.data(), p.lda, p.a_scale, p.a_zp, p.w_scales.data(),
                      p.bias.empty() ? nullptr : p.bias.data(), p.relu, yf.data(), ldy);
  return ctx.Check(st.ok(), what + " f32: " + st.message()) && CheckGemmF32(ctx, what + " f32", p, yf, ldy);
}

QK_TEST(kIsa, "gemm-ops/pair-proof") {
  static const int32_t kUnsafePairs[][2] = {{-128, -128}, {127, 127}, {-128, 127}, {127, -128}, {65, 64}, {5, -3}};
  static const int32_t kSafePairs[][2] = {{-128, 0}, {0, -128}, {64, 64}, {127, 1}, {-100, -28}, {7, -9}};
  Random rng(0x9a1);
  int variant = 0;
  for (size_t li = 0; li < GemmLayoutCount(); ++li) {
    const GemmLayout& l = GemmLayoutAt(li);
    if (l.exactness != GemmExactness::kPairProof || !Applies(ctx, l.isa)) continue;
    for (const Shape& s : {Shape{l.mr + 1, l.nr + 3, 37}, Shape{1, l.nr, l.kr}, Shape{2 * l.mr, 2 * l.nr - 1, 1}, Shape{3, 5, 64}}) {
      for (int safe = 0; safe < 2; ++safe) {
        // Activations: the largest byte of the call decides the 7-bit proof (127 keeps it, 128 breaks it).
        for (int a_max : {127, 128, 255}) {
          GemmProblem p = MakeGemmProblem(rng, s.m, s.n, s.k, variant++);
          for (size_t i = 0; i < p.w.size(); ++i) {
            const size_t pair = (i / p.k) * 7 + (i % p.k) / 2;
            p.w[i] = static_cast<int8_t>(safe ? kSafePairs[pair % 6][i % p.k % 2] : kUnsafePairs[pair % 6][i % p.k % 2]);
          }
          p.pattern = safe ? "edge pairs |w0| + |w1| <= 128" : "edge pairs |w0| + |w1| > 128";
          for (uint8_t& v : p.a) v = static_cast<uint8_t>(rng.Int(0, 127));
          p.a[(p.m - 1) * p.lda + p.k - 1] = static_cast<uint8_t>(a_max);  // last element of the call
          if (a_max != 127) p.a[(p.m - 1) * p.lda + p.k] = 255;  // past k: never read, never decides
          std::shared_ptr<const PackedGemm> packed;
          const Status st = PackedGemm::Create(l, p.n, p.k, p.w.data(), p.w_zp.data(), &packed);
          if (!ctx.Check(st.ok(), "pack: " + st.message())) return;
          // k = 1 has no pair, so any weights are safe there.
          const bool pairs_safe = safe == 1 || p.k < 2;
          const std::string what = std::string(l.u8_name) + (safe ? " safe" : " unsafe") + " pairs, a_max " +
                                   std::to_string(a_max) + " " + p.Describe();
          if (!ctx.Check(packed->pairs_safe() == pairs_safe, what + ": pairs_safe")) return;
          const bool fast = pairs_safe || a_max <= 127;
          const PackedGemm& chosen = GemmPackForCall(*packed, p.m, p.a.data(), p.lda);
          if (!ctx.Check((&chosen == packed.get()) == fast, what + ": kernel choice")) return;
          if (!fast && !ctx.Check(chosen.layout().exactness == GemmExactness::kAlways, what + ": twin is exact")) return;
          if (!RunPackedCall(ctx, *packed, p, what)) return;
        }
      }
    }
  }
}

// LinearU8 / LinearDynamicF32: per-tensor and per-channel weights, bias or none, relu.
QK_TEST(kIsa, "gemm-ops/linear") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(0x1ee);
  int variant = 0;
  for (const Shape& s : kShapes) {
    for (int scheme = 0; scheme < 4; ++scheme) {
      GemmProblem p = MakeGemmProblem(rng, s.m, s.n, s.k, variant++);
      const bool per_channel = scheme % 2 == 1;
      const bool with_bias = scheme >= 2;
      p.lda = p.k;  // Linear takes contiguous rows
      if (!per_channel) {
        std::fill(p.w_scales.begin(), p.w_scales.end(), p.w_scales[0]);
        std::fill(p.w_zp.begin(), p.w_zp.end(), p.w_zp[0]);
      }
      if (!with_bias) p.bias.clear();
      if (with_bias && p.bias.empty()) p.bias.assign(p.n, 0.25f);
      p.y_max = 255;
      p.y_min = p.relu ? p.y_zp : 0;
      std::vector<double> scales(p.w_scales.begin(), p.w_scales.end());
      std::shared_ptr<const LinearWeights> lw;
      Status st = CreateLinearWeights(p.w.data(), p.n, p.k, scales.data(), p.w_zp.data(), per_channel ? p.n : 1,
                                      with_bias ? p.bias.data() : nullptr, &lw);
      if (!ctx.Check(st.ok(), "CreateLinearWeights: " + st.message())) return;
      for (int threads : kThreadCounts) {
        SetNumThreads(threads);
        std::vector<uint8_t> y(p.m * p.n + 16, kGemmSentinel);
        st = LinearU8(*lw, p.a.data(), p.m, p.a_scale, p.a_zp, p.y_scale, p.y_zp, p.relu, y.data());
        if (!ctx.Check(st.ok(), "LinearU8: " + st.message()) ||
            !CheckGemmU8(ctx, "LinearU8 threads=" + std::to_string(threads), p, y, p.n)) {
          SetNumThreads(1);
          return;
        }
        // The qnnpack and onednn engines' output stages (qnnpack: int32 bias, fp32
        // requantization; onednn: reciprocal scales, zero point added before rounding) against
        // the reference's.
        std::vector<int32_t> acc(p.m * p.n);
        ref::GemmAcc(p.m, p.n, p.k, p.a.data(), p.k, p.a_zp, p.w.data(), p.w_zp.data(), acc.data());
        for (const RefEngine ref_engine : {kRefQnnpack, kRefOnednn}) {
          const QEngine engine = ref_engine == kRefQnnpack ? QEngine::kQnnpack : QEngine::kOnednn;
          std::vector<uint8_t> ye(p.m * p.n + 16, kGemmSentinel);
          st = LinearU8(*lw, p.a.data(), p.m, p.a_scale, p.a_zp, p.y_scale, p.y_zp, p.relu, ye.data(), engine);
          if (!ctx.Check(st.ok(), std::string("LinearU8 ") + QEngineName(engine) + ": " + st.message())) return;
          for (size_t i = 0; i < p.m * p.n; ++i) {
            const size_t j = i % p.n;
            const int32_t want = EngineRequantValueRef(ref_engine, acc[i], p.a_scale, scales[per_channel ? j : 0],
                                                       per_channel, with_bias, with_bias ? p.bias[j] : 0.0f,
                                                       p.y_scale, p.y_zp, p.y_min, p.y_max);
            if (ye[i] != want) {
              ctx.Fail(std::string("LinearU8 ") + QEngineName(engine) + " " + p.Describe() + " threads=" +
                       std::to_string(threads) + ": element " + std::to_string(i) + " got " +
                       std::to_string(ye[i]) + ", expected " + std::to_string(want));
              SetNumThreads(1);
              return;
            }
          }
        }
        // Dynamic: fp32 input, quantized per call as PyTorch does, then the fp32 GEMM.
        std::vector<float> x(p.m * p.k);
        for (float& v : x) v = static_cast<float>(rng.Uniform(-2, 3));
        for (bool reduce_range : {false, true}) {
          float lo = 0, hi = 0;
          MinMax(x.data(), x.size(), &lo, &hi);
          ChosenQParams qp;
          ChooseQuantizationParams(lo, hi, QDType::kQUInt8, reduce_range, &qp);
          GemmProblem q = p;
          q.a.resize(x.size());
          QuantizePerTensor(x.data(), x.size(), qp.scale, qp.zero_point, QDType::kQUInt8, q.a.data(), q.a.size());
          q.a_scale = static_cast<float>(qp.scale);
          q.a_zp = static_cast<int32_t>(qp.zero_point);
          std::vector<float> yf(p.m * p.n + 16, kGemmF32Sentinel);
          st = LinearDynamicF32(*lw, x.data(), p.m, reduce_range, p.relu, yf.data());
          if (!ctx.Check(st.ok(), "LinearDynamicF32: " + st.message()) ||
              !CheckGemmF32(ctx, "LinearDynamicF32 threads=" + std::to_string(threads), q, yf, p.n)) {
            SetNumThreads(1);
            return;
          }
        }
      }
      SetNumThreads(1);
    }
  }
}

// A pack follows the level in force: setMaxIsa between calls switches kernels, same bytes.
QK_TEST(kIsa, "gemm-ops/isa-switch") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(7);
  const GemmProblem p = MakeGemmProblem(rng, 9, 21, 45, 1);
  std::string error;
  SetMaxIsa(Isa::kScalar, &error);
  const bool scalar_ok = RunQGemm(ctx, p, kThreadCounts, 1);
  SetMaxIsa(GetOptions().isa, &error);
  if (scalar_ok) RunQGemm(ctx, p, kThreadCounts, 1);
}

QK_TEST(kIsa, "gemm-ops/errors") {
  if (!RequireIsaLevel(ctx)) return;
  const int8_t w[6] = {1, 2, 3, 4, 5, 6};
  const double scales[2] = {0.1, 0.2};
  const int32_t zps[2] = {0, 0};
  std::shared_ptr<const LinearWeights> lw;
  ctx.Check(CreateLinearWeights(w, 2, 3, scales, zps, 3, nullptr, &lw).kind() == ErrorKind::kRangeError,
            "3 qparams for 2 outputs must be a RangeError");
  const double bad_scale[1] = {0.0};
  ctx.Check(CreateLinearWeights(w, 2, 3, bad_scale, zps, 1, nullptr, &lw).kind() == ErrorKind::kRangeError,
            "scale 0 must be a RangeError");
  const double nan_scale[1] = {std::nan("")};
  ctx.Check(CreateLinearWeights(w, 2, 3, nan_scale, zps, 1, nullptr, &lw).kind() == ErrorKind::kRangeError,
            "scale NaN must be a RangeError");
  const int32_t bad_zp[1] = {128};
  ctx.Check(CreateLinearWeights(w, 2, 3, scales, bad_zp, 1, nullptr, &lw).kind() == ErrorKind::kRangeError,
            "weight zero point 128 must be a RangeError");
  if (!ctx.Check(CreateLinearWeights(w, 2, 3, scales, zps, 2, nullptr, &lw).ok(), "valid weights")) return;
  uint8_t x[3] = {1, 2, 3};
  uint8_t y[2 + 4] = {kGemmSentinel, kGemmSentinel, kGemmSentinel, kGemmSentinel, kGemmSentinel, kGemmSentinel};
  ctx.Check(LinearU8(*lw, x, 1, 0.1f, 256, 0.1f, 0, false, y).kind() == ErrorKind::kRangeError,
            "input zero point 256 must be a RangeError");
  ctx.Check(LinearU8(*lw, x, 1, 0.1f, 0, 0.1f, -1, false, y).kind() == ErrorKind::kRangeError,
            "output zero point -1 must be a RangeError");
  ctx.Check(LinearU8(*lw, x, 1, -1.0f, 0, 0.1f, 0, false, y).kind() == ErrorKind::kRangeError,
            "input scale -1 must be a RangeError");
  ctx.Check(LinearU8(*lw, x, 1, 0.1f, 0, std::nanf(""), 0, false, y).kind() == ErrorKind::kRangeError,
            "output scale NaN must be a RangeError");
  ctx.Check(LinearU8(*lw, nullptr, 1, 0.1f, 0, 0.1f, 0, false, y).kind() == ErrorKind::kTypeError,
            "null input must be a TypeError");
  bool untouched = true;
  for (uint8_t b : y) untouched = untouched && b == kGemmSentinel;
  ctx.Check(untouched, "failed calls must not write the output");
  ctx.Check(LinearU8(*lw, x, 0, 0.1f, 0, 0.1f, 0, false, nullptr).ok(), "zero rows is a no-op");
  float xf[3] = {1, std::nanf(""), 2};
  float yf[2];
  ctx.Check(!LinearDynamicF32(*lw, xf, 1, false, false, yf).ok(), "NaN input to the dynamic linear must be an error");
}

}  // namespace
}  // namespace test
}  // namespace qk
