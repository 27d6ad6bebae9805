// Convolution (depthwise and other conv-specific) microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
//
// Depthwise convolution (groups == in_channels == out_channels), channels_last:
//   acc[p][c] = sum_t (x_t[c] - x_zp) * w16[t][c]          int32, w16 = w - w_zp[c] (exact)
//   y[p][c]   = clamp(round_half_even((float(acc) + bias_term[c]) * multiplier[c]), lo, hi) + y_zp
// exactly the GEMM's output stage (ukernels/gemm/requant-*.h, GemmU8Params' formula).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

// Channel alignment of the packed depthwise weights (every kernel's channel tile divides it).
constexpr size_t kDwconvChannelAlign = 16;

// Packed depthwise weights, one layout for every ISA (ops/conv.cc packs it, doc/conv.md):
//   int16 w16[ceil(taps / 2)][round_up(channels, 16)][2]
// element [q][c][h] = w[c][tap 2q + h] - w_zp[c], 0 for padded channels and for the missing
// second tap of an odd tap count. Pairs of taps sit side by side so that x86 kernels can use
// pmaddwd / vpdpwssd on (x_t[c], x_t+1[c]) pairs and NEON de-interleaves them with vld2.
// |w16| <= 255, |x - x_zp| <= 255: every product and pair sum is exact in int32.
// The output stage is GEMM's (GemmU8Params, requant-scalar.h), per channel.
// A second layout of the same weights, for kernels that add four taps per instruction (AVX-512
// vpdpbusd: u8 inputs x s8 weights), made when every w16 fits int8 (weights with zero point 0,
// PyTorch's symmetric qint8), for the full blocks of 32 channels only:
//   int8 quads[channels / 32][ceil(taps / 4)][4 vectors][8 lanes][4 taps]
// lane i of vector v is channel 32 * block + DwconvQuadChannel(v, i), its 4 bytes taps 4q..4q+3
// (0 past the last tap): the order in which per-128-bit-lane byte and word unpacks of four
// taps' 32 input bytes put the channels (doc/conv.md).
constexpr size_t kDwconvQuadChannels = 32;
constexpr size_t kDwconvQuadBytes = 4 * 8 * 4;  // one quad of one block
inline size_t DwconvQuadChannel(size_t v, size_t i) { return (i < 4 ? 0 : 12) + 4 * v + i; }

struct DwconvU8Params {
  int32_t x_zero_point;
  const int8_t* quads;      // the quads layout above, or null: kernels read w16 only
  const int32_t* bias_int;  // channels values: qnnpack's int32 bias, else 0
  const float* bias_term;   // channels values: the engine's fp32 bias term, 0 without bias
  const float* multiplier;  // channels values: (x_scale * w_scale[c]) / y_scale in the engine's order
  float lo, hi;             // y_min - y_zp, y_max - y_zp
  float y_zero_point_f;     // onednn: y_zp, else 0
  int32_t y_zero_point;     // onednn: 0, else y_zp
};

// Computes `pixels` output pixels of all `channels`:
//   input[p * taps + t] points at channel 0 of the input pixel tap t of output pixel p reads
//   (a buffer of `channels` bytes equal to x_zp for padding), readable for `channels` bytes;
//   y + p * y_stride receives the `channels` outputs of pixel p. taps >= 1.
using DwconvU8Fn = void(size_t channels, size_t pixels, size_t taps, const uint8_t* const* input,
                        const int16_t* weights, uint8_t* y, size_t y_stride, const DwconvU8Params* params);

// The same computation over a run of output pixels whose taps all read input pixels (no
// padding pointer): tap t of output pixel p reads the `channels` bytes at base[t] + p * step
// (step = W stride * channels for a channels_last row). No indirection buffer: the op passes
// one pointer per tap for a whole run of an output row.
using DwconvRowU8Fn = void(size_t channels, size_t pixels, size_t taps, const uint8_t* const* base, size_t step,
                           const int16_t* weights, uint8_t* y, size_t y_stride, const DwconvU8Params* params);

}  // namespace qk
