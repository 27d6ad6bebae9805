// Quantized normalization operators: batch norm (optionally fused with ReLU), and layer / group / instance norm.
//
// Numerics (PyTorch 1.13 on x86, checked against the Debian build by test/norm-*.test.ts):
//   batch norm (qbatch_norm.cpp's compute_fused_params, then the AVX2 kernel):
//     inv_sigma = float(1.0 / double(sqrtf(var[c] + float(eps))))
//     alpha[c]  = float(double(inv_sigma * weight[c]) * (x_scale / y_scale))
//     beta[c]   = float(double(bias[c] - mean[c] * inv_sigma * weight[c]) / y_scale)
//     y         = clamp(nearbyint(fma(alpha[c], float(q - x_zp), beta[c])) + y_zp)   (the kernel's formula;
//                 see ukernels/pool-norm/pool-norm.h). ReLU raises the lower clamp to y_zp.
//     PyTorch always writes channels last (NHWC / NDHWC); so does this op.
//   layer / group / instance norm (quantized_normalize_kernel): per group of N elements,
//     integer sums S = sum q, Q = sum q^2 (int64),
//     m  = float(S) / float(N)                    mean of q
//     md = m - float(x_zp)                        mean of the centred values
//     v  = max(fma(-m, m, float(Q) / float(N)), 0) variance of q, in fp32 (GCC fused it in torch's build)
//     s  = float(double(x_scale) / sqrt(double(v * x_scale * x_scale) + eps))
//     per element, d = float(q) - float(x_zp):
//       layer norm:  t = ((d - md) * s) * gamma[i] + beta[i]        (elementwise affine)
//       group norm:  t = (d - md) * (s * gamma[c]) + beta[c]        (per-channel affine)
//     y = clamp(nearbyint(t * (1.0f / float(y_scale))) + y_zp)
//     The last multiply-add of t is one fused operation, as GCC contracts it in PyTorch's
//     AVX2 build (see kFusedAffine in norm.cc and the tests that pin it).
//   Input and output of layer/group/instance norm are contiguous (PyTorch calls .contiguous()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/params-pool-norm.h"  // BatchNormArgs, NormalizeArgs
#include "base/status.h"
#include "ops/op.h"
#include "ops/quantize.h"

namespace qk {

// The prepared batch norm (ops/op.h): the fused per-channel parameters are computed once, at
// Prepare, and an NCHW input is staged channels last in the scratch, so a run allocates nothing.
// y is channels last (N, spatial, C).
class BatchNormOp final : public Op {
 public:
  // args' arrays are read during Prepare only.
  static Status Prepare(const BatchNormArgs& args, QDType dtype, std::shared_ptr<const BatchNormOp>* out);

  const char* name() const override { return "batch_norm"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return numel_; }
  size_t output_bytes() const override { return numel_; }
  size_t scratch_bytes() const override { return channels_last_input_ ? 0 : numel_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  BatchNormOp() = default;

  QDType dtype_ = QDType::kQUInt8;
  size_t batch_ = 0, channels_ = 0, spatial_ = 0, numel_ = 0;
  bool channels_last_input_ = false;
  bool relu_ = false;
  int32_t x_zero_point_ = 0, y_zero_point_ = 0;
  std::vector<float> alpha_, beta_;
};

// The prepared layer / group / instance norm: arguments checked and the affine arrays copied
// (the op owns them) at Prepare.
class NormalizeOp final : public Op {
 public:
  // args' gamma and beta are copied during Prepare.
  static Status Prepare(const NormalizeArgs& args, QDType dtype, std::shared_ptr<const NormalizeOp>* out);

  const char* name() const override { return args_.per_channel ? "group_norm" : "layer_norm"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return numel_; }
  size_t output_bytes() const override { return numel_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  NormalizeOp() = default;

  NormalizeArgs args_;  // gamma / beta point into the vectors below (or are null)
  QDType dtype_ = QDType::kQUInt8;
  size_t numel_ = 0;
  std::vector<float> gamma_, beta_;
};

// One call: Prepare, the buffers checked, Run with scratch of its own (the C++ tests' entry points).
Status BatchNorm(const BatchNormArgs& args, QDType dtype, const void* x, size_t x_bytes, void* y, size_t y_bytes);

// The fused per-channel parameters, exactly as the op computes them (exposed for the reference).
void BatchNormFusedParams(const BatchNormArgs& args, float* alpha, float* beta);

Status Normalize(const NormalizeArgs& args, QDType dtype, const void* x, size_t x_bytes, void* y, size_t y_bytes);

}  // namespace qk
