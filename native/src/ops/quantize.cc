// Quantize / dequantize operators: argument checks, the split over threads, and the calls into the dispatched kernels.
#include "ops/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "ukernels/dispatch.h"
#include "ukernels/quantize/quantize-scalar.h"

// x * inv_scale + zero_point must stay two roundings, as in PyTorch. The build
// passes -ffp-contract=off; clang also gets told here, in case a build does not.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// ---- error messages: "Expected <what> for <parameter> but received <value>" ----

// Numbers as JavaScript prints them (the messages reach JS users): integers in
// full, NaN, Infinity, otherwise the shortest decimal that reads back exactly.
std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buffer[40];
  if (v == std::trunc(v) && std::fabs(v) < 1e21) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", v == 0 ? 0.0 : v);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  std::string text = buffer;
  // "1e-07" -> "1e-7", as JS writes exponents.
  const size_t e = text.find('e');
  if (e != std::string::npos) {
    size_t digits = e + 2;
    while (digits + 1 < text.size() && text[digits] == '0') text.erase(digits, 1);
  }
  return text;
}

std::string FormatInteger(int64_t v) { return std::to_string(v); }

std::string Indexed(const char* name, size_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }

// ---- argument checks ----------------------------------------------------------

bool IsKnownDType(QDType dtype) {
  switch (dtype) {
    case QDType::kQUInt8:
    case QDType::kQInt8:
    case QDType::kQInt32:
    case QDType::kQUInt4x2: return true;
  }
  return false;
}

Status CheckDType(QDType dtype) {
  if (IsKnownDType(dtype)) return Status::Ok();
  return Status::RangeError(Expected("one of quint8, qint8, qint32, quint4x2", "dtype",
                                     FormatInteger(static_cast<int>(dtype))));
}

// `parameter`: a name, or a callable that makes it (an indexed name is built only on failure).
template <typename Parameter>
Status CheckScale(double scale, Parameter&& parameter) {
  return ::qk::CheckScale(scale, ScaleRule::kPositiveFinite, "positive finite number", parameter, [&] { return FormatNumber(scale); });
}

template <typename Parameter>
Status CheckZeroPoint(int64_t zero_point, QDType dtype, Parameter&& parameter) {
  const QRange range = QDTypeRange(dtype);
  return ::qk::CheckZeroPoint(zero_point, range.qmin, range.qmax, parameter);
}

// A buffer of `length` units must exist and hold `needed` of them.
Status CheckBuffer(const void* data, size_t length, size_t needed, const char* parameter, const char* unit) {
  if (data == nullptr && needed > 0) return Status::TypeError(Expected("a buffer", parameter, "null"));
  if (length < needed) {
    return Status::RangeError(Expected("at least " + std::to_string(needed) + " " + unit, parameter,
                                       std::to_string(length) + " " + unit));
  }
  return Status::Ok();
}

Status CheckStorage(QDType dtype, size_t numel, const void* data, size_t bytes, const char* parameter) {
  size_t needed = 0;
  if (!QDTypeStorageBytes(dtype, numel, &needed)) {
    return Status::RangeError(Expected("an element count whose storage fits in memory", parameter,
                                       std::to_string(numel) + " elements"));
  }
  return CheckBuffer(data, bytes, needed, parameter, "bytes");
}

Status CheckLayout(const ChannelLayout& layout, size_t* numel) {
  size_t product = 0;
  if (!CheckedMul(layout.outer, layout.channels, &product) || !CheckedMul(product, layout.inner, &product)) {
    return Status::RangeError(Expected("a shape whose element count fits in memory", "input",
                                       std::to_string(layout.outer) + " x " + std::to_string(layout.channels) + " x " +
                                           std::to_string(layout.inner) + " (outer x channels x inner)"));
  }
  *numel = product;
  return Status::Ok();
}

// Per-channel parameter arrays: one value per channel, each checked.
Status CheckChannelCount(size_t channel_params_len, const ChannelLayout& layout, const void* scales,
                         const void* zero_points) {
  if (channel_params_len != layout.channels) {
    return Status::RangeError(Expected(std::to_string(layout.channels) + " values (one per channel)", "scales",
                                       std::to_string(channel_params_len) + " values"));
  }
  if (layout.channels > 0 && scales == nullptr) return Status::TypeError(Expected("an array", "scales", "null"));
  if (layout.channels > 0 && zero_points == nullptr) {
    return Status::TypeError(Expected("an array", "zeroPoints", "null"));
  }
  return Status::Ok();
}

