// 1-bit (binary) convolution and linear: bit-packing of +-1 activations and weights, and the XNOR-popcount implicit GEMM.
//
// Semantics (bitorch's QConv1d/2d/3d forward at inference, doc/binary.md):
//   y[n][o][p] = sum over in-bounds taps t, channels c of its group:  x[n][c][p*s + t*d - pad] * w[o][c][t]
//              + pad_value * (sum over padded taps t, channels c:      w[o][c][t])
//   with x, w in {-1, +1}; + bias[o] when there is a bias (QLinear).
// Computed as: every operand a bit (1 = -1), pads stored as -1 bits, so one XNOR-popcount
// pass over all taps gives D = K - 2 * popcount = D_in - P, where D_in is the in-bounds
// part and P the padded weights' sum. Then, in fp32:
//   pad_value == -1 (bitorch's default):  y = float(D)
//   otherwise:                            y = float(D + P) + pad_value * float(P)
//   then y = y + bias[o]. D and P are integers, so y is exact whenever pad_value * P and the
//   sum are representable (any pad value with few mantissa bits: 1, 0.5, 2, -0.25, ...).
//
// Bit-packed activations: [batch][position][group][group_words] 64-bit words, position the
// row-major index over the spatial dims; bit c % 64 of word c / 64 of a group is channel
// group * (C / groups) + c, set when the value is -1; bits past C / groups are 0. Groups
// are those of the layer that reads them (a layer may write bits for the next one's groups).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/params-binary.h"  // BinaryRule
#include "base/status.h"
#include "ops/conv.h"
#include "ukernels/ukernels.h"

namespace qk {

// Words one group occupies at one position.
inline size_t BinaryGroupWords(size_t channels, size_t groups) { return (channels / groups + 63) / 64; }

// Packs x (float, [batch][channels][positions], contiguous) into bits for `groups`.
// out: batch * positions * groups * BinaryGroupWords(channels, groups) words.
void BinaryPackActivations(const float* x, size_t batch, size_t channels, size_t positions, size_t groups,
                           BinaryRule rule, uint64_t* out);
// The inverse view: +-1 floats [batch][channels][positions].
void BinaryUnpackActivations(const uint64_t* bits, size_t batch, size_t channels, size_t positions, size_t groups,
                             float* out);

struct BinaryConvWeights {
  ConvGeometry geometry;       // zeros padding, not transposed
  float pad_value = -1.0f;
  size_t taps = 0;             // prod(kernel)
  size_t group_in = 0, group_out = 0;
  size_t group_words = 0;      // BinaryGroupWords(in_channels, groups)
  size_t kw = 0;               // words per output position: taps * group_words
  size_t k_bits = 0;           // taps * group_in: the K of the dot products
  // K order of both: the x tap outermost, then the (z, y) taps, then the group's channel words
  // (ops/binary.cc KOrderTap; torch's tap order for 1-D), so that 2-D and 3-D rows are runs of
  // the line windows' entries.
  std::vector<uint64_t> packed;   // per group: ceil(group_out / 8) blocks of ukernels/binary/binary.h's layout
  std::vector<uint64_t> rows;     // [out][kw]: the same words as plain rows (the float output's tiles, whose rows are channels)
  std::vector<int32_t> tap_sums;  // [out][tap]: sum over the tap's channels of w (the pad correction)
  std::vector<float> bias;        // empty or out_channels values
};

// w: out * (in / groups) * prod(kernel) values, PyTorch's layout, each exactly +1 or -1
// (the quantized weights; RangeError naming weight[i] otherwise). pad_value finite.
Status CreateBinaryConvWeights(const ConvGeometry& g, const float* w, size_t w_len, float pad_value,
                               const float* bias, std::shared_ptr<const BinaryConvWeights>* out);

// Where a binary convolution writes: floats [batch][out][positions] (contiguous, as torch),
// or bits for a next layer with `groups` groups, each output turned into a bit by `rule`.
struct BinaryConvOutput {
  float* floats = nullptr;
  uint64_t* bits = nullptr;
  size_t groups = 1;
  BinaryRule rule = BinaryRule::kSign;
};

// x_bits: packed with w's groups, batch * prod(in_spatial) positions. out_spatial from
// ConvOutputSize. Output identical for every thread count and ISA.
Status BinaryConv(const BinaryConvWeights& w, const uint64_t* x_bits, size_t batch, const size_t in_spatial[3],
                  const BinaryConvOutput& out);

// ---- multi-bit layers (DoReFa) on the int8 GEMM -------------------------------------------------
//
// When the quantized operands are integer grids (DoReFa: input level / (2^k - 1), weight
// (2q - (2^k - 1)) / (2^k - 1); sign: +-1), the conv runs on qkernels' int8 kernels: im2col of the
// input levels (u8, with a zero point so that the pad value is a level too), then QGemmF32:
//   y = float(sum (a - a_zp) * w) * (a_scale * w_scale) + bias      (ops/qgemm.h, fp32)
class GemmWeights;
struct LowBitConvWeights {
  ConvGeometry geometry;
  size_t taps = 0, group_in = 0, group_out = 0;
  std::vector<std::shared_ptr<GemmWeights>> gemms;  // per group: [group_out][group_in * taps], torch's order
  std::vector<float> w_scales;                      // out_channels copies of the weight scale
  std::vector<float> bias;                          // empty or out_channels values
  float a_scale = 1.0f;
  int32_t a_zero_point = 0;
  uint8_t pad_level = 0;                            // the pad value as an input level (+ zero point)
};

// w: int8 weight levels in torch's layout; pad_level: the pad value's u8 level.
Status CreateLowBitConvWeights(const ConvGeometry& g, const int8_t* w, size_t w_len, float w_scale, float a_scale,
                               int32_t a_zero_point, uint8_t pad_level, const float* bias,
                               std::shared_ptr<const LowBitConvWeights>* out);

// x: u8 input levels [batch][in][in_spatial...]; y: floats [batch][out][out_spatial...].
Status LowBitConv(const LowBitConvWeights& w, const uint8_t* x, size_t batch, const size_t in_spatial[3], float* y);

// The u8 levels of `count` float activations under a layer's input quantization
// (base/params-binary.h LowBitInput; bits: k of kDoReFa, in [1, max_bits]: 7 for levels).
Status CheckLowBitInput(LowBitInput input, int64_t bits, int64_t max_bits = 7);
void LowBitInputLevels(const float* x, size_t count, LowBitInput input, int bits, uint8_t* levels);

// bitorch's forward of the input quantization on `count` float activations (QActivation,
// Quantization.forward): +-1 for sign and heaviside, round(clamp(x, 0, 1) * n) / n in fp32 for
// inputdorefa(k), n = 2^k - 1, k in [1, 16] (CheckLowBitInput(input, bits, 16)).
void QuantizeActivations(const float* x, size_t count, LowBitInput input, int bits, float* y);

// The XNOR kernel of a dispatch table: its xnor_gemm_vpopcnt slot when the CPU reports
// AVX512_VPOPCNTDQ (the VPOPCNTQ kernel at avx512vnni, the same kernel as xnor_gemm below), else xnor_gemm.
XnorGemmFn* SelectXnorGemm(const struct DispatchTable& table);
// Its sign form (XnorSignFn), chosen the same way: xnor_sign_vpopcnt or xnor_sign.
XnorSignFn* SelectXnorSign(const struct DispatchTable& table);
// Its float form (XnorFloatFn): xnor_float_vpopcnt or xnor_float.
XnorFloatFn* SelectXnorFloat(const struct DispatchTable& table);

}  // namespace qk
