// Quantized mean (QTensor.mean) and concatenation (torch.cat of quantized tensors) as prepared ops: PyTorch 1.13's arithmetic on 8-bit storage.
//
// MeanOp computes the three paths of base/params-reduce.h MeanMode exactly as torch 1.13 does
// (doc/numerics.md "mean"); lib/qtensor.ts decides the path and makes the input dense in the
// layout the path reads. ConcatOp requantizes and joins dense rows in one pass: each input's
// bytes go through its 256-entry requantization tables (the elementwise family's lookup kernel),
// or are copied where the table is the identity. Mean has no microkernel: its sums are one pass
// over the input in memory order (rows averaged whole, an NCHW input over its spatial dims, 8
// bytes per step in a 64-bit word's 16-bit lanes, with the divisions in SIMD fp32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/params-reduce.h"
#include "ops/elementwise.h"
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
  // kIntegers: one int64 sum per output (none on the rows path); kChannelsLastFloat: the dequantized input and the means.
  size_t scratch_bytes() const override { return scratch_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  MeanParams p_;
  size_t numel_ = 0, out_numel_ = 0, count_ = 0, scratch_bytes_ = 0;
  // kQnnpackGlobal / kChannelsLastFloat: batch, channels (the spatial size is count_).
  size_t batch_ = 0, channels_ = 0;
  // kIntegers over whole rows of contiguous values (rows_ rows of row_count_): no scratch.
  bool rows_path_ = false;
  size_t rows_ = 0, row_count_ = 0;
};

class ConcatOp final : public Op {
 public:
  // RangeError naming the parameter: no inputs or too many, sizes whose product overflows,
  // a vector length beyond its row, or bad qparams.
  static Status Prepare(const ConcatParams& params, std::shared_ptr<const ConcatOp>* out);

  const char* name() const override { return "cat"; }
  size_t input_count() const override { return count_; }
  size_t input_bytes(size_t i) const override { return input_bytes_[i]; }
  size_t output_bytes() const override { return output_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  // What Run reads of the params, not the params themselves: ConcatParams holds 16 lookup specs
  // (1.4 KB), and an eager cat prepares an op per call, so the op stays a few hundred bytes.
  size_t rows_ = 0, count_ = 0;
  size_t row_bytes_[kMaxConcatInputs] = {};
  size_t vector_bytes_[kMaxConcatInputs] = {};
  size_t input_bytes_[kMaxConcatInputs] = {};
  // Per input: the tail and the vector formula's tables (identity: a copy), shared with every op
  // of the same requantization (SharedLookupTables); set for the first count_ inputs only.
  std::shared_ptr<const LookupTables> tables_[kMaxConcatInputs];
  size_t output_bytes_ = 0;
};

}  // namespace qk