Status CheckAffineChannelParams(const ChannelLayout& layout, const double* scales, const int64_t* zero_points,
                                size_t channel_params_len, QDType dtype) {
  QK_RETURN_IF_ERROR(CheckChannelCount(channel_params_len, layout, scales, zero_points));
  for (size_t c = 0; c < layout.channels; ++c) {
    QK_RETURN_IF_ERROR(CheckScale(scales[c], [&] { return Indexed("scales", c); }));
    QK_RETURN_IF_ERROR(CheckZeroPoint(zero_points[c], dtype, [&] { return Indexed("zeroPoints", c); }));
  }
  return Status::Ok();
}

Status CheckFloatQParams(const ChannelLayout& layout, const float* scales, const float* zero_points,
                         size_t channel_params_len, QDType dtype) {
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQUInt4x2) {
    return Status::RangeError(Expected("quint8 or quint4x2 (the dtypes with float zero points)", "dtype",
                                       IsKnownDType(dtype) ? QDTypeName(dtype)
                                                           : FormatInteger(static_cast<int>(dtype))));
  }
  QK_RETURN_IF_ERROR(CheckChannelCount(channel_params_len, layout, scales, zero_points));
  for (size_t c = 0; c < layout.channels; ++c) {
    QK_RETURN_IF_ERROR(CheckScale(scales[c], [&] { return Indexed("scales", c); }));
    if (!std::isfinite(zero_points[c])) {
      return Status::RangeError(Expected("finite number", Indexed("zeroPoints", c), FormatNumber(zero_points[c])));
    }
  }
  return Status::Ok();
}

// ---- the split over threads ------------------------------------------------------

// A rough single-core cost of one element of these SIMD loops (ParallelRanges' minimum-work test).
constexpr double kElementNs = 0.25;
// Task boundaries are multiples of this: even, so quint4x2 tasks own whole bytes,
// and a multiple of every kernel's vector width, so tasks end on full vectors.
constexpr size_t kTaskAlign = 64;

// fn(begin, end) over disjoint ranges covering [0, n). Every element is computed
// by the same formula wherever the cut falls, so the output does not depend on
// the thread count.
template <typename Fn>
void ParallelOverElements(size_t n, const Fn& fn) {
  ParallelRanges(n, kElementNs, kTaskAlign, fn);
}

// fn(channel, start, length) for each stretch of [begin, end) that lies in one
// channel's run of `inner` contiguous elements. Counters advance incrementally, so
// inner == 1 (channels last) costs no division per element.
template <typename Fn>
void ForEachChannelRun(const ChannelLayout& layout, size_t begin, size_t end, const Fn& fn) {
  if (begin >= end) return;
  const size_t run = begin / layout.inner;
  size_t channel = run % layout.channels;
  size_t offset = begin - run * layout.inner;
  for (size_t i = begin; i < end;) {
    const size_t length = std::min(layout.inner - offset, end - i);
    fn(channel, i, length);
    i += length;
    offset = 0;
    if (++channel == layout.channels) channel = 0;
  }
}

// Runs at least this long go through the dispatched kernel; shorter ones loop
// over QuantizeValue, the same formula, to skip a call per element.
constexpr size_t kMinKernelRun = 16;

// ---- quint4x2 (two values per byte, element 2i in the low nibble of byte i) ----------

constexpr size_t kNibbleChunk = 512;  // even, so chunks start on byte boundaries

// produce(start, length, values) writes `length` values in [0, 15]; they are packed
// into bytes. begin must be even; an odd end leaves the last high nibble 0, as in PyTorch.
template <typename Fn>
void PackNibbles(size_t begin, size_t end, uint8_t* packed, const Fn& produce) {
  uint8_t values[kNibbleChunk];
  for (size_t chunk = begin; chunk < end; chunk += kNibbleChunk) {
    const size_t length = std::min(kNibbleChunk, end - chunk);
    produce(chunk, length, values);
    for (size_t j = 0; j < length; j += 2) {
      const uint8_t high = j + 1 < length ? values[j + 1] : 0;
      packed[(chunk + j) / 2] = static_cast<uint8_t>(values[j] | (high << 4));
    }
  }
}

