// Reference elementwise ops: one value at a time, no tables, no SIMD, no threads; the ground truth of the C++ tests.
//
// Each element's formula is written out in elementwise-ref.cc from PyTorch 1.13's kernels (the
// scalar lambdas and the AVX2 vectorized ones, which round differently), independently of the op's
// LookupValue / MakeBinaryParams and the kernels' elementwise-scalar.h: the jest suites check those
// against torch, and the reference pins down the tables, kernels, tails and threads around them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/params-elementwise.h"

namespace qk {

// As LookupRows, element by element.
std::vector<uint8_t> LookupRowsRef(const LookupSpec& spec, const std::vector<uint8_t>& x, size_t row_length,
                                   size_t vector_length);

// As BinaryRows, element by element (bytes of either dtype).
std::vector<uint8_t> BinaryRowsRef(const BinarySpec& spec, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                                   size_t row_length, size_t vector_length);

// As MatmulF32: per batch, per output element, the double sum over p in index order of
// a[i][p] * b[p][j], rounded once to float (textbook triple loop).
std::vector<float> MatmulF32Ref(const std::vector<float>& a, const std::vector<float>& b, size_t batch, size_t m, size_t k,
                                size_t n);

}  // namespace qk
