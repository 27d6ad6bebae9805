// Elementwise, lookup-table and arithmetic microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

// x8 lookup: y[i] = table[x[i]] for bytes of either 8-bit dtype (a qint8 value
// indexes the table by its two's-complement byte). The table has 256 entries.
// Every fixed-qparams u8 -> u8 map (activations, add_scalar, requantize) is one.
using LookupX8Fn = void(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y);

// Quantized add / mul of two same-shaped runs, in PyTorch 1.13's *vectorized*
// arithmetic (QuantizedOpKernels.cpp qadd_kernel / qmul_kernel, AVX2 build).
// add:
//   da = fma(a_scale, float(a), a_premul)        a_premul = a_scale * -float(a_zero_point), in fp32
//   db = fma(b_scale, float(b), b_premul);  c = da + db;  relu: c = max(c, 0)
//   t  = min(c * inv_out_scale, 2147483520.0f)   x86 minps: a NaN product gives the bound
//   r  = cvtps2dq(t) (half to even; below -2^31: INT32_MIN) + out_zero_point (int32, wrapping)
//   y  = clamp(r, qmin, qmax)
// multiply (integer product, requantize_from_int):
//   c  = (a - a_zero_point) * (b - b_zero_point)  exact in int32
//   r  = cvtps2dq(float(c) * multiplier) (NaN / out of int32 range: INT32_MIN) + out_zero_point
//   y  = clamp(r, qmin, qmax);  relu: y = max(y, out_zero_point)
// The last (run length mod 64) elements of a run, and every element of a run whose input
// strides are not 1 (a channels-last operand of an NCHW output), PyTorch computes with its
// *scalar* lambda instead: the tail kernels (same function types, slots *_binary_tail).
// tail add:
//   da = a_scale * float(a - a_zero_point)       (fp32 multiply, no fma)
//   db = b_scale * float(b - b_zero_point);  c = da + db;  relu: c < 0 ? 0 : c (NaN stays)
//   x  = c * inv_out_scale
// tail multiply:
//   x  = float((a - a_zero_point) * (b - b_zero_point)) * multiplier
// then (quantize_val / requantize_from_int):
//   y  = |x| < 2^63 ? clamp(nearbyint(x) + out_zero_point, qmin, qmax) : qmin   (NaN: qmin)
//   multiply with relu: y = max(y, out_zero_point)
// (quantize_val adds the zero point in fp32, float(zp) + nearbyint(x), and tests that sum; for
// every x the sum is below 2^63 exactly when x is, and it is exact wherever the clamp does not
// decide: BinaryScalarValue in elementwise-scalar.h is the formula as torch writes it.)
struct BinaryParams {
  float a_scale;
  float a_premul;
  float b_scale;
  float b_premul;
  float inv_out_scale;
  float multiplier;  // a_scale * b_scale * inv_out_scale, in that order, in fp32
  int32_t a_zero_point;
  int32_t b_zero_point;
  int32_t out_zero_point;
  int32_t qmin;
  int32_t qmax;
  int32_t multiply;  // 0: add, 1: multiply
  int32_t relu;      // 1: ReLU fused
};

using BinaryU8Fn = void(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const BinaryParams* params);
using BinaryS8Fn = void(size_t n, const int8_t* a, const int8_t* b, int8_t* y, const BinaryParams* params);

}  // namespace qk