// consume(start, length, values) receives the unpacked values of [begin, end), begin even.
template <typename Fn>
void UnpackNibbles(size_t begin, size_t end, const uint8_t* packed, const Fn& consume) {
  uint8_t values[kNibbleChunk];
  for (size_t chunk = begin; chunk < end; chunk += kNibbleChunk) {
    const size_t length = std::min(kNibbleChunk, end - chunk);
    for (size_t j = 0; j < length; ++j) {
      const size_t i = chunk + j;
      values[j] = static_cast<uint8_t>((packed[i / 2] >> (4 * (i % 2))) & 0xF);
    }
    consume(chunk, length, values);
  }
}

// ---- qint32 and float-qparams formulas (scalar only) --------------------------------

// quantize_val for qint32: PyTorch adds the zero point to the rounded value as a
// float (int64 + float), so large zero points lose bits; the float -> int64
// conversion gives INT64_MIN (hence qmin) for NaN and |sum| >= 2^63.
int32_t QuantizeInt32Value(float x, float inv_scale, float zero_point) {
  const float sum = zero_point + std::nearbyint(x * inv_scale);
  if (!(std::fabs(sum) < kQuantizeInvalidLimit)) return INT32_MIN;
  const int64_t q = static_cast<int64_t>(sum);
  return static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(q, INT32_MIN), INT32_MAX));
}

// dequantize_val for qint32: the subtraction is int32 and wraps, as in PyTorch.
float DequantizeInt32Value(int32_t q, float scale, int32_t zero_point) {
  const uint32_t difference = static_cast<uint32_t>(q) - static_cast<uint32_t>(zero_point);
  return scale * static_cast<float>(static_cast<int32_t>(difference));
}

// Per-channel affine dequantize: PyTorch subtracts in float, multiplies by the
// double scale, and stores the double as float (two roundings, not one).
float DequantizePerChannelValue(int32_t q, double scale, float zero_point) {
  return static_cast<float>(static_cast<double>(static_cast<float>(q) - zero_point) * scale);
}

// quantize_val_float_qparams: lrintf(x * inv_scale + zero_point), fp32 multiply
// then fp32 add; PyTorch keeps lrintf's 64-bit result in an int, i.e. its low 32
// bits, and lrintf of NaN or |v| >= 2^63 is INT64_MIN, whose low bits are 0.
int32_t QuantizeFloatQParamsValue(float x, float inv_scale, float zero_point, int32_t qmin, int32_t qmax) {
  const float value = x * inv_scale + zero_point;
  int32_t q = 0;
  if (std::fabs(value) < kQuantizeInvalidLimit) {
    q = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(std::llrint(value))));
  }
  return std::min(std::max(q, qmin), qmax);
}

float DequantizeFloatQParamsValue(int32_t q, float scale, float zero_point) {
  return (static_cast<float>(q) - zero_point) * scale;
}

// qint32 storage is accessed through memcpy: correct for any alignment, and
// compiled to plain loads and stores.
inline void StoreInt32(void* out, size_t i, int32_t v) { std::memcpy(static_cast<char*>(out) + 4 * i, &v, 4); }
inline int32_t LoadInt32(const void* q, size_t i) {
  int32_t v;
  std::memcpy(&v, static_cast<const char*>(q) + 4 * i, 4);
  return v;
}

QuantizeParams MakeQuantizeParams(double scale, int64_t zero_point, QDType dtype) {
  const QRange range = QDTypeRange(dtype);
  // PyTorch: inv_scale = 1.0f / static_cast<float>(scale), the reciprocal in fp32
  // of the scale rounded to fp32 (not the double reciprocal rounded). A positive scale
  // below fp32's range rounds to 0: the 8- and 32-bit paths then divide (inv_scale =
  // inf), while the sub-byte path (quint4x2) guards it with inv_scale = 1.
  const float scale_f = static_cast<float>(scale);
  const float inv_scale = (dtype == QDType::kQUInt4x2 && scale_f == 0.0f) ? 1.0f : 1.0f / scale_f;
  return QuantizeParams{inv_scale, static_cast<int32_t>(zero_point), static_cast<int32_t>(range.qmin),
                        static_cast<int32_t>(range.qmax)};
}

