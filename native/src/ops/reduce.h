// Quantized mean (QTensor.mean) and concatenation (torch.cat of quantized tensors) as prepared ops: PyTorch 1.13's arithmetic on 8-bit storage.
//
// MeanOp computes the three paths of base/params-reduce.h MeanMode exactly as torch 1.13 does
// (doc/numerics.md "mean"); lib/qtensor.ts decides the path and makes the input dense in the
// layout the path reads. ConcatOp joins dense rows (lib requantizes each input to the output's
// qparams first, as torch's quantized cat does); neither has a microkernel: mean's sums are one
// pass over the input in memory order and cat is memcpy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/params-reduce.h"
#include "ops/op.h"

namespace qk {

class MeanOp final : public Op {
 public:
  // RangeError naming the parameter: dtype, rank, sizes, qparams, or a mode whose layout
  // conditions (rank, reduced dims) do not hold.
  static Status Prepare(const MeanParams& params, std::shared_ptr<const MeanOp>* out);

  const char* name() const override { return "mean"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return numel_; }
  size_t output_bytes() const override { return out_numel_; }
  // kIntegers: one int64 sum per output; kChannelsLastFloat: the dequantized input and the means.
  size_t scratch_bytes() const override { return scratch_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  MeanParams p_;
  size_t numel_ = 0, out_numel_ = 0, count_ = 0, scratch_bytes_ = 0;
  // kQnnpackGlobal / kChannelsLastFloat: batch, channels (the spatial size is count_).
  size_t batch_ = 0, channels_ = 0;
};

class ConcatOp final : public Op {
 public:
  // RangeError naming the parameter: no inputs or too many, or sizes whose product overflows.
  static Status Prepare(const ConcatParams& params, std::shared_ptr<const ConcatOp>* out);

  const char* name() const override { return "cat"; }
  size_t input_count() const override { return p_.count; }
  size_t input_bytes(size_t i) const override { return input_bytes_[i]; }
  size_t output_bytes() const override { return output_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  ConcatParams p_;
  size_t input_bytes_[kMaxConcatInputs] = {};
  size_t out_row_bytes_ = 0, output_bytes_ = 0;
};

}  // namespace qk
