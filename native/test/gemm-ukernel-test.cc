// GEMM microkernel tests: every registered kernel pair, forced in turn, against the reference with tolerance 0.
//
// Each kernel runs on its own pack (PackedGemm for its layout) and A panel, tile by tile as the
// op calls it, over m = 1..MR, n = 1..NR and n across several blocks with tails, K below, at
// and above KR and odd, extreme zero points, saturation-edge weights, bias/relu/clamp variants,
// outputs with row gaps and guard bytes filled with a sentinel.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "gemm-tester.h"
#include "harness.h"
#include "pack/gemm-pack.h"
#include "reference/gemm-ref.h"
#include "ukernels/gemm/requant-scalar.h"

namespace qk {
namespace test {
namespace {

// A problem packed for one kernel layout: the pack, the A panel and its row terms.
// A kPairProof kernel is exact only under its proof, which the op checks per call (the fallback
// is tested in gemm-ops-test.cc): for weights whose pairs are not safe it runs here on the same
// problem with 7-bit activations (a & 127); safe weights keep the full activation range.
struct KernelInput {
  std::shared_ptr<const PackedGemm> packed;
  GemmProblem p;
  size_t row_bytes = 0;
  std::vector<uint8_t> panel;
  std::vector<int32_t> row_terms;
};

bool PrepareKernelInput(Context& ctx, const GemmLayout& l, const GemmProblem& problem, KernelInput* in) {
  const Status st = PackedGemm::Create(l, problem.n, problem.k, problem.w.data(), problem.w_zp.data(), &in->packed);
  if (!ctx.Check(st.ok(), "pack failed: " + st.message())) return false;
  in->p = problem;
  if (l.exactness == GemmExactness::kPairProof && !in->packed->pairs_safe()) {
    for (uint8_t& v : in->p.a) v &= 0x7F;
  }
  in->row_bytes = in->packed->a_row_bytes();
  in->panel.resize(in->p.m * in->row_bytes);
  in->row_terms.resize(in->p.m);
  PackGemmA(*in->packed, in->p.m, in->p.a.data(), in->p.lda, in->p.a_zp, in->panel.data(), in->row_terms.data());
  return true;
}

// Runs both kernels of `l` over the whole problem, tile by tile, and compares with the reference.
bool RunKernels(Context& ctx, const GemmLayout& l, const GemmProblem& problem) {
  KernelInput in;
  if (!PrepareKernelInput(ctx, l, problem, &in)) return false;
  const GemmProblem& p = in.p;
  const PackedGemm* packed = in.packed.get();

  const size_t padded = packed->blocks() * l.nr;
  std::vector<float> bias_term(padded, 0.0f), multiplier(padded, 0.0f), scale(padded, 0.0f);
  const std::vector<int32_t> bias_int(padded, 0);  // fbgemm's stage (the engines: gemm-ops-test.cc)
  for (size_t j = 0; j < p.n; ++j) {
    const float s = p.a_scale * p.w_scales[j];
    bias_term[j] = p.bias.empty() ? 0.0f : p.bias[j] / s;
    multiplier[j] = s / p.y_scale;
    scale[j] = s;
  }
  const size_t ldy = p.n + 3;
  const size_t total = p.m * ldy + 16;  // 16 guard elements after the last row
  std::vector<uint8_t> y(total, kGemmSentinel);
  std::vector<float> yf(total, kGemmF32Sentinel);
  for (size_t b = 0; b < packed->blocks(); ++b) {
    const size_t n0 = b * l.nr, nc = std::min(l.nr, p.n - n0);
    const GemmU8Params u8{p.a_zp,
                          bias_int.data() + n0,
                          bias_term.data() + n0,
                          multiplier.data() + n0,
                          static_cast<float>(p.y_min - p.y_zp),
                          static_cast<float>(p.y_max - p.y_zp),
                          0.0f,
                          p.y_zp};
    const GemmF32Params f32{p.a_zp, scale.data() + n0, p.bias.empty() ? nullptr : p.bias.data() + n0, p.relu};
    for (size_t i = 0; i < p.m; i += l.mr) {
      const size_t mr = std::min(l.mr, p.m - i);
      l.u8_kernel(mr, nc, packed->kpad(), in.panel.data() + i * in.row_bytes, in.row_bytes, in.row_terms.data() + i,
                  packed->block(b), y.data() + i * ldy + n0, ldy, &u8);
      l.f32_kernel(mr, nc, packed->kpad(), in.panel.data() + i * in.row_bytes, in.row_bytes, in.row_terms.data() + i,
                   packed->block(b), yf.data() + i * ldy + n0, ldy, &f32);
    }
  }
  return CheckGemmU8(ctx, l.u8_name, p, y, ldy) && CheckGemmF32(ctx, l.f32_name, p, yf, ldy);
}

// The engines' constants of the u8 output stage (ops/qgemm.h): qnnpack's int32 bias (added
// before the conversion, wrapping) or onednn's fp32 zero point (added before rounding), per
// column, against the scalar stage RequantizeGemmValue on the reference accumulators. With
// `split` the zero point is added half in fp32, half after rounding: no engine's form, so the
// AVX-512 tiles take their general epilogue instead of the lean one (tile-avx512.h).
bool RunEngineStage(Context& ctx, const GemmLayout& l, const GemmProblem& problem, Random& rng, bool qnnpack,
                    bool split = false) {
  KernelInput in;
  if (!PrepareKernelInput(ctx, l, problem, &in)) return false;
  const GemmProblem& p = in.p;
  const PackedGemm* packed = in.packed.get();
  const size_t padded = packed->blocks() * l.nr;
  std::vector<int32_t> bias_int(padded, 0);
  std::vector<float> bias_term(padded, 0.0f), multiplier(padded, 0.0f);
  for (size_t j = 0; j < p.n; ++j) {
    if (qnnpack) bias_int[j] = static_cast<int32_t>(rng.Int(-200000, 200000));
    if (!qnnpack) bias_term[j] = static_cast<float>(rng.Uniform(-3e4, 3e4));
    multiplier[j] = static_cast<float>(rng.LogUniform(-5.5, -2.5));
  }
  const float lo = static_cast<float>(p.y_min - p.y_zp), hi = static_cast<float>(p.y_max - p.y_zp);
  float y_zp_f = qnnpack ? 0.0f : static_cast<float>(p.y_zp);
  int32_t y_zp_i = qnnpack ? p.y_zp : 0;
  if (split) {
    y_zp_f = static_cast<float>(p.y_zp / 2);
    y_zp_i = p.y_zp - p.y_zp / 2;
  }
  const size_t ldy = p.n + 3;
  std::vector<uint8_t> y(p.m * ldy + 16, kGemmSentinel);
  for (size_t b = 0; b < packed->blocks(); ++b) {
    const size_t n0 = b * l.nr, nc = std::min(l.nr, p.n - n0);
    const GemmU8Params u8{p.a_zp, bias_int.data() + n0, bias_term.data() + n0, multiplier.data() + n0, lo, hi, y_zp_f, y_zp_i};
    for (size_t i = 0; i < p.m; i += l.mr) {
      l.u8_kernel(std::min(l.mr, p.m - i), nc, packed->kpad(), in.panel.data() + i * in.row_bytes, in.row_bytes,
                  in.row_terms.data() + i, packed->block(b), y.data() + i * ldy + n0, ldy, &u8);
    }
  }
  std::vector<int32_t> acc(p.m * p.n);
  ref::GemmAcc(p.m, p.n, p.k, p.a.data(), p.lda, p.a_zp, p.w.data(), p.w_zp.data(), acc.data());
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t j = 0; j < ldy; ++j) {
      const uint8_t want = j < p.n ? static_cast<uint8_t>(RequantizeGemmValue(acc[i * p.n + j], bias_int[j], bias_term[j],
                                                                           multiplier[j], lo, hi, y_zp_f, y_zp_i))
                                   : kGemmSentinel;
      if (y[i * ldy + j] != want) {
        ctx.Fail(std::string(l.u8_name) + (split ? " split" : qnnpack ? " qnnpack" : " onednn") + " stage, " + p.Describe() + ": row " +
                 std::to_string(i) + " column " + std::to_string(j) + " got " + std::to_string(y[i * ldy + j]) +
                 ", expected " + std::to_string(want));
        return false;
      }
    }
  }
  return true;
}

void TestLayout(Context& ctx, const GemmLayout& l) {
  if (!Applies(ctx, l.isa)) return;
  Random rng(0x6E3A + l.mr * 131 + l.nr * 7 + l.kr);
  int variant = 0;
  // Every tile shape, at two depths (one of them odd and not a multiple of KR).
  for (size_t m = 1; m <= l.mr; ++m) {
    for (size_t n = 1; n <= l.nr; ++n) {
      for (size_t k : {l.kr * 2 + 1, size_t{13}}) {
        if (!RunKernels(ctx, l, MakeGemmProblem(rng, m, n, k, variant++))) return;
      }
    }
  }
  // Depth sweep (below, at, above KR and the vector widths; odd) with full and tail tiles over
  // several column blocks.
  const size_t depths[] = {1, 2, 3, l.kr - 1 == 0 ? 4 : l.kr - 1, l.kr, l.kr + 1, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 513};
  for (size_t k : depths) {
    for (size_t shape = 0; shape < 3; ++shape) {
      const size_t m = shape == 0 ? l.mr : shape == 1 ? 2 * l.mr + 1 : 1;
      const size_t n = shape == 0 ? l.nr : shape == 1 ? 2 * l.nr + 3 : 3 * l.nr - 1;
      if (!RunKernels(ctx, l, MakeGemmProblem(rng, m, n, k, variant++))) return;
    }
  }
  // Every weight pattern and zero-point combination at one shape.
  for (int v = 0; v < 84; ++v) {
    if (!RunKernels(ctx, l, MakeGemmProblem(rng, l.mr + 1, l.nr + 1, 37, v))) return;
  }
  // The qnnpack and onednn constants of the output stage, at tile and multi-block shapes.
  for (int v = 0; v < 24; ++v) {
    const size_t m = v % 3 == 0 ? l.mr : v % 3 == 1 ? 1 : 2 * l.mr + 1;
    const size_t n = v % 4 == 0 ? l.nr : v % 4 == 1 ? 1 : 2 * l.nr + 3;
    if (!RunEngineStage(ctx, l, MakeGemmProblem(rng, m, n, 17 + v, v), rng, v % 2 == 0, v % 6 == 5)) return;
  }
}

// Non-finite output stages: NaN/Inf bias terms and huge multipliers must follow the reference.
void TestSpecials(Context& ctx, const GemmLayout& l) {
  if (!Applies(ctx, l.isa)) return;
  Random rng(99);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 3e38f, -3e38f, 2.5f, -2.5f, 0.5f};
  for (int v = 0; v < 8; ++v) {
    GemmProblem p = MakeGemmProblem(rng, l.mr, 2 * l.nr, 9, 2 * v + 1);
    for (size_t j = 0; j < p.n; ++j) p.bias[j] = specials[(j + v) % 8];
    if (v % 2 == 0) p.y_scale = 1e-30f;  // every multiplier huge: clamps
    if (!RunKernels(ctx, l, p)) return;
  }
}