// Per-channel affine quantize of 8-bit values (quint8, qint8, or quint4x2 values
// before packing) for elements [start, start + length) into y[0, length).
template <typename T>
void QuantizeChannelRuns(void (*kernel)(size_t, const float*, T*, const QuantizeParams*), const float* x,
                         const ChannelLayout& layout, const std::vector<QuantizeParams>& params, size_t start,
                         size_t length, T* y) {
  ForEachChannelRun(layout, start, start + length, [&](size_t channel, size_t i, size_t run) {
    const QuantizeParams& p = params[channel];
    T* out = y + (i - start);
    if (run >= kMinKernelRun) {
      kernel(run, x + i, out, &p);
    } else {
      const QuantizeBounds bounds = MakeQuantizeBounds(p);
      for (size_t j = 0; j < run; ++j) {
        out[j] = static_cast<T>(QuantizeValue(x[i + j], p.inv_scale, p.zero_point, bounds));
      }
    }
  });
}

}  // namespace

QRange QDTypeRange(QDType dtype) {
  switch (dtype) {
    case QDType::kQUInt8: return {0, 255};
    case QDType::kQInt8: return {-128, 127};
    case QDType::kQInt32: return {INT32_MIN, INT32_MAX};
    case QDType::kQUInt4x2: return {0, 15};
  }
  return {0, 0};
}

const char* QDTypeName(QDType dtype) {
  switch (dtype) {
    case QDType::kQUInt8: return "quint8";
    case QDType::kQInt8: return "qint8";
    case QDType::kQInt32: return "qint32";
    case QDType::kQUInt4x2: return "quint4x2";
  }
  return "unknown";
}

bool QDTypeStorageBytes(QDType dtype, size_t numel, size_t* bytes) {
  switch (dtype) {
    case QDType::kQUInt8:
    case QDType::kQInt8: *bytes = numel; return true;
    case QDType::kQInt32: return CheckedBytes(numel, 4, bytes);
    case QDType::kQUInt4x2: *bytes = numel / 2 + numel % 2; return true;
  }
  return false;
}

Status QuantizePerTensor(const float* x, size_t n, double scale, int64_t zero_point, QDType dtype, void* out,
                         size_t out_bytes) {
  QK_RETURN_IF_ERROR(CheckDType(dtype));
  QK_RETURN_IF_ERROR(CheckScale(scale, "scale"));
  QK_RETURN_IF_ERROR(CheckZeroPoint(zero_point, dtype, "zeroPoint"));
  QK_RETURN_IF_ERROR(CheckBuffer(x, n, n, "input", "elements"));
  QK_RETURN_IF_ERROR(CheckStorage(dtype, n, out, out_bytes, "output"));
  const QuantizeParams params = MakeQuantizeParams(scale, zero_point, dtype);
  const DispatchTable& table = Dispatch();  // read once: a concurrent SetMaxIsa never splits one call
  switch (dtype) {
    case QDType::kQUInt8: {
      uint8_t* y = static_cast<uint8_t*>(out);
      ParallelOverElements(n, [&](size_t b, size_t e) { table.f32_qu8_quantize(e - b, x + b, y + b, &params); });
      break;
    }
    case QDType::kQInt8: {
      int8_t* y = static_cast<int8_t*>(out);
      ParallelOverElements(n, [&](size_t b, size_t e) { table.f32_qs8_quantize(e - b, x + b, y + b, &params); });
      break;
    }
    case QDType::kQUInt4x2: {
      // The quint8 kernel with qmax = 15 computes PyTorch's sub-byte formula
      // (lrintf(nearbyint(x * inv_scale) + zero_point), clamped to [0, 15]).
      uint8_t* packed = static_cast<uint8_t*>(out);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        PackNibbles(b, e, packed, [&](size_t start, size_t length, uint8_t* values) {
          table.f32_qu8_quantize(length, x + start, values, &params);
        });
      });
      break;
    }
    case QDType::kQInt32: {
      const float zero_point_f = static_cast<float>(zero_point);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) StoreInt32(out, i, QuantizeInt32Value(x[i], params.inv_scale, zero_point_f));
      });
      break;
    }
  }
  return Status::Ok();
}

