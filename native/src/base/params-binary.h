// The plain parameter types of the binary (1-bit) ops, shared by ops/binary.h and the reference (which may include only base/).
#pragma once

namespace qk {

// How a float becomes a bit (bitorch's 1-bit quantizations at inference):
//   kSign:      sign with 0 -> +1 (sign, approxsign, swishsign, progressive_sign in eval):
//               -1 exactly when x < 0 (so -0, +0 and NaN are +1, as torch.sign gives 0 there)
//   kHeaviside: steheaviside: +1 when x > 0, else -1 (0 and NaN are -1)
enum class BinaryRule : int { kSign = 0, kHeaviside = 1 };

// An input quantization the native side computes: bitorch's forward on float activations
// (ops/binary.h QuantizeActivations, with inputdorefa's k in [1, 16]), and, for a multi-bit
// (DoReFa) layer, the u8 level LowBitConv reads (value = (level - zero point) * scale):
//   kSign, kHeaviside: the 1-bit rules above, +-1 as level 0 / 2 (zero point 1, scale 1)
//   kDoReFa:           bitorch's inputdorefa(k), k in [1, 7]: round(clamp(x, 0, 1) * n) / n with
//                      n = 2^k - 1, round half to even, as level round(x * n) + n (zero point n,
//                      scale 1 / n); NaN is level 0
enum class LowBitInput : int { kSign = 0, kHeaviside = 1, kDoReFa = 2 };

}  // namespace qk
