// Reference elementwise ops: one value at a time, no tables, no SIMD, no threads; the ground truth of the C++ tests.
//
// Each element's formula comes straight from LookupValue / BinaryVectorValue /
// BinaryScalarValue (PyTorch's per-element arithmetic, checked against torch by
// the jest suites); what the reference pins down is everything around them:
// which elements take the vector formula, tables, kernels, tails and threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ops/elementwise.h"

namespace qk {

// As LookupRows, element by element.
std::vector<uint8_t> LookupRowsRef(const LookupSpec& spec, const std::vector<uint8_t>& x, size_t row_length,
                                   size_t vector_length);

// As BinaryRows, element by element (bytes of either dtype).
std::vector<uint8_t> BinaryRowsRef(const BinarySpec& spec, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                                   size_t row_length, size_t vector_length);

}  // namespace qk
