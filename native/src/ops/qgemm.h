// Quantized GEMM y = a * w^T (quint8 activations, qint8 weights): packed weights per ISA and the op entry points.
//
// Numerics (DESIGN §2), identical on every ISA and thread count:
//   acc = sum_k (a[i][k] - a_zp)(w[j][k] - w_zp[j])     int32, wrapping modulo 2^32
//         (exact whenever the true sum fits in int32, e.g. any k <= 33025)
//   raw = float(acc) + bias[j] / (a_scale * w_scale[j])                 fp32, product first
//   t   = raw * ((a_scale * w_scale[j]) / y_scale)                      fp32
//   y   = clamp(round_half_even(t) + y_zp, y_min, y_max)
// The clamp happens in float before the conversion (ukernels/gemm/requant-scalar.h), so every
// float has a defined result: NaN gives y_min, +-Inf and huge values give y_max / y_min.
// ReLU fusion is y_min = y_zp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/isa.h"
#include "base/status.h"
#include "ukernels/dispatch.h"

namespace qk {

// Rough single-core costs for ParallelFor's minimum-work test (base/threadpool.h): int8
// multiply-adds and bytes moved per nanosecond, of the order of the SIMD paths'. They only
// decide whether a region is worth a second thread, never what it computes.
constexpr double kMacsPerNs = 64;
constexpr double kBytesPerNs = 8;

// Weights of y = a * w^T with w as [n][k] int8 rows (PyTorch's Linear weight layout: out x in).
struct GemmWeightsDesc {
  size_t n = 0, k = 0;
  const int8_t* w = nullptr;              // [n][k], row-major
  const int32_t* w_zero_points = nullptr; // n values (per-tensor callers repeat the one value)
};

// Immutable packed weights for ONE ISA level's kernel layout (with the column sums that the
// zero-point correction needs). The layout of each kernel is documented in doc/gemm.md and
// native/src/pack/gemm-pack.h.
class PackedGemm;

// Packs for `isa` (must be a level the CPU runs); the op functions below check that the pack
// matches the ISA whose kernels they use.
Status PackGemm(const GemmWeightsDesc& desc, Isa isa, std::shared_ptr<const PackedGemm>* out);

// Keeps the original int8 weights and packs lazily, once per ISA level, for the level in force
// (ActiveIsa(), which backend.setMaxIsa changes at run time). Thread-safe.
class GemmWeights {
 public:
  static Status Create(const GemmWeightsDesc& desc, std::shared_ptr<GemmWeights>* out);  // copies w
  size_t n() const { return n_; }
  size_t k() const { return k_; }
  Status PackedForActiveIsa(std::shared_ptr<const PackedGemm>* out) const;
  // The pack for one given level (which the CPU must run); used by tests and benchmarks.
  Status PackedFor(Isa isa, std::shared_ptr<const PackedGemm>* out) const;

