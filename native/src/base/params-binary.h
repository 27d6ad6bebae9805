// The plain parameter types of the binary (1-bit) ops, shared by ops/binary.h and the reference (which may include only base/).
#pragma once

namespace qk {

// How a float becomes a bit (bitorch's 1-bit quantizations at inference):
//   kSign:      sign with 0 -> +1 (sign, approxsign, swishsign, progressive_sign in eval):
//               -1 exactly when x < 0 (so -0, +0 and NaN are +1, as torch.sign gives 0 there)
//   kHeaviside: steheaviside: +1 when x > 0, else -1 (0 and NaN are -1)
enum class BinaryRule : int { kSign = 0, kHeaviside = 1 };

}  // namespace qk
