// Checked size arithmetic: shape products and byte counts that overflow are errors, never wraps.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

// Each returns false (leaving *out unspecified) when the exact result does not fit.
// Written with plain comparisons rather than __builtin_*_overflow so MSVC builds them too.
inline bool CheckedMul(size_t a, size_t b, size_t* out) {
  if (b != 0 && a > SIZE_MAX / b) return false;
  *out = a * b;
  return true;
}
inline bool CheckedAdd(size_t a, size_t b, size_t* out) {
  if (a > SIZE_MAX - b) return false;
  *out = a + b;
  return true;
}

// Product of dims; false on overflow or on a negative dim. An empty list is 1 (a scalar).
inline bool CheckedShapeProduct(const int64_t* dims, size_t rank, size_t* out) {
  size_t product = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (dims[i] < 0) return false;
    if (static_cast<uint64_t>(dims[i]) > SIZE_MAX) return false;
    if (!CheckedMul(product, static_cast<size_t>(dims[i]), &product)) return false;
  }
  *out = product;
  return true;
}

// Bytes needed for n elements of elem_bytes each; false on overflow.
inline bool CheckedBytes(size_t n, size_t elem_bytes, size_t* out) { return CheckedMul(n, elem_bytes, out); }

}  // namespace qk