Status QuantizePerChannel(const float* x, size_t x_len, const ChannelLayout& layout, const double* scales,
                          const int64_t* zero_points, size_t channel_params_len, QDType dtype, void* out,
                          size_t out_bytes) {
  QK_RETURN_IF_ERROR(CheckDType(dtype));
  size_t n = 0;
  QK_RETURN_IF_ERROR(CheckLayout(layout, &n));
  QK_RETURN_IF_ERROR(CheckAffineChannelParams(layout, scales, zero_points, channel_params_len, dtype));
  QK_RETURN_IF_ERROR(CheckBuffer(x, x_len, n, "input", "elements"));
  QK_RETURN_IF_ERROR(CheckStorage(dtype, n, out, out_bytes, "output"));
  std::vector<QuantizeParams> params(layout.channels);
  for (size_t c = 0; c < layout.channels; ++c) params[c] = MakeQuantizeParams(scales[c], zero_points[c], dtype);
  const DispatchTable& table = Dispatch();
  switch (dtype) {
    case QDType::kQUInt8: {
      uint8_t* y = static_cast<uint8_t*>(out);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        QuantizeChannelRuns(table.f32_qu8_quantize, x, layout, params, b, e - b, y + b);
      });
      break;
    }
    case QDType::kQInt8: {
      int8_t* y = static_cast<int8_t*>(out);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        QuantizeChannelRuns(table.f32_qs8_quantize, x, layout, params, b, e - b, y + b);
      });
      break;
    }
    case QDType::kQUInt4x2: {
      // PyTorch 1.13 has no per_channel_affine kernel for quint4x2; this applies
      // the same affine formula as its per-tensor quint4x2 path.
      uint8_t* packed = static_cast<uint8_t*>(out);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        PackNibbles(b, e, packed, [&](size_t start, size_t length, uint8_t* values) {
          QuantizeChannelRuns(table.f32_qu8_quantize, x, layout, params, start, length, values);
        });
      });
      break;
    }
    case QDType::kQInt32: {
      ParallelOverElements(n, [&](size_t b, size_t e) {
        ForEachChannelRun(layout, b, e, [&](size_t channel, size_t i, size_t run) {
          const float inv_scale = params[channel].inv_scale;
          const float zero_point_f = static_cast<float>(zero_points[channel]);
          for (size_t j = i; j < i + run; ++j) StoreInt32(out, j, QuantizeInt32Value(x[j], inv_scale, zero_point_f));
        });
      });
      break;
    }
  }
  return Status::Ok();
}

Status ScaleShiftChannels(const float* x, size_t x_len, const ChannelLayout& layout, const float* multipliers,
                          const float* offsets, size_t channel_params_len, float* y, size_t y_len) {
  size_t n = 0;
  QK_RETURN_IF_ERROR(CheckLayout(layout, &n));
  if (channel_params_len != layout.channels) {
    return Status::RangeError(Expected(std::to_string(layout.channels) + " values (one per channel)", "multipliers",
                                       std::to_string(channel_params_len) + " values"));
  }
  if (layout.channels > 0 && (multipliers == nullptr || offsets == nullptr)) {
    return Status::TypeError(Expected("an array", multipliers == nullptr ? "multipliers" : "offsets", "null"));
  }
  QK_RETURN_IF_ERROR(CheckBuffer(x, x_len, n, "input", "elements"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, n, "output", "elements"));
  // Elementwise, so any split gives the same bits; the compiler vectorizes the inner loop
  // (multiply and add stay two roundings: -ffp-contract=off).
  ParallelOverElements(n, [&](size_t begin, size_t end) {
    size_t i = begin;
    while (i < end) {
      const size_t c = (i / layout.inner) % layout.channels;
      const size_t run_end = std::min(end, (i / layout.inner + 1) * layout.inner);
      const float a = multipliers[c];
      const float b = offsets[c];
      for (; i < run_end; ++i) {
        const float scaled = x[i] * a;
        y[i] = scaled + b;
      }
    }
  });
  return Status::Ok();
}

