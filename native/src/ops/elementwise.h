// Elementwise operators on 8-bit quantized data: 256-entry lookup tables for the fixed-qparams maps, quantized add / mul, and the fp32 product of quantized matmul.
//
// Numerics: PyTorch 1.13 on x86 without FBGEMM (Debian's python3-torch), whose
// kernels (aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp) run
// through cpu_kernel_vec: in each contiguous run, elements [0, run - run % 64)
// take the vectorized lambda and the rest the scalar lambda, and the two round
// differently (ukernels/elementwise/elementwise-scalar.h). So every op here takes
// a row length and a vector length: within each row of `row_length` elements the
// first `vector_length` use the vector formula and the rest the scalar one.
// Callers pass vector_length = row_length - row_length % 64 to follow PyTorch.
//
// A lookup op builds two 256-entry tables (vector and scalar formula) from the
// qparams and applies them with the dispatched x8_lut kernel, so its cost is that
// of a byte shuffle whatever the activation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/params-elementwise.h"  // LookupOp, InverseScale, LookupSpec, BinarySpec
#include "base/status.h"
#include "ops/op.h"
#include "ops/quantize.h"
#include "ukernels/ukernels.h"

namespace qk {

// Checks dtype (quint8 / qint8), both qparams and the op's parameters.
Status CheckLookupSpec(const LookupSpec& spec);

// One output value (as an int of the dtype) for input value q, in the vector or
// scalar formula; the spec must have passed CheckLookupSpec.
int32_t LookupValue(const LookupSpec& spec, int32_t q, bool vector_formula);

// The op's table for one formula: table[b] is the output byte for the input whose
// storage byte is b (qint8 values by their two's-complement byte). Checks the spec.
Status BuildLookupTable(const LookupSpec& spec, bool vector_formula, uint8_t table[256]);

// An op's two tables (tail formula, vector formula), built once: a prepared lookup (a traced
// plan's step) maps every run through them without rebuilding 512 entries per call.
struct LookupTables {
  uint8_t table[2][256];
  bool one_table = false;  // both formulas agree: rows need not be split
  bool identity = false;   // one_table, and every byte maps to itself: the map is a copy
};
Status BuildLookupTables(const LookupSpec& spec, LookupTables* tables);
// The same tables as one immutable object the process shares between every op prepared with an
// equal spec (a bounded cache of recent specs, safe from any thread). The caller holds its own
// reference, so a prepared op (a traced plan's step) keeps its tables after the cache drops them.
// An eager call prepares its op anew each time: this makes that a lookup, not a 514-byte copy.
Status SharedLookupTables(const LookupSpec& spec, std::shared_ptr<const LookupTables>* tables);

// y = op(x) for x_len elements in rows of row_length (x_len a multiple of it),
// the first vector_length of each row by the vector table. y holds y_len bytes.
// Any thread count gives the same bytes.
Status LookupRows(const LookupSpec& spec, const void* x, size_t x_len, void* y, size_t y_len, size_t row_length,
                  size_t vector_length);
// The same with tables built by BuildLookupTables.
Status LookupRowsWithTables(const LookupTables& tables, const void* x, size_t x_len, void* y, size_t y_len,
                            size_t row_length, size_t vector_length);

// BinaryOp's formulas besides PyTorch's own kernel:
//
// QNNPACK's quint8 add (pytorch_qnnp_compute_add_quantization_params and the q8vadd kernels,
// which torch 1.13's quantized::add / add_relu run under the qnnpack engine for same-shape
// quint8 operands), per element:
//   ra = float(a_scale) / float(scale), rb likewise       (fp32; each must be in [2^-14, 2^8))
//   shift = 21 - exponent(max(ra, rb))                    (in [13, 31])
//   ma = lrintf(ra * 2^shift), mb likewise                (exact power-of-two scaling)
//   acc = ma * (a - a_zp) + mb * (b - b_zp)               int32
//   y = clamp(round_half_away_from_zero(acc / 2^shift) + y_zp, y_min, y_max)   (ties away from 0:
//       asr plus 1 when the remainder exceeds half, the remainder taken as QNNPACK does)
// add_relu: y_min = y_zp; QNNPACK refuses y_min == y_max (a ReLU with zero point 255).

// XNNPACK's qs8 add (xnn_create_add_nd_qs8 / xnn_init_qs8_add_minmax params and the vadd kernels,
// which torch 1.13's xnnp_add runs for qint8 add / add_relu under the qnnpack engine), per element:
//   ra = float(a_scale) / float(scale), rb likewise       (fp32; each must be in [2^-10, 2^8))
//   shift = 20 - exponent(max(ra, rb))                    (in [13, 30])
//   ma = lrintf(ra * 2^shift), mb likewise
//   acc = 2^(shift-1) - ma * a_zp - mb * b_zp + ma * a + mb * b      int32 (no overflow: |ma| < 2^21)
//   y = clamp(acc >> shift, y_min - y_zp, 127 - y_zp) + y_zp           (arithmetic shift: ties up)
// add_relu: y_min = y_zp; XNNPACK refuses y_min >= y_max (a ReLU with zero point 127).
// Measured against Debian's torch: 0 of 45000 random elements differ (onednn's add: 499 of 40000).

// An operand of BinaryRowsBroadcast as the dense output's order reads it: element i of the
// output takes data[(i / each) % period] (each = 1, period = n: a dense operand; a [1, C, 1, 1]
// operand of an NCHW output: each = H * W, period = C; of an NHWC output: each = 1, period = C).
struct BroadcastOperand {
  const void* data = nullptr;
  size_t length = 0;  // elements in data: at least period
  size_t each = 1;
  size_t period = 0;
  // rows > 0: a dense operand the output reads across (each 1, period n): output element
  // (o * rows + r) * cols + c takes data[(o * cols + c) * rows + r]. A channels-last
  // [N, C, H, W] operand of an NCHW output: rows C, cols H * W.
  size_t rows = 0;
  size_t cols = 0;
};

// BinaryRows over n output elements whose operands repeat as described, without the caller
// expanding them: each thread expands its pieces of a broadcast operand into a small buffer
// (a copy of runs of `period` values, or runs of one value) just before the kernel reads
// them, so the kernel sees the same values as for dense operands and gives the same bytes.
// An operand read across (rows > 0; at most one of the two) is transposed a tile of columns at
// a time into a scratch buffer, and each of the tile's rows is one piece of the output.
// Not for the engine-qnnpack adds (the caller expands those).
Status BinaryRowsBroadcast(const BinarySpec& spec, const BroadcastOperand& a, const BroadcastOperand& b, void* y,
                           size_t n, size_t row_length, size_t vector_length);

// A prepared add / mul of two dense runs of n elements (checked once): a traced plan's step,
// and the epilogue a fused conv + add step applies to each block of conv output
// (plan/fusion.h). The formula is the spec's: PyTorch's own kernel (rows of row_length, the
// first vector_length of each in the vector formula), QNNPACK's add or XNNPACK's add.
class BinaryOp final : public Op {
 public:
  static Status Prepare(const BinarySpec& spec, size_t n, size_t row_length, size_t vector_length,
                        std::shared_ptr<const BinaryOp>* out);

