// The geometry of a convolution and the one padding coordinate mapper (ops, reference and tests all read these).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

enum class ConvPaddingMode { kZeros, kReflect, kReplicate, kCircular };

struct ConvGeometry {
  int dims = 2;                          // spatial dims: 1, 2 or 3 (used entries: [0, dims))
  size_t in_channels = 0, out_channels = 0, groups = 1;
  size_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, dilation[3] = {1, 1, 1};
  size_t pad_before[3] = {0, 0, 0}, pad_after[3] = {0, 0, 0};  // JS resolves 'same'/'valid'/numbers
  size_t output_padding[3] = {0, 0, 0};  // transposed only
  bool transposed = false;
  ConvPaddingMode padding_mode = ConvPaddingMode::kZeros;      // non-zeros modes: not transposed
};

// Where padded coordinate p (negative or past the end when it lies in the padding) of an input
// of length n reads, or -1 when it reads the padding value (zeros mode: the input zero point).
// Reflect excludes the edge value, as PyTorch's reflection padding; the checks on the geometry
// (pad < n for reflect, pad <= n for circular) keep the result inside [0, n).
inline int64_t PaddedSource(int64_t p, int64_t n, ConvPaddingMode mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case ConvPaddingMode::kZeros: return -1;
    case ConvPaddingMode::kReflect: return p < 0 ? -p : 2 * (n - 1) - p;
    case ConvPaddingMode::kReplicate: return p < 0 ? 0 : n - 1;
    case ConvPaddingMode::kCircular: return ((p % n) + n) % n;
  }
  return -1;
}

}  // namespace qk