Status QuantizePerChannelFloatQParams(const float* x, size_t x_len, const ChannelLayout& layout, const float* scales,
                                      const float* zero_points, size_t channel_params_len, QDType dtype, void* out,
                                      size_t out_bytes) {
  size_t n = 0;
  QK_RETURN_IF_ERROR(CheckLayout(layout, &n));
  QK_RETURN_IF_ERROR(CheckFloatQParams(layout, scales, zero_points, channel_params_len, dtype));
  QK_RETURN_IF_ERROR(CheckBuffer(x, x_len, n, "input", "elements"));
  QK_RETURN_IF_ERROR(CheckStorage(dtype, n, out, out_bytes, "output"));
  const QRange range = QDTypeRange(dtype);
  const int32_t qmin = static_cast<int32_t>(range.qmin), qmax = static_cast<int32_t>(range.qmax);
  std::vector<float> inv_scales(layout.channels);
  for (size_t c = 0; c < layout.channels; ++c) inv_scales[c] = 1.0f / scales[c];  // PyTorch: fp32 reciprocal
  // Values of [start, start + length) into y[0, length).
  auto quantize = [&](size_t start, size_t length, uint8_t* y) {
    ForEachChannelRun(layout, start, start + length, [&](size_t channel, size_t i, size_t run) {
      const float inv_scale = inv_scales[channel], zero_point = zero_points[channel];
      uint8_t* values = y + (i - start);
      for (size_t j = 0; j < run; ++j) {
        values[j] = static_cast<uint8_t>(QuantizeFloatQParamsValue(x[i + j], inv_scale, zero_point, qmin, qmax));
      }
    });
  };
  uint8_t* bytes = static_cast<uint8_t*>(out);
  if (dtype == QDType::kQUInt4x2) {
    ParallelOverElements(n, [&](size_t b, size_t e) { PackNibbles(b, e, bytes, quantize); });
  } else {
    ParallelOverElements(n, [&](size_t b, size_t e) { quantize(b, e - b, bytes + b); });
  }
  return Status::Ok();
}

Status DequantizePerTensor(const void* q, size_t q_bytes, QDType dtype, size_t n, double scale, int64_t zero_point,
                           float* y, size_t y_len) {
  QK_RETURN_IF_ERROR(CheckDType(dtype));
  QK_RETURN_IF_ERROR(CheckScale(scale, "scale"));
  QK_RETURN_IF_ERROR(CheckZeroPoint(zero_point, dtype, "zeroPoint"));
  QK_RETURN_IF_ERROR(CheckStorage(dtype, n, q, q_bytes, "input"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, n, "output", "elements"));
  const DequantizeParams params{static_cast<float>(scale), static_cast<int32_t>(zero_point)};
  const DispatchTable& table = Dispatch();
  switch (dtype) {
    case QDType::kQUInt8: {
      const uint8_t* in = static_cast<const uint8_t*>(q);
      ParallelOverElements(n, [&](size_t b, size_t e) { table.qu8_f32_dequantize(e - b, in + b, y + b, &params); });
      break;
    }
    case QDType::kQInt8: {
      const int8_t* in = static_cast<const int8_t*>(q);
      ParallelOverElements(n, [&](size_t b, size_t e) { table.qs8_f32_dequantize(e - b, in + b, y + b, &params); });
      break;
    }
    case QDType::kQUInt4x2: {
      // PyTorch computes (float(q) - zero_point) * scale here; for 4-bit values
      // float(q) - zero_point is exact, so it equals the kernel's scale * float(q - zp).
      const uint8_t* packed = static_cast<const uint8_t*>(q);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        UnpackNibbles(b, e, packed, [&](size_t start, size_t length, const uint8_t* values) {
          table.qu8_f32_dequantize(length, values, y + start, &params);
        });
      });
      break;
    }
    case QDType::kQInt32: {
      ParallelOverElements(n, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) y[i] = DequantizeInt32Value(LoadInt32(q, i), params.scale, params.zero_point);
      });
      break;
    }
  }
  return Status::Ok();
}

