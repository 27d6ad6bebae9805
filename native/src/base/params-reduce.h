// The plain parameters of quantized mean and concatenation (ops/reduce.h), shared by the ops and their reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-elementwise.h"
#include "base/params-quantize.h"

namespace qk {

constexpr size_t kMaxReduceRank = 8;

// Which of torch 1.13's quantized mean paths (qreduction.cpp mean_out_quantized_cpu) runs;
// lib/qtensor.ts chooses it from the engine, the dims as written and the layout.
enum class MeanMode : int {
  // QNNPACK's global average pooling: a contiguous 4-D quint8 input over dims (2, 3);
  // y = clamp(lrintf(float(sum (q - zp)) * (f(s) / f(f(s) * count))) + zp).
  kQnnpackGlobal = 0,
  // A contiguous input of any rank over any dims: y = nearbyint(float(sum q) / count).
  kIntegers = 1,
  // A channels-last 4-D (5-D) input over its spatial dims: dequantize, torch's fp32 sum in its
  // reduction kernel's order per channel, / count, quantize with the input's qparams.
  kChannelsLastFloat = 2,
};

struct MeanParams {
  QDType dtype = QDType::kQUInt8;  // quint8 or qint8 (kQnnpackGlobal: quint8)
  MeanMode mode = MeanMode::kIntegers;
  size_t rank = 0;                          // <= kMaxReduceRank
  int64_t shape[kMaxReduceRank] = {};       // the logical shape (NCHW order for every mode)
  bool reduced[kMaxReduceRank] = {};        // the dims averaged over
  double scale = 1;                         // the input's (and the output's) qparams
  int64_t zero_point = 0;
};

constexpr size_t kMaxConcatInputs = 16;

// Concatenation of dense blocks, each requantized to the output's qparams as torch's quantized
// cat does: output row r is input 0's row r, then input 1's, ... Every concatenation of
// same-layout tensors along one dim is this, with rows = the product of the sizes before that
// dim in memory order and row_bytes[k] = input k's bytes from that dim on. Input k's values map
// through `requantize[k]` (a LookupOp::kRequantize spec); the first vector_bytes[k] of each of
// its rows take the vectorized formula (torch's NHWC kernel, where a row is a pixel's channels).
struct ConcatParams {
  size_t rows = 0;
  size_t count = 0;  // inputs, 1..kMaxConcatInputs
  size_t row_bytes[kMaxConcatInputs] = {};
  size_t vector_bytes[kMaxConcatInputs] = {};
  LookupSpec requantize[kMaxConcatInputs];
};

}  // namespace qk
