// Reference quantize/dequantize: PyTorch 1.13's formulas, one element at a time, no SIMD, no threads.
#include "reference/quantize-ref.h"

#include <cmath>
#include <cstring>

// x * inv_scale + zero_point must stay two roundings, as in PyTorch. The build
// passes -ffp-contract=off; clang also gets told here, in case a build does not.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// static_cast<int64_t>(float) as x86 executes it: INT64_MIN when out of range or NaN.
int64_t FloatToInt64X86(float s) {
  if (!(std::fabs(s) < 0x1p63f)) return INT64_MIN;
  return static_cast<int64_t>(s);
}

int64_t Clamp(int64_t q, int64_t qmin, int64_t qmax) { return q < qmin ? qmin : (q > qmax ? qmax : q); }

// Channel of flat element i.
size_t ChannelOf(const ChannelLayout& layout, size_t i) { return (i / layout.inner) % layout.channels; }

size_t Numel(const ChannelLayout& layout) { return layout.outer * layout.channels * layout.inner; }

// The dtype ranges, restated here so that the reference depends on nothing it checks.
QRange RangeOf(QDType dtype) {
  switch (dtype) {
    case QDType::kQUInt8: return {0, 255};
    case QDType::kQInt8: return {-128, 127};
    case QDType::kQInt32: return {INT32_MIN, INT32_MAX};
    case QDType::kQUInt4x2: return {0, 15};
  }
  return {0, 0};
}

}  // namespace

int64_t QuantizeAffineValueRef(float x, float inv_scale, int64_t zero_point, int64_t qmin, int64_t qmax) {
  const float rounded = std::nearbyint(x * inv_scale);
  const float sum = static_cast<float>(zero_point) + rounded;  // int64 + float is a float addition in C++
  return Clamp(FloatToInt64X86(sum), qmin, qmax);
}

int64_t QuantizeFloatQParamsValueRef(float x, float scale, float zero_point, int64_t qmin, int64_t qmax) {
  const float inv_scale = scale == 0.0f ? 1.0f : 1.0f / scale;
  const float value = x * inv_scale + zero_point;  // two roundings: build flags forbid contracting to an FMA
  const int64_t as_long = FloatToInt64X86(std::nearbyint(value));               // lrintf
  const int32_t as_int = static_cast<int32_t>(static_cast<uint32_t>(as_long));  // int qvalue = lrintf(...)
  return Clamp(as_int, qmin, qmax);
}

float DequantizePerTensorValueRef(int64_t q, double scale, int64_t zero_point) {
  const uint32_t wrapped = static_cast<uint32_t>(q) - static_cast<uint32_t>(zero_point);
  return static_cast<float>(scale) * static_cast<float>(static_cast<int32_t>(wrapped));
}

float DequantizePerChannelValueRef(int64_t q, double scale, int64_t zero_point) {
  const float difference = static_cast<float>(q) - static_cast<float>(zero_point);
  return static_cast<float>(static_cast<double>(difference) * scale);
}

float DequantizeFloatQParamsValueRef(int64_t q, float scale, float zero_point) {
  return (static_cast<float>(q) - zero_point) * scale;
}

void QuantizeU8Ref(size_t n, const float* x, uint8_t* y, const QuantizeParams* p) {
  for (size_t i = 0; i < n; ++i) {
    y[i] = static_cast<uint8_t>(QuantizeAffineValueRef(x[i], p->inv_scale, p->zero_point, p->qmin, p->qmax));
  }
}

void QuantizeS8Ref(size_t n, const float* x, int8_t* y, const QuantizeParams* p) {
  for (size_t i = 0; i < n; ++i) {
    y[i] = static_cast<int8_t>(QuantizeAffineValueRef(x[i], p->inv_scale, p->zero_point, p->qmin, p->qmax));
  }
}

void DequantizeU8Ref(size_t n, const uint8_t* q, float* y, const DequantizeParams* p) {
  for (size_t i = 0; i < n; ++i) y[i] = p->scale * static_cast<float>(int32_t{q[i]} - p->zero_point);
}

void DequantizeS8Ref(size_t n, const int8_t* q, float* y, const DequantizeParams* p) {
  for (size_t i = 0; i < n; ++i) y[i] = p->scale * static_cast<float>(int32_t{q[i]} - p->zero_point);
}

int64_t LoadQuantizedRef(const void* data, QDType dtype, size_t i) {
  switch (dtype) {
    case QDType::kQUInt8: return static_cast<const uint8_t*>(data)[i];
    case QDType::kQInt8: return static_cast<const int8_t*>(data)[i];
    case QDType::kQInt32: {
      int32_t v;
      std::memcpy(&v, static_cast<const char*>(data) + 4 * i, 4);
      return v;
    }
    case QDType::kQUInt4x2: return (static_cast<const uint8_t*>(data)[i / 2] >> (4 * (i % 2))) & 0xF;
  }
  return 0;
}

