// Quantized softmax (torch.ops.quantized.softmax, nnq.Softmax) as a prepared op: PyTorch 1.13's non-QNNPACK formula on 8-bit storage.
//
// Per column (outer o, inner i) along the softmax dim of length `size`, with x contiguous as
// [outer][size][inner]:
//   v[k] = float(x_scale) * float(q[k] - x_zp)              dequantize
//   m    = max_k v[k]                                        (= v at the largest q: scale > 0)
//   e[k] = float(exp(double(v[k] - m)))                      the fp32 difference, exp rounded to fp32
//   sum  = e[0] + e[1] + ... in index order, in fp32
//   y[k] = quantize(inner == 1 ? e[k] * (1 / sum) : e[k] / sum, y_scale, y_zp)
// ATen multiplies by the reciprocal along the last dim and divides along the others; its exp is
// SLEEF's (<= 1 ulp) and its sum is vectorized, so a value on a rounding boundary can differ from
// PyTorch's by 1 quantum. The last line is the microkernel (ukernels/softmax), the same bytes on
// every ISA; the rest is scalar code here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/op.h"
#include "ops/quantize.h"

namespace qk {

struct SoftmaxParams;  // ukernels/softmax/softmax.h

struct SoftmaxOpParams {
  QDType dtype = QDType::kQUInt8;  // quint8 or qint8, the input's and the output's
  size_t outer = 1, size = 1, inner = 1;
  double x_scale = 1;
  int64_t x_zero_point = 0;
  double y_scale = 1;
  int64_t y_zero_point = 0;
  // For an op prepared once and run many times (a traced plan's step): Prepare takes the exps of
  // every (value, column maximum) pair of this input quantization from a table shared by the ops
  // of that quantization (32,896 floats, made by the first such Prepare), so a run computes none.
  bool exp_table = false;
};

class SoftmaxOp final : public Op {
 public:
  // RangeError naming the parameter for a dtype other than quint8 / qint8, bad qparams or sizes.
  static Status Prepare(const SoftmaxOpParams& params, std::shared_ptr<const SoftmaxOp>* out);

  const char* name() const override { return "softmax"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return numel_; }
  size_t output_bytes() const override { return numel_; }
  // One [size][inner] block of exponentials, and the inner sums.
  size_t scratch_bytes() const override { return scratch_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  SoftmaxOpParams params_;
  size_t numel_ = 0, scratch_bytes_ = 0;
  std::shared_ptr<const std::vector<float>> exp_table_;  // params_.exp_table: see softmax.cc's SharedExpTable
};

}  // namespace qk
