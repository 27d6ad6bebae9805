// Reference quantized mean and concatenation: torch 1.13's formulas written out element by element, the ground truth of the reduce tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-reduce.h"

namespace qk {
namespace ref {

// x: the input's integer values in the memory order the mode reads (kQnnpackGlobal and
// kIntegers: contiguous; kChannelsLastFloat: channels last), as int32; y: the output's, in
// contiguous order of the reduced (keepdim) shape.
void MeanRef(const int32_t* x, const MeanParams& p, int32_t* y);

// Each input requantized by LookupRowsRef (rows of row_bytes[k], vector_bytes[k] of them in the
// vector formula), then out = for each row r, input 0's row r, input 1's, ...
void ConcatRef(const uint8_t* const* inputs, const ConcatParams& p, uint8_t* out);

}  // namespace ref
}  // namespace qk