// The indirect kernel of a layout (IgemmU8Fn) on the compact problem p (k = segments * len):
// row i's run s holds a[i][s * len, s * len + len) in its own heap block of segment_bytes values
// (len rounded up to 4; in the layout's A format, int16 for kS16; the bytes past len are 0xEE and
// meet zero weights in the spread pack),
// the row terms those of the compact rows; compared with the reference, tolerance 0.
// strided: the layout's strided kernel (IgemmStridedU8Fn) instead, all runs in one block, row i's
// run s at s * segment_bytes + i * a_stride with a_stride = segments * segment_bytes + 5 (gaps of
// 0xEE between rows, never read).
bool RunIndirect(Context& ctx, const GemmLayout& l, const GemmProblem& problem, size_t segments,
                 bool strided = false) {
  const size_t len = problem.k / segments, segment_bytes = RoundUp(len, 4);
  std::vector<int8_t> spread(problem.n * segments * segment_bytes, 0);
  for (size_t j = 0; j < problem.n; ++j) {
    for (size_t s = 0; s < segments; ++s) {
      std::copy_n(problem.w.begin() + j * problem.k + s * len, len,
                  spread.begin() + (j * segments + s) * segment_bytes);
    }
  }
  std::shared_ptr<const PackedGemm> packed;
  const Status st =
      PackedGemm::Create(l, problem.n, segments * segment_bytes, spread.data(), problem.w_zp.data(), &packed);
  if (!ctx.Check(st.ok(), "spread pack failed: " + st.message())) return false;
  // A kPairProof kernel runs under a proof: its spread pairs (not the compact ones) safe, or 7-bit a.
  GemmProblem proven = problem;
  if (l.exactness == GemmExactness::kPairProof && !packed->pairs_safe()) {
    for (uint8_t& v : proven.a) v &= 0x7F;
  }
  KernelInput in;
  if (!PrepareKernelInput(ctx, l, proven, &in)) return false;  // the compact row terms
  const GemmProblem& p = in.p;
  // A kS16 layout's runs hold int16 values (the conv op's widened input), the others' bytes.
  const bool wide = l.a_format == GemmAFormat::kS16;
  std::vector<std::vector<uint8_t>> runs(p.m * segments);
  std::vector<const uint8_t*> pointers(p.m * segments);
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t s = 0; s < segments; ++s) {
      std::vector<uint8_t>& run = runs[i * segments + s];
      run.assign(segment_bytes * (wide ? 2 : 1), 0xEE);
      for (size_t t = 0; t < len; ++t) {
        const uint8_t v = p.a[i * p.lda + s * len + t];
        if (wide) {
          const int16_t v16 = v;
          std::memcpy(run.data() + 2 * t, &v16, 2);
        } else {
          run[t] = v;
        }
      }
      pointers[i * segments + s] = run.data();
    }
  }
  const size_t a_stride = segments * segment_bytes + 5;
  std::vector<uint8_t> block(strided ? p.m * a_stride : 0, 0xEE);
  std::vector<const uint8_t*> starts(segments);
  if (strided) {
    for (size_t i = 0; i < p.m; ++i) {
      for (size_t s = 0; s < segments; ++s) {
        const std::vector<uint8_t>& run = runs[i * segments + s];
        std::copy(run.begin(), run.end(), block.begin() + i * a_stride + s * segment_bytes);
      }
    }
  }
  const size_t padded = packed->blocks() * l.nr;
  std::vector<float> bias_term(padded, 0.0f), multiplier(padded, 0.0f);
  const std::vector<int32_t> bias_int(padded, 0);
  for (size_t j = 0; j < p.n; ++j) {
    const float scale = p.a_scale * p.w_scales[j];
    bias_term[j] = p.bias.empty() ? 0.0f : p.bias[j] / scale;
    multiplier[j] = scale / p.y_scale;
  }
  const size_t ldy = p.n + 3;
  std::vector<uint8_t> y(p.m * ldy + 16, kGemmSentinel);
  for (size_t b = 0; b < packed->blocks(); ++b) {
    const size_t n0 = b * l.nr, nc = std::min(l.nr, p.n - n0);
    const GemmU8Params u8{p.a_zp, bias_int.data() + n0, bias_term.data() + n0, multiplier.data() + n0,
                          static_cast<float>(p.y_min - p.y_zp), static_cast<float>(p.y_max - p.y_zp), 0.0f, p.y_zp};
    for (size_t i = 0; i < p.m; i += l.mr) {
      if (strided) {
        for (size_t s = 0; s < segments; ++s) starts[s] = block.data() + i * a_stride + s * segment_bytes;
        l.igemm_strided_kernel(std::min(l.mr, p.m - i), nc, segments, segment_bytes, starts.data(), a_stride,
                               in.row_terms.data() + i, packed->block(b), y.data() + i * ldy + n0, ldy, &u8);
        continue;
      }
      l.igemm_kernel(std::min(l.mr, p.m - i), nc, segments, segment_bytes, pointers.data() + i * segments,
                     in.row_terms.data() + i, packed->block(b), y.data() + i * ldy + n0, ldy, &u8);
    }
  }
  return CheckGemmU8(ctx, std::string(strided ? l.igemm_strided_name : l.igemm_name) + " segments=" +
                              std::to_string(segments), p, y, ldy);
}

