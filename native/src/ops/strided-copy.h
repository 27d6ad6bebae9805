// Strided copy as a prepared op: every element of an N-d index box copied from a source layout (any strides, 0 broadcasts) to a destination layout.
//
// For every index i of `shape`: dst[sum_d i_d * dst_strides[d]] = src[sum_d i_d * src_strides[d]],
// strides in elements of `element_bytes` bytes. This is what lib/shape.ts's stridedCopy does in JS
// (contiguous(), broadcast operands, cat, matmul's batch broadcast); Prepare checks that every
// offset the box reaches lies inside both buffers, so a bad stride is a RangeError naming it and
// never a read or write out of bounds. Run visits the dims in the destination's memory order,
// merged where both layouts step over neighbours as one dim, with the innermost one specialised:
// a run contiguous on both sides is one memmove, a broadcast source a fill, a source contiguous
// along an outer dim a tiled transpose, anything else a strided loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "ops/op.h"

namespace qk {

constexpr size_t kMaxStridedCopyRank = 8;

struct StridedCopyParams {
  size_t element_bytes = 1;  // 1, 2, 4 or 8
  size_t rank = 0;           // <= kMaxStridedCopyRank; 0 copies one element
  int64_t shape[kMaxStridedCopyRank] = {};
  int64_t src_strides[kMaxStridedCopyRank] = {};  // elements; any sign, 0 broadcasts
  int64_t dst_strides[kMaxStridedCopyRank] = {};
  size_t src_length = 0;  // elements in each buffer: every offset must fall inside
  size_t dst_length = 0;
};

// The layout lib sends as one Float64Array: [rank, shape[0..rank), srcStrides[0..rank),
// dstStrides[0..rank)], every value an integer exact in a double. Fills params' rank, shape and
// strides (Prepare checks the offsets); a RangeError naming "layout", "shape[d]", "srcStrides[d]"
// or "dstStrides[d]" otherwise.
Status ReadStridedCopyLayout(const double* values, size_t count, StridedCopyParams* params);

class StridedCopyOp final : public Op {
 public:
  // RangeError naming the parameter: element size, rank, a negative size, or strides that reach
  // outside src ("srcStrides") or dst ("dstStrides").
  static Status Prepare(const StridedCopyParams& params, std::shared_ptr<const StridedCopyOp>* out);
  // The same into an op the caller holds (the binding's one-shot copies: no heap allocation per call).
  static Status PrepareInto(const StridedCopyParams& params, StridedCopyOp* op);

  const char* name() const override { return "strided_copy"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return src_bytes_; }
  // Run writes only the elements the box reaches; the rest of the output keeps its bytes.
  size_t output_bytes() const override { return dst_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

  // The merged loops (for tests and the benchmark's notes): dims in destination order.
  size_t merged_rank() const { return rank_; }

  // True when the box writes every element of the output exactly once (contiguous(), a
  // permutation, a broadcast into a dense dst), so what Run writes does not depend on the
  // output's earlier bytes. A traced plan step must be such a copy: its output is an arena
  // buffer holding whatever an earlier step left there (cat's partial copies are not).
  bool writes_whole_output() const { return writes_whole_output_; }

 private:
  size_t element_bytes_ = 1;
  size_t numel_ = 0;
  size_t rank_ = 0;  // after dropping size-1 dims and merging
  // How the innermost dims run (strided-copy.cc): 0 a strided loop, 1 a memmove, 2 a fill,
  // 3 a tiled transpose of the two innermost dims.
  int inner_kind_ = 0;
  int64_t size_[kMaxStridedCopyRank] = {};
  int64_t from_[kMaxStridedCopyRank] = {};
  int64_t to_[kMaxStridedCopyRank] = {};
  size_t src_bytes_ = 0, dst_bytes_ = 0;
  bool writes_whole_output_ = false;
};

// The copy's tiled byte transpose on its own: dst[r * dst_stride + c] = src[r + c * src_stride]
// for r < rows, c < cols (the source contiguous along rows, the destination along cols). For ops
// that read an operand transposed piece by piece (BinaryRowsBroadcast).
void TransposeBytes(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t rows, int64_t cols);

}  // namespace qk