 private:
  size_t n_ = 0, k_ = 0;
  std::vector<int8_t> w_;
  std::vector<int32_t> w_zero_points_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const PackedGemm> packs_[kIsaCount];
};

// The output stage of DESIGN §2, fused in the kernel epilogue:
//   acc = sum_k (a - a_zp)(w - w_zp[j])                                   int32
//   raw = float(acc) + bias[j] / (a_scale * w_scale[j])                   fp32, product first
//   y   = clamp(round_half_even(raw * ((a_scale * w_scale[j]) / y_scale)) + y_zp, y_min, y_max)
// (ReLU fusion: y_min = y_zp.) NaN gives y_min; see the file comment.
// Engines (the engine field, EngineNumerics of the engine in force when the op was called) change
// the constants of that stage (OutputStageFor below; doc/numerics.md):
//   fbgemm:  as above.
//   qnnpack: qb = nearbyint(bias[j] * (1.0f / float(w_scale64[j] * a_scale64)))      int32
//            t = float(acc + qb) * ((w_scale[j] * a_scale) * (1.0f / y_scale))
//            y = clamp(round_half_even(t) + y_zp, y_min, y_max)
//   onednn:  s = float(1 / a_scale64) * wei[j]                         (oneDNN's reciprocal scales)
//            wei[j] = 1.0f / float(w_scale64[j]) per channel (fp32 division), float(1 / w_scale64)
//            per tensor (ideep prepack in torch 1.13 qconv_prepack.cpp / qlinear_prepack.cpp)
//            t = (float(acc) + bias[j] * s) * (float(1 / y_scale64) / s)   conv and linear alike
//            y = clamp(round_half_even(max(t, y_min - y_zp) + float(y_zp)), y_min, y_max)
//            (the zero point is added in fp32 BEFORE rounding, so ties round differently)
// The doubles are the scales as PyTorch keeps them; 0 / nullptr means "the float field widened".
struct OutputStage;
struct GemmRequant {
  float a_scale = 1; int32_t a_zero_point = 0;
  const float* w_scales = nullptr;  // n values
  const float* bias = nullptr;      // n values or nullptr
  float y_scale = 1; int32_t y_zero_point = 0;
  int32_t y_min = 0, y_max = 255;
  QEngine engine = QEngine::kFbgemm;
  double a_scale_f64 = 0, y_scale_f64 = 0;
  const double* w_scales_f64 = nullptr;  // n values or nullptr
  bool w_per_channel = false;  // per-channel weight qparams (onednn inverts such scales in fp32)
  // The per-column constants of this very stage, made once by MakeOutputStage, or null (then
  // each call makes them: n OutputStageFor calls with their divisions, on every call).
  const OutputStage* stage = nullptr;
};

// One output column's constants of the u8 output stage (GemmU8Params / DwconvU8Params) for
// rq.engine; y_zero_point_f / y_zero_point of the stage come from OutputZeroPoints.
struct OutputStageColumn {
  int32_t bias_int;
  float bias_term, multiplier;
};
OutputStageColumn OutputStageFor(const GemmRequant& rq, size_t j);
void OutputZeroPoints(const GemmRequant& rq, float* y_zero_point_f, int32_t* y_zero_point);

// OutputStageFor of every column of an n-column GEMM, as the kernels read them (one array per
// constant), zero-padded to a whole number of blocks of any layout's NR. An op that runs the
// same stage on every call (a prepared LinearOp) makes it once and points GemmRequant::stage at it.
struct OutputStage {
  std::vector<int32_t> bias_int;
  std::vector<float> bias_term, multiplier;
};
OutputStage MakeOutputStage(const GemmRequant& rq, size_t n);

// y[i*ldy + j] for i < m, j < n (quint8). Splits (m, n) tiles over the thread pool; when called
// inside a ParallelFor task it runs inline. Output identical for any thread count and ISA.
// Checks: lda >= k, ldy >= n, a_zero_point and y_zero_point in [0, 255], 0 <= y_min <= y_max <= 255,
// scales finite and > 0; null buffers only when m or n is 0.
Status QGemmU8(const GemmWeights& w, size_t m, const uint8_t* a, size_t lda, const GemmRequant& rq,
               uint8_t* y, size_t ldy);
// fp32 output for dynamic linear: y = float(acc) * (a_scale * w_scale[j]) + bias[j]
// (+ ReLU when relu: max(y, 0)), each step one fp32 rounding in that order (the product
// a_scale * w_scale[j] first). See doc/gemm.md for how this relates to PyTorch.
Status QGemmF32(const GemmWeights& w, size_t m, const uint8_t* a, size_t lda, float a_scale,
                int32_t a_zero_point, const float* w_scales, const float* bias, bool relu,
                float* y, size_t ldy);

// Same as above with an explicit pack (tests and benchmarks force a kernel this way).
Status QGemmU8Packed(const PackedGemm& packed, size_t m, const uint8_t* a, size_t lda, const GemmRequant& rq,
                     uint8_t* y, size_t ldy);
Status QGemmF32Packed(const PackedGemm& packed, size_t m, const uint8_t* a, size_t lda, float a_scale,
                      int32_t a_zero_point, const float* w_scales, const float* bias, bool relu, float* y,
                      size_t ldy);

}  // namespace qk
