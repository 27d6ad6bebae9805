// Reference quantize/dequantize: PyTorch 1.13's loops, value by value, the ground truth of the C++ tests.
//
// Written to be read against PyTorch (aten/src/ATen/native/quantized/AffineQuantizerBase.cpp
// quantize_val / quantize_val_float_qparams / dequantize_val, and cpu/QuantizedOpKernels.cpp)
// rather than to be fast. Where PyTorch converts an out-of-range float to an integer
// (undefined in C++), the functions spell out what x86 does (cvttss2si / cvtss2si
// return INT64_MIN), since that is what the torch the oracle runs computes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-quantize.h"

namespace qk {

// ---- one value ---------------------------------------------------------------

// quantize_val: s = float(zero_point) + nearbyint(x * (1.0f / float(scale))), a
// float addition; q = clamp(int64(s), qmin, qmax) with int64(s) = INT64_MIN when
// s is NaN or |s| >= 2^63.
int64_t QuantizeAffineValueRef(float x, float inv_scale, int64_t zero_point, int64_t qmin, int64_t qmax);

// quantize_val_float_qparams: q = clamp(int32(lrintf(x * inv_scale + zero_point)), qmin, qmax),
// fp32 multiply then fp32 add; lrintf returns a 64-bit long that PyTorch stores in
// an int, keeping the low 32 bits (so NaN, whose lrintf is INT64_MIN, gives 0).
int64_t QuantizeFloatQParamsValueRef(float x, float scale, float zero_point, int64_t qmin, int64_t qmax);

// dequantize_val (per tensor): float(scale) * float(q - zero_point), the subtraction
// in int32 (it wraps for qint32 extremes, as in PyTorch).
float DequantizePerTensorValueRef(int64_t q, double scale, int64_t zero_point);

// per-channel affine: float(double(float(q) - float(zero_point)) * scale).
float DequantizePerChannelValueRef(int64_t q, double scale, int64_t zero_point);

// float qparams: (float(q) - zero_point) * scale, all fp32.
float DequantizeFloatQParamsValueRef(int64_t q, float scale, float zero_point);

// ---- microkernel references (same signatures as the kernels) ------------------
// These implement the kernels' contract: q = QuantizeAffineValueRef(x, inv_scale,
// zero_point, qmin, qmax) and x = scale * float(q - zero_point).
void QuantizeU8Ref(size_t n, const float* x, uint8_t* y, const QuantizeParams* params);
void QuantizeS8Ref(size_t n, const float* x, int8_t* y, const QuantizeParams* params);
void DequantizeU8Ref(size_t n, const uint8_t* q, float* y, const DequantizeParams* params);
void DequantizeS8Ref(size_t n, const int8_t* q, float* y, const DequantizeParams* params);

// ---- whole tensors (no validation: the caller passes valid arguments) ---------

// Element i of a quantized buffer (quint4x2: nibble i % 2 of byte i / 2, low first).
int64_t LoadQuantizedRef(const void* data, QDType dtype, size_t i);
// Stores q at element i; for quint4x2 the other nibble of the byte is kept.
void StoreQuantizedRef(void* data, QDType dtype, size_t i, int64_t q);

void QuantizePerTensorRef(const float* x, size_t n, double scale, int64_t zero_point, QDType dtype, void* out);
void QuantizePerChannelRef(const float* x, const ChannelLayout& layout, const double* scales,
                           const int64_t* zero_points, QDType dtype, void* out);
void QuantizePerChannelFloatQParamsRef(const float* x, const ChannelLayout& layout, const float* scales,
                                       const float* zero_points, QDType dtype, void* out);
// y[i] = x[i] * multipliers[c] + offsets[c]: two fp32 operations, each rounded.
void ScaleShiftChannelsRef(const float* x, const ChannelLayout& layout, const float* multipliers, const float* offsets,
                           float* y);
void DequantizePerTensorRef(const void* q, QDType dtype, size_t n, double scale, int64_t zero_point, float* y);
void DequantizePerChannelRef(const void* q, QDType dtype, const ChannelLayout& layout, const double* scales,
                             const int64_t* zero_points, float* y);
void DequantizePerChannelFloatQParamsRef(const void* q, QDType dtype, const ChannelLayout& layout,
                                         const float* scales, const float* zero_points, float* y);

}  // namespace qk
