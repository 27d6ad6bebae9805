// Quantized GEMM microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
//
// A GEMM microkernel computes one tile of at most MR rows x NR columns:
//   raw[i][j] = sum_{k < kc} A(i, k) * W(j, k)          over the packed (converted) elements
//   acc[i][j] = raw[i][j] + a_offset * colsum[j] + w_zp[j] * row_term[i]       int32, wrapping
// where colsum[j] and w_zp[j] head the packed column block, row_term[i] = K * a_zp - sum_k a[i][k]
// (the op computes it with the A panel) and a_offset is -a_zp, or 128 - a_zp for kernels whose
// A panel holds a - 128 (see native/src/pack/gemm-pack.h). This equals
// sum_k (a - a_zp)(w - w_zp[j]) modulo 2^32. The epilogue then requantizes (requant-*.h) or
// scales to fp32, and stores the first mr rows and nc columns only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

// The u8 output stage, per column j of the block (pointers start at the block's first column):
//   t = clamp((float(acc + bias_int[j]) + bias_term[j]) * multiplier[j], lo, hi)
//   y = round_half_even(t + y_zero_point_f) + y_zero_point
// lo = y_min - y_zp, hi = y_max - y_zp (see requant-scalar.h for the exact order and NaN, and
// ops/qgemm.h for each engine's constants).
struct GemmU8Params {
  int32_t a_zero_point;
  const int32_t* bias_int;  // qnnpack's int32 bias, else 0
  const float* bias_term;   // fbgemm: bias[j] / (a_scale * w_scale[j]); onednn: its fp32 bias; 0 without bias
  const float* multiplier;  // (a_scale * w_scale[j]) / y_scale in the engine's fp32 order
  float lo, hi;
  float y_zero_point_f;     // onednn adds the zero point in fp32 before rounding: y_zp, else 0
  int32_t y_zero_point;     // the others add it after: y_zp (onednn 0)
};

// The fp32 output stage: y = float(acc) * scale[j] (+ bias[j] when bias is not null), then
// y = (0 > y) ? 0 : y when relu (NaN and -0.0 pass through, as the scalar code reads).
struct GemmF32Params {
  int32_t a_zero_point;
  const float* scale;  // a_scale * w_scale[j]
  const float* bias;   // nullptr: no bias
  bool relu;
};

// mr in [1, MR], nc in [1, NR], kc = the padded depth (multiple of KR). a: the A panel, rows
// a_stride bytes apart, kc elements each (rows >= mr are not read). row_terms: mr values.
// w: one packed column block. y: rows y_stride elements apart.
using GemmU8Fn = void(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms,
                      const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* params);
using GemmF32Fn = void(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms,
                       const void* w, float* y, size_t y_stride, const GemmF32Params* params);

// The indirect GEMM (convolution without im2col): the u8 GEMM of the same tile and pack, with
// row i of A made of `segments` runs of segment_bytes values (a multiple of KR) in the layout's
// A format (bytes; int16 for a kS16 layout, whose runs the op takes from a widened copy of its
// input), run s at a[i * segments + s] (an input pixel's channels, a line of taps, or a row of
// zero points); the pack's kpad is segments * segment_bytes. Values a run has past the ones it
// stands for meet zero weights (the op packs the weights with the same gaps).
using IgemmU8Fn = void(size_t mr, size_t nc, size_t segments, size_t segment_bytes, const uint8_t* const* a,
                       const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride,
                       const GemmU8Params* params);

// The strided indirect GEMM: IgemmU8Fn with run s of row i at a[s] + i * a_stride (a holds
// `segments` pointers, one per run, for the tile's first row). A convolution whose output pixels
// along a W line read every run at the same step (stride * channels bytes further per pixel)
// hands the line's run starts once, not a pointer per (pixel, run).
using IgemmStridedU8Fn = void(size_t mr, size_t nc, size_t segments, size_t segment_bytes, const uint8_t* const* a,
                              size_t a_stride, const int32_t* row_terms, const void* w, uint8_t* y,
                              size_t y_stride, const GemmU8Params* params);

// How a kernel wants its operands (the pack and the op layer read this; gemm/registry.inc
// lists one per kernel pair under QK_GEMM_LAYOUT).
enum class GemmAFormat : int {
  kU8 = 0,      // a as uint8
  kS16 = 1,     // a zero-extended to int16
  kS8Flip = 2,  // a - 128 as int8 (a ^ 0x80)
};
enum class GemmWFormat : int {
  kS8 = 0,   // w as int8
  kS16 = 1,  // w sign-extended to int16
};

// Whether a kernel is exact for every operand (see QK_GEMM_LAYOUT in registry.inc).
enum class GemmExactness : int {
  kAlways = 0,
  kPairProof = 1,  // u8 x s8 int16 pair sums saturate unless |w0| + |w1| <= 128 or every a <= 127
};

}  // namespace qk