// Every tile shape and run length 1..9 (every remainder of 4), several runs, blocks with tails,
// and the weight patterns and zero points of MakeGemmProblem; strided: through the strided kernel.
void TestIndirect(Context& ctx, const GemmLayout& l, bool strided) {
  if (!Applies(ctx, l.isa)) return;
  Random rng(0x16E3 + l.mr);
  int variant = 0;
  for (size_t m = 1; m <= l.mr; ++m) {
    for (size_t n : {size_t{1}, l.nr - 1, l.nr, 2 * l.nr + 3}) {
      for (size_t len = 1; len <= 9; ++len) {
        const size_t segments = 1 + (m + len) % 4;
        if (!RunIndirect(ctx, l, MakeGemmProblem(rng, m, n, segments * len, variant++), segments, strided)) return;
      }
    }
  }
  for (size_t len : {size_t{16}, size_t{27}, size_t{48}, size_t{64}, size_t{192}}) {
    for (size_t segments : {size_t{1}, size_t{3}, size_t{9}}) {
      if (!RunIndirect(ctx, l, MakeGemmProblem(rng, 2 * l.mr + 1, 2 * l.nr + 5, segments * len, variant++), segments,
                       strided)) {
        return;
      }
    }
  }
}

const bool kRegistered = [] {
  for (size_t i = 0; i < GemmLayoutCount(); ++i) {
    const GemmLayout& l = GemmLayoutAt(i);
    RegisterTest(Mode::kIsa, std::string("gemm/") + l.u8_name, [i](Context& ctx) { TestLayout(ctx, GemmLayoutAt(i)); });
    RegisterTest(Mode::kIsa, std::string("gemm/specials/") + l.u8_name,
                 [i](Context& ctx) { TestSpecials(ctx, GemmLayoutAt(i)); });
    if (l.igemm_kernel != nullptr) {
      RegisterTest(Mode::kIsa, std::string("gemm/") + l.igemm_name,
                   [i](Context& ctx) { TestIndirect(ctx, GemmLayoutAt(i), false); });
    }
    if (l.igemm_strided_kernel != nullptr) {
      RegisterTest(Mode::kIsa, std::string("gemm/") + l.igemm_strided_name,
                   [i](Context& ctx) { TestIndirect(ctx, GemmLayoutAt(i), true); });
    }
  }
  return true;
}();

}  // namespace
}  // namespace test
}  // namespace qk