namespace {

// Per-channel dequantize, either qscheme: value(q, channel) for every element,
// q read from any storage dtype.
template <typename ValueFn>
void DequantizeEachPerChannel(const void* q, QDType dtype, const ChannelLayout& layout, size_t n, float* y,
                              const ValueFn& value) {
  // Values of [start, start + length) read through load(i).
  auto run_all = [&](size_t start, size_t length, const auto& load) {
    ForEachChannelRun(layout, start, start + length, [&](size_t channel, size_t i, size_t run) {
      for (size_t j = i; j < i + run; ++j) y[j] = value(load(j), channel);
    });
  };
  switch (dtype) {
    case QDType::kQUInt8: {
      const uint8_t* in = static_cast<const uint8_t*>(q);
      ParallelOverElements(n, [&](size_t b, size_t e) { run_all(b, e - b, [&](size_t i) { return int32_t{in[i]}; }); });
      break;
    }
    case QDType::kQInt8: {
      const int8_t* in = static_cast<const int8_t*>(q);
      ParallelOverElements(n, [&](size_t b, size_t e) { run_all(b, e - b, [&](size_t i) { return int32_t{in[i]}; }); });
      break;
    }
    case QDType::kQInt32: {
      ParallelOverElements(n, [&](size_t b, size_t e) {
        run_all(b, e - b, [&](size_t i) { return LoadInt32(q, i); });
      });
      break;
    }
    case QDType::kQUInt4x2: {
      const uint8_t* packed = static_cast<const uint8_t*>(q);
      ParallelOverElements(n, [&](size_t b, size_t e) {
        UnpackNibbles(b, e, packed, [&](size_t start, size_t length, const uint8_t* values) {
          run_all(start, length, [&](size_t i) { return int32_t{values[i - start]}; });
        });
      });
      break;
    }
  }
}

}  // namespace

Status DequantizePerChannel(const void* q, size_t q_bytes, QDType dtype, const ChannelLayout& layout,
                            const double* scales, const int64_t* zero_points, size_t channel_params_len, float* y,
                            size_t y_len) {
  QK_RETURN_IF_ERROR(CheckDType(dtype));
  size_t n = 0;
  QK_RETURN_IF_ERROR(CheckLayout(layout, &n));
  QK_RETURN_IF_ERROR(CheckAffineChannelParams(layout, scales, zero_points, channel_params_len, dtype));
  QK_RETURN_IF_ERROR(CheckStorage(dtype, n, q, q_bytes, "input"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, n, "output", "elements"));
  // PyTorch subtracts the int64 zero point from float(q) in float arithmetic.
  std::vector<float> zero_points_f(layout.channels);
  for (size_t c = 0; c < layout.channels; ++c) zero_points_f[c] = static_cast<float>(zero_points[c]);
  DequantizeEachPerChannel(q, dtype, layout, n, y, [&](int32_t value, size_t channel) {
    return DequantizePerChannelValue(value, scales[channel], zero_points_f[channel]);
  });
  return Status::Ok();
}

Status DequantizePerChannelFloatQParams(const void* q, size_t q_bytes, QDType dtype, const ChannelLayout& layout,
                                        const float* scales, const float* zero_points, size_t channel_params_len,
                                        float* y, size_t y_len) {
  size_t n = 0;
  QK_RETURN_IF_ERROR(CheckLayout(layout, &n));
  QK_RETURN_IF_ERROR(CheckFloatQParams(layout, scales, zero_points, channel_params_len, dtype));
  QK_RETURN_IF_ERROR(CheckStorage(dtype, n, q, q_bytes, "input"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, n, "output", "elements"));
  DequantizeEachPerChannel(q, dtype, layout, n, y, [&](int32_t value, size_t channel) {
    return DequantizeFloatQParamsValue(value, scales[channel], zero_points[channel]);
  });
  return Status::Ok();
}

namespace {
// PyTorch's SMALL_SCALE_THRESHOLD (fp16's smallest normal, so scales stay out of
// fp16 subnormals); a float, and it stays a float in the arithmetic below.
constexpr float kSmallScaleThreshold = 6.1e-5f;
}  // namespace