void StoreQuantizedRef(void* data, QDType dtype, size_t i, int64_t q) {
  switch (dtype) {
    case QDType::kQUInt8: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(q); break;
    case QDType::kQInt8: static_cast<int8_t*>(data)[i] = static_cast<int8_t>(q); break;
    case QDType::kQInt32: {
      const int32_t v = static_cast<int32_t>(q);
      std::memcpy(static_cast<char*>(data) + 4 * i, &v, 4);
      break;
    }
    case QDType::kQUInt4x2: {
      uint8_t& byte = static_cast<uint8_t*>(data)[i / 2];
      const int shift = 4 * static_cast<int>(i % 2);
      byte = static_cast<uint8_t>((byte & ~(0xF << shift)) | ((q & 0xF) << shift));
      break;
    }
  }
}

void QuantizePerTensorRef(const float* x, size_t n, double scale, int64_t zero_point, QDType dtype, void* out) {
  const QRange range = RangeOf(dtype);
  // PyTorch's sub-byte path uses inv_scale = 1 when the scale rounds to 0 in fp32; the others divide.
  const float scale_f = static_cast<float>(scale);
  const float inv_scale = (dtype == QDType::kQUInt4x2 && scale_f == 0.0f) ? 1.0f : 1.0f / scale_f;
  if (dtype == QDType::kQUInt4x2) std::memset(out, 0, (n + 1) / 2);  // an odd count leaves the last high nibble 0
  for (size_t i = 0; i < n; ++i) {
    StoreQuantizedRef(out, dtype, i, QuantizeAffineValueRef(x[i], inv_scale, zero_point, range.qmin, range.qmax));
  }
}

void QuantizePerChannelRef(const float* x, const ChannelLayout& layout, const double* scales,
                           const int64_t* zero_points, QDType dtype, void* out) {
  const QRange range = RangeOf(dtype);
  const size_t n = Numel(layout);
  if (dtype == QDType::kQUInt4x2) std::memset(out, 0, (n + 1) / 2);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = ChannelOf(layout, i);
    const float inv_scale = 1.0f / static_cast<float>(scales[c]);
    StoreQuantizedRef(out, dtype, i, QuantizeAffineValueRef(x[i], inv_scale, zero_points[c], range.qmin, range.qmax));
  }
}

void ScaleShiftChannelsRef(const float* x, const ChannelLayout& layout, const float* multipliers, const float* offsets,
                           float* y) {
  for (size_t i = 0; i < Numel(layout); ++i) {
    // Stored to a float between the two operations: the product is rounded whatever the compiler's contraction setting.
    volatile float product = x[i] * multipliers[ChannelOf(layout, i)];
    y[i] = product + offsets[ChannelOf(layout, i)];
  }
}

void QuantizePerChannelFloatQParamsRef(const float* x, const ChannelLayout& layout, const float* scales,
                                       const float* zero_points, QDType dtype, void* out) {
  const QRange range = RangeOf(dtype);
  const size_t n = Numel(layout);
  if (dtype == QDType::kQUInt4x2) std::memset(out, 0, (n + 1) / 2);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = ChannelOf(layout, i);
    StoreQuantizedRef(out, dtype, i,
                      QuantizeFloatQParamsValueRef(x[i], scales[c], zero_points[c], range.qmin, range.qmax));
  }
}

void DequantizePerTensorRef(const void* q, QDType dtype, size_t n, double scale, int64_t zero_point, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = DequantizePerTensorValueRef(LoadQuantizedRef(q, dtype, i), scale, zero_point);
}

void DequantizePerChannelRef(const void* q, QDType dtype, const ChannelLayout& layout, const double* scales,
                             const int64_t* zero_points, float* y) {
  const size_t n = Numel(layout);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = ChannelOf(layout, i);
    y[i] = DequantizePerChannelValueRef(LoadQuantizedRef(q, dtype, i), scales[c], zero_points[c]);
  }
}

void DequantizePerChannelFloatQParamsRef(const void* q, QDType dtype, const ChannelLayout& layout,
                                         const float* scales, const float* zero_points, float* y) {
  const size_t n = Numel(layout);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = ChannelOf(layout, i);
    y[i] = DequantizeFloatQParamsValueRef(LoadQuantizedRef(q, dtype, i), scales[c], zero_points[c]);
  }
}

}  // namespace qk
