// Quantize / dequantize operators: validate lengths and qparams, split over threads, call the dispatched kernels.
//
// Numerics: PyTorch 1.13 on x86 (Debian python3-torch, no FBGEMM), each formula
// checked value by value against torch (native/test/gen-golden.py, golden-test.cc):
//   affine quantize (per-tensor and per-channel, every dtype):
//     t = x * (1.0f / float(scale))              all in fp32 (not float(1.0 / scale))
//     s = float(zero_point) + nearbyint(t)       a *float* addition (PyTorch adds int64 + float),
//                                                ties to even; it rounds for qint32 zero points
//                                                beyond 2^24 (qint32, zp 2^31-1: x = -200 gives 2147483392)
//     q = qmin                                   when s is NaN or |s| >= 2^63: PyTorch's float -> int64
//                                                conversion (cvttss2si) gives INT64_MIN there, so NaN,
//                                                +-Inf and huge values (1e20 at scale 1) all give qmin
//     q = clamp(int64(s), qmin, qmax)            otherwise (saturating: 1e12 gives qmax)
//     quint4x2 per-tensor is PyTorch's sub-byte path, lrintf(nearbyint(t) + float(zp)): the same
//     values, except that a scale which rounds to 0 in fp32 gives inv_scale = 1 there (the 8- and
//     32-bit paths divide: inv_scale = inf). PyTorch has no per_channel_affine quint4x2 kernel;
//     this library applies the same formula.
//   float-qparams quantize (per_channel_affine_float_qparams, zero_point a float; quint8, quint4x2):
//     v = x * inv_scale + zero_point              fp32 multiply then fp32 add (never an FMA),
//                                                 inv_scale = scale == 0 ? 1 : 1.0f / scale
//     q = clamp(int32(lrintf(v)), qmin, qmax)     PyTorch stores lrintf's 64-bit result in an int:
//                                                 the low 32 bits, so NaN/|v| >= 2^63 (INT64_MIN) give 0,
//                                                 and v = 2^32 gives 0, not qmax
//   dequantize per-tensor:          y = float(scale) * float(int32(q - zero_point))
//                                   (the subtraction wraps in int32 for qint32 extremes, as in PyTorch)
//   dequantize per-channel affine:  y = float(double(float(q) - float(zero_point)) * scale_double)
//                                   (exact difference for 8-bit; rounded in fp32 for qint32)
//   dequantize float-qparams:       y = (float(q) - zero_point) * scale, in fp32
// quint4x2 stores two values per byte, element 2i in the low nibble of byte i; an odd
// count leaves the last high nibble 0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-quantize.h"  // QDType, QRange, ChannelLayout
#include "base/status.h"

namespace qk {

// The integer range of a dtype: quint8 [0,255], qint8 [-128,127], qint32 [INT32_MIN,INT32_MAX], quint4x2 [0,15].
QRange QDTypeRange(QDType dtype);
const char* QDTypeName(QDType dtype);
// Bytes of storage for numel elements (quint4x2: ceil(numel / 2)); false on overflow.
bool QDTypeStorageBytes(QDType dtype, size_t numel, size_t* bytes);

// Every function checks that the buffers hold what the sizes say (x_len,
// out_bytes, q_bytes, y_len are the real lengths of the buffers) and that
// scales are finite and > 0 and zero points lie in the dtype's range (float
// zero points: finite), and returns a RangeError / TypeError Status instead of
// touching memory otherwise. Messages read "Expected <what> for <parameter> but
// received <value>", naming the JS-side parameter (scale, zeroPoints[2], output).
// Any thread count gives the same bytes.

Status QuantizePerTensor(const float* x, size_t n, double scale, int64_t zero_point, QDType dtype, void* out,
                         size_t out_bytes);

Status QuantizePerChannel(const float* x, size_t x_len, const ChannelLayout& layout, const double* scales,
                          const int64_t* zero_points, size_t channel_params_len, QDType dtype, void* out,
                          size_t out_bytes);

// zero_points are floats; dtype quint8 or quint4x2.
Status QuantizePerChannelFloatQParams(const float* x, size_t x_len, const ChannelLayout& layout, const float* scales,
                                      const float* zero_points, size_t channel_params_len, QDType dtype, void* out,
                                      size_t out_bytes);

Status DequantizePerTensor(const void* q, size_t q_bytes, QDType dtype, size_t n, double scale, int64_t zero_point,
                           float* y, size_t y_len);

Status DequantizePerChannel(const void* q, size_t q_bytes, QDType dtype, const ChannelLayout& layout,
                            const double* scales, const int64_t* zero_points, size_t channel_params_len, float* y,
                            size_t y_len);

Status DequantizePerChannelFloatQParams(const void* q, size_t q_bytes, QDType dtype, const ChannelLayout& layout,
                                        const float* scales, const float* zero_points, size_t channel_params_len,
                                        float* y, size_t y_len);

// y = x * multipliers[c] + offsets[c] per channel, in fp32: a multiply, rounded, then an add,
// rounded (never an FMA; the build sets -ffp-contract=off), as torch evaluates `x * a + b` on
// float tensors. GoogLeNet's and Inception v3's transform_input before their QuantStub
// (lib/models/layers.ts), so their whole forward runs natively and traces. channel_params_len
// must equal layout.channels; any values (NaN and infinities propagate as in IEEE).
Status ScaleShiftChannels(const float* x, size_t x_len, const ChannelLayout& layout, const float* multipliers,
                          const float* offsets, size_t channel_params_len, float* y, size_t y_len);

// PyTorch's ChooseQuantizationParams (aten/src/ATen/native/quantized/cpu/QuantUtils.h),
// as used by quantize_per_tensor_dynamic: widens [min, max] to include 0,
// halves the range with reduce_range, nudges the zero point to an integer.
// dtype quint8 or qint8; min and max finite, min <= max. Note that PyTorch itself
// ignores reduce_range when its quantized engine is qnnpack; callers decide that.
struct ChosenQParams {
  double scale;
  int64_t zero_point;
};
Status ChooseQuantizationParams(float min, float max, QDType dtype, bool reduce_range, ChosenQParams* out);

// Min and max of x (as torch.min / torch.max: any NaN makes both NaN, which
// ChooseQuantizationParams then refuses). Identical for every thread count,
// down to which of -0.0 / 0.0 is reported. n must be > 0 (n == 0 gives NaN).
void MinMax(const float* x, size_t n, float* min, float* max);
// True when no x[i] is NaN or infinite (MinMax's callers check this first).
bool AllFinite(const float* x, size_t n);

}  // namespace qk