Status ChooseQuantizationParams(float min, float max, QDType dtype, bool reduce_range, ChosenQParams* out) {
  if (out == nullptr) return Status::TypeError(Expected("an output", "out", "null"));
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "dtype",
                                       IsKnownDType(dtype) ? QDTypeName(dtype)
                                                           : FormatInteger(static_cast<int>(dtype))));
  }
  if (!std::isfinite(min)) return Status::RangeError(Expected("finite number", "min", FormatNumber(min)));
  if (!std::isfinite(max)) return Status::RangeError(Expected("finite number", "max", FormatNumber(max)));
  if (!(min <= max)) {
    return Status::RangeError(Expected("number <= max (" + FormatNumber(max) + ")", "min", FormatNumber(min)));
  }
  // What follows is quant_utils::ChooseQuantizationParams with preserve_sparsity
  // and force_scale_power_of_two false, statement for statement, keeping its
  // float / double / int types: each one changes a rounding somewhere.
  int32_t qmin = dtype == QDType::kQInt8 ? -128 : 0;
  int32_t qmax = dtype == QDType::kQInt8 ? 127 : 255;
  if (reduce_range) {
    qmin = qmin / 2;  // truncates toward zero: qint8 gives [-64, 63], quint8 [0, 127]
    qmax = qmax / 2;
  }
  // Widen [min, max] to contain 0, so that real 0 is exactly representable.
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  double scale = (static_cast<double>(max) - min) / (qmax - qmin);
  // A scale whose float reciprocal overflows would break kernels that multiply by it.
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) scale = 0.1;
  if (scale < kSmallScaleThreshold) {
    const float original_scale = static_cast<float>(scale);
    scale = kSmallScaleThreshold;
    if (min == 0.0f) {
      max = kSmallScaleThreshold * static_cast<float>(qmax - qmin);
    } else if (max == 0.0f) {
      min = -kSmallScaleThreshold * static_cast<float>(qmax - qmin);
    } else {
      const float amplifier = kSmallScaleThreshold / original_scale;
      min *= amplifier;
      max *= amplifier;
    }
  }
  // Of the two zero points the range ends imply, take the one computed from the
  // smaller terms (the smaller rounding error).
  const double zero_point_from_min = qmin - min / scale;
  const double zero_point_from_max = qmax - max / scale;
  const double zero_point_from_min_error = std::abs(qmin) - std::abs(min / scale);
  const double zero_point_from_max_error = std::abs(qmax) - std::abs(max / scale);
  const double initial_zero_point =
      zero_point_from_min_error < zero_point_from_max_error ? zero_point_from_min : zero_point_from_max;
  int32_t zero_point = 0;
  if (initial_zero_point < qmin) {
    zero_point = qmin;
  } else if (initial_zero_point > qmax) {
    zero_point = qmax;
  } else {
    zero_point = static_cast<int32_t>(std::nearbyint(initial_zero_point));
  }
  out->scale = scale;
  out->zero_point = zero_point;
  return Status::Ok();
}

bool AllFinite(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

void MinMax(const float* x, size_t n, float* min, float* max) {
  if (n == 0) {
    *min = *max = NAN;
    return;
  }
  struct Partial {
    float min, max;
    bool nan;
  };
  // Each task scans its range in order keeping the first of equal values (so
  // -0.0 vs 0.0 is decided by position); merging the partials in task order
  // with the same strict comparisons gives exactly the sequential scan's answer.
  auto scan = [x](size_t begin, size_t end) {
    Partial p{x[begin], x[begin], false};
    for (size_t i = begin; i < end; ++i) {
      const float v = x[i];
      if (v < p.min) p.min = v;
      if (v > p.max) p.max = v;
      p.nan |= std::isnan(v);
    }
    return p;
  };
  size_t begin = 0, end = 0;
  const size_t parts = SplitRange(n, UsefulThreads(static_cast<double>(n) * kElementNs), kTaskAlign, 0, &begin, &end);
  std::vector<Partial> partials(parts);
  ParallelFor(parts, [&](size_t task) {
    size_t task_begin = 0, task_end = 0;
    SplitRange(n, parts, kTaskAlign, task, &task_begin, &task_end);
    partials[task] = scan(task_begin, task_end);
  });
  Partial result = partials[0];
  for (size_t t = 1; t < parts; ++t) {
    if (partials[t].min < result.min) result.min = partials[t].min;
    if (partials[t].max > result.max) result.max = partials[t].max;
    result.nan |= partials[t].nan;
  }
  // As torch.min / torch.max: any NaN makes both NaN (ChooseQuantizationParams then refuses them).
  *min = result.nan ? NAN : result.min;
  *max = result.nan ? NAN : result.max;
}

}  // namespace qk