  const char* name() const override { return spec_.multiply ? "mul" : "add"; }
  OpKind kind() const override { return OpKind::kBinary; }
  size_t input_count() const override { return 2; }
  size_t input_bytes(size_t) const override { return n_; }
  size_t output_bytes() const override { return n_; }
  // inputs[0]: a, inputs[1]: b; split over the threads.
  Status Run(const void* const* inputs, void* output, void* scratch) const override;
  // Elements [begin, end) of y = a op b, on the calling thread; a, b and y point at element 0
  // of the n-element buffers. An element's bytes depend only on its inputs and its index
  // (never on the range), so any split of [0, n) gives Run's bytes. y may be a or b (each
  // element is read before it is written, at the same index).
  void RunRange(const void* a, const void* b, void* y, size_t begin, size_t end) const;
  const BinarySpec& spec() const { return spec_; }
  size_t size() const { return n_; }

 private:
  enum class Formula { kTorch, kQnnpackAdd, kXnnpackAdd };
  // The fixed-point adds' constants (formulas above).
  struct FixedPointAdd {
    int shift = 0;
    int64_t ma = 0, mb = 0, bias = 0, mask = 0, threshold = 0;
    int32_t y_zp = 0, y_min = 0, y_max = 0;
  };
  static Status PrepareQnnpackAdd(const BinarySpec& spec, FixedPointAdd* f);
  static Status PrepareXnnpackAdd(const BinarySpec& spec, FixedPointAdd* f);

  BinarySpec spec_;
  size_t n_ = 0, row_length_ = 1, vector_length_ = 0;
  Formula formula_ = Formula::kTorch;
  BinaryParams params_{};
  FixedPointAdd fixed_;
};

// One call of a BinaryOp (prepared, checked and run): the eager binding's add / mul.
Status BinaryRows(const BinarySpec& spec, const void* a, size_t a_len, const void* b, size_t b_len, void* y,
                  size_t y_len, size_t row_length, size_t vector_length);

// The kernel parameters of a spec (shared with the reference and the tests).
void MakeBinaryParams(const BinarySpec& spec, BinaryParams* params);

// The float product inside quantized::matmul (PyTorch 1.13 without ruy dequantizes both
// operands, calls at::matmul in fp32 and quantizes) and FloatFunctional.matmul:
// y[i] = a[i] (m x k) * b[i] (k x n) for i < batch, all dense row-major. PyTorch's sgemm sums
// in a blocked order no one can reproduce; this sums each dot product in double (fp32
// products are exact there) and rounds once to float, so the result is within about one
// float ulp of the exact product, for any thread count the same bits.
Status MatmulF32(const float* a, size_t a_len, const float* b, size_t b_len, float* y, size_t y_len, size_t batch,
                 size_t m, size_t k, size_t n);

}  // namespace qk
