// Embedding-bag table packing: PyTorch 1.13's rowwise 8-bit / 4-bit prepack and unpack, byte for byte (see the header).
#include "pack/embedding-pack.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "ukernels/embedding/embedding-common.h"

// (x - mn) * inv and scale * q + bias must stay two roundings, as in PyTorch.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

uint32_t FloatBits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return bits;
}

// lrintf as PyTorch's x86 build computes it: NaN and |v| >= 2^63 give INT64_MIN
// (cvtss2si's "integer indefinite"), whatever this platform's lrintf does there.
int64_t LrintfX86(float v) {
  if (std::isnan(v) || std::fabs(v) >= 9.223372036854775808e18f) return INT64_MIN;
  return static_cast<int64_t>(std::lrintf(v));
}

// std::min_element / std::max_element: the first element no later element compares below / above.
void RowMinMax(const float* x, size_t n, float* mn, float* mx) {
  float lo = x[0], hi = x[0];
  for (size_t i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (hi < x[i]) hi = x[i];
  }
  *mn = lo;
  *mx = hi;
}

float RoundToHalf(float v) { return HalfBitsToFloat(FloatToHalfBits(v)); }

void StoreFloat(uint8_t* p, float v) { std::memcpy(p, &v, 4); }
void StoreHalf(uint8_t* p, uint16_t h) {
  p[0] = static_cast<uint8_t>(h & 0xFF);
  p[1] = static_cast<uint8_t>(h >> 8);
}

void PrepackRowU8(const float* x, size_t dim, uint8_t* out) {
  constexpr float kEpsilon = 1e-8f;
  float mn = 0, mx = 0;
  if (dim > 0) RowMinMax(x, dim, &mn, &mx);
  // PyTorch reads *min_element of an empty row (undefined); an empty row stores zeros here.
  const float range = mx - mn;
  StoreFloat(out + dim, range / 255.0f);
  StoreFloat(out + dim + 4, mn);
  const float inverse_scale = 255.0f / (range + kEpsilon);
  for (size_t j = 0; j < dim; ++j) {
    out[j] = static_cast<uint8_t>(static_cast<uint64_t>(LrintfX86((x[j] - mn) * inverse_scale)) & 0xFFu);
  }
}

// calculate_quant_loss (aten/src/ATen/native/quantized/QTensor.cpp) for 4 bits.
float QuantLoss4(const float* x, size_t n, float xmin, float xmax) {
  xmin = RoundToHalf(xmin);
  const float data_range = xmax - xmin;
  const float qmax = 15.0f;
  const float scale = data_range == 0 ? 1.0f : RoundToHalf(data_range / qmax);
  const float inverse_scale = scale == 0 ? 1.0f : 1.0f / scale;
  float norm = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float q = std::nearbyint((x[i] - xmin) * inverse_scale);
    q = std::max(0.0f, std::min<float>(q, qmax));
    q = q * scale + xmin;
    norm += (x[i] - q) * (x[i] - q);
  }
  return std::sqrt(norm);
}

// choose_qparams_optimized(row, n, n_bins = 200, ratio = 0.16, bit_width = 4).
void ChooseQParamsOptimized4(const float* x, size_t n, float* out_min, float* out_max) {
  constexpr int64_t kBins = 200;
  constexpr double kRatio = 0.16;
  float xmin, xmax;
  RowMinMax(x, n, &xmin, &xmax);
  const float stepsize = (xmax - xmin) / static_cast<float>(kBins);
  const int min_bins = static_cast<int>(static_cast<double>(kBins) * (1.0 - static_cast<double>(static_cast<float>(kRatio))));
  const float loss = QuantLoss4(x, n, xmin, xmax);
  float best_loss = loss;
  float cur_min = xmin, cur_max = xmax, cur_loss = loss;
  const float thr = static_cast<float>(min_bins) * stepsize;
  while (cur_min + thr < cur_max) {
    const float left = cur_min + stepsize;
    const float right = cur_max - stepsize;
    // PyTorch would loop forever here: neither end can move any more.
    if (left == cur_min && right == cur_max) break;
    const float loss1 = QuantLoss4(x, n, left, cur_max);
    const float loss2 = QuantLoss4(x, n, cur_min, right);
    if (cur_loss < loss1 && cur_loss < loss2 && cur_loss < best_loss) {
      best_loss = cur_loss;
      xmin = cur_min;
      xmax = cur_max;
    }
    if (loss1 < loss2) {
      if (left == cur_min) break;
      cur_min = left;
      cur_loss = loss1;
    } else {
      if (right == cur_max) break;
      cur_max = right;
      cur_loss = loss2;
    }
  }
  *out_min = xmin;
  *out_max = xmax;
}

void PrepackRowU4(const float* x, size_t dim, bool optimized_qparams, uint8_t* out) {
  float xmin = 0, xmax = 0;
  if (dim > 0) {
    if (optimized_qparams) {
      ChooseQParamsOptimized4(x, dim, &xmin, &xmax);
    } else {
      RowMinMax(x, dim, &xmin, &xmax);
    }
  }
  xmin = RoundToHalf(xmin);
  const float range = xmax - xmin;
  uint16_t scale_bits = FloatToHalfBits(range == 0 ? 1.0f : range / 15.0f);
  const float scale = HalfBitsToFloat(scale_bits);
  float inverse_scale = scale == 0 ? 1.0f : 1.0f / scale;
  if (scale == 0 || std::isinf(inverse_scale)) {
    scale_bits = FloatToHalfBits(1.0f);
    inverse_scale = 1.0f;
  }
  const size_t data_bytes = dim / 2;
  StoreHalf(out + data_bytes, scale_bits);
  StoreHalf(out + data_bytes + 2, FloatToHalfBits(xmin));
  for (size_t j = 0; j < dim; ++j) {
    // lrintf's long stored in an int (the low 32 bits), then clamped to [0, 15].
    const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(LrintfX86((x[j] - xmin) * inverse_scale))));
    const uint8_t q = static_cast<uint8_t>(std::max(0, std::min(v, 15)));
    if (j % 2 == 0) {
      out[j / 2] = q;
    } else {
      out[j / 2] = static_cast<uint8_t>(out[j / 2] | (q << 4));
    }
  }
}

Status CheckBits(int bits) {
  if (bits == 8 || bits == 4) return Status::Ok();
  return Status::RangeError(Expected("8 or 4", "bits", std::to_string(bits)));
}

// fn(row) for every row, split over the thread pool in contiguous ranges.
template <typename Fn>
void ParallelOverRows(size_t rows, size_t row_cost, const Fn& fn) {
  constexpr size_t kMinCostPerTask = 1 << 16;
  const size_t threads = static_cast<size_t>(GetNumThreads());
  const size_t total = rows * std::max<size_t>(row_cost, 1);
  const size_t wanted = std::min(threads, std::max<size_t>(total / kMinCostPerTask, 1));
  if (wanted <= 1 || rows < 2) {
    for (size_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  size_t begin = 0, end = 0;
  const size_t parts = SplitRange(rows, wanted, 1, 0, &begin, &end);
  ParallelFor(parts, [&](size_t task) {
    size_t b = 0, e = 0;
    SplitRange(rows, parts, 1, task, &b, &e);
    for (size_t r = b; r < e; ++r) fn(r);
  });
}

}  // namespace

uint16_t FloatToHalfBits(float value) {
  const uint32_t x = FloatBits(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t magnitude = x & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (magnitude >= 0x38800000u) {
    // Normal half: round the 23-bit mantissa to 10 bits (ties to even), rebias 127 -> 15;
    // a carry out of the mantissa correctly bumps the exponent.
    const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (magnitude <= 0x33000000u) return sign;  // <= 2^-25: rounds to zero (2^-25 is a tie, to even 0)
  // Subnormal half: the value in units of 2^-24 is m * 2^(e - 126), shifted right by 126 - e in [14, 24].
  const uint32_t exponent = magnitude >> 23;
  const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - exponent;
  uint32_t q = mantissa >> shift;
  const uint32_t remainder = mantissa & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (remainder > half || (remainder == half && (q & 1u) != 0)) ++q;
  return static_cast<uint16_t>(sign | q);
}

float HalfBitsToFloat(uint16_t bits) { return embedding::HalfToFloat(bits); }

bool EmbeddingPackedRowBytes(int bits, size_t dim, size_t* row_bytes) {
  if (bits == 8) return CheckedAdd(dim, 8, row_bytes);
  if (bits == 4 && dim % 2 == 0) return CheckedAdd(dim / 2, 4, row_bytes);
  return false;
}

Status EmbeddingBagPrepack(int bits, const float* weight, size_t weight_len, size_t rows, size_t dim,
                           bool optimized_qparams, uint8_t* out, size_t out_bytes) {
  QK_RETURN_IF_ERROR(CheckBits(bits));
  if (bits == 4 && dim % 2 != 0) {
    return Status::RangeError(Expected("an even embedding dim (4-bit rows pack two values per byte)", "weight",
                                       std::to_string(dim) + " columns"));
  }
  if (optimized_qparams && bits != 4) {
    return Status::RangeError(Expected("false (optimized qparams exist for 4-bit tables)", "optimizedQparams", "true"));
  }
  size_t numel = 0, row_bytes = 0, packed = 0;
  if (!CheckedMul(rows, dim, &numel) || !EmbeddingPackedRowBytes(bits, dim, &row_bytes) ||
      !CheckedMul(rows, row_bytes, &packed)) {
    return Status::RangeError(Expected("a table whose size fits in memory", "weight",
                                       std::to_string(rows) + " x " + std::to_string(dim)));
  }
  if (weight_len < numel || (numel > 0 && weight == nullptr)) {
    return Status::RangeError(Expected(std::to_string(numel) + " floats", "weight", std::to_string(weight_len)));
  }
  if (out_bytes < packed || (packed > 0 && out == nullptr)) {
    return Status::RangeError(Expected(std::to_string(packed) + " bytes", "output", std::to_string(out_bytes)));
  }
  ParallelOverRows(rows, dim, [&](size_t r) {
    if (bits == 8) {
      PrepackRowU8(weight + r * dim, dim, out + r * row_bytes);
    } else {
      PrepackRowU4(weight + r * dim, dim, optimized_qparams, out + r * row_bytes);
    }
  });
  return Status::Ok();
}

Status EmbeddingBagPackQuantized(int bits, const uint8_t* q, size_t q_bytes, size_t rows, size_t dim,
                                 const float* scales, const float* zero_points, size_t qparams_len, uint8_t* out,
                                 size_t out_bytes) {
  QK_RETURN_IF_ERROR(CheckBits(bits));
  size_t row_bytes = 0, packed = 0, needed = 0;
  if (!EmbeddingPackedRowBytes(bits, dim, &row_bytes) || !CheckedMul(rows, row_bytes, &packed) ||
      !CheckedMul(rows, bits == 8 ? dim : dim / 2, &needed)) {
    return Status::RangeError(Expected(bits == 4 ? "an even embedding dim" : "a table that fits in memory", "weight",
                                       std::to_string(rows) + " x " + std::to_string(dim)));
  }
  if (q_bytes < needed || (needed > 0 && q == nullptr)) {
    return Status::RangeError(Expected(std::to_string(needed) + " bytes", "weight", std::to_string(q_bytes)));
  }
  if (qparams_len != rows || (rows > 0 && (scales == nullptr || zero_points == nullptr))) {
    return Status::RangeError(Expected(std::to_string(rows) + " scales and zero points (one per row)", "scales",
                                       std::to_string(qparams_len)));
  }
  if (out_bytes < packed || (packed > 0 && out == nullptr)) {
    return Status::RangeError(Expected(std::to_string(packed) + " bytes", "output", std::to_string(out_bytes)));
  }
  const size_t data_bytes = bits == 8 ? dim : dim / 2;
  for (size_t r = 0; r < rows; ++r) {
    uint8_t* row = out + r * row_bytes;
    if (data_bytes > 0) std::memcpy(row, q + r * data_bytes, data_bytes);
    const float scale = scales[r];
    const float bias = zero_points[r] * scale * -1.0f;
    if (bits == 8) {
      StoreFloat(row + dim, scale);
      StoreFloat(row + dim + 4, bias);
    } else {
      StoreHalf(row + data_bytes, FloatToHalfBits(scale));
      StoreHalf(row + data_bytes + 2, FloatToHalfBits(bias));
    }
  }
  return Status::Ok();
}

float EmbeddingDequantizeElement(int bits, const uint8_t* row, size_t dim, size_t j) {
  if (bits == 8) {
    const float scale = embedding::LoadFloat(row + dim);
    const float bias = embedding::LoadFloat(row + dim + 4);
    return static_cast<float>(row[j]) * scale + bias;
  }
  const float scale = embedding::HalfToFloat(embedding::LoadHalfBits(row + dim / 2));
  const float bias = embedding::HalfToFloat(embedding::LoadHalfBits(row + dim / 2 + 2));
  const uint32_t q = (row[j / 2] >> ((j % 2) * 4)) & 0xFu;
  return scale * static_cast<float>(q) + bias;
}

Status EmbeddingBagUnpack(int bits, const uint8_t* packed, size_t packed_bytes, size_t rows, size_t row_bytes,
                          float* out, size_t out_len) {
  QK_RETURN_IF_ERROR(CheckBits(bits));
  const size_t overhead = bits == 8 ? 8 : 4;
  if (row_bytes < overhead) {
    return Status::RangeError(Expected("at least " + std::to_string(overhead) + " bytes per row", "packed",
                                       std::to_string(row_bytes)));
  }
  const size_t dim = bits == 8 ? row_bytes - 8 : (row_bytes - 4) * 2;
  size_t needed = 0, numel = 0;
  if (!CheckedMul(rows, row_bytes, &needed) || !CheckedMul(rows, dim, &numel)) {
    return Status::RangeError(Expected("a table whose size fits in memory", "packed", std::to_string(rows) + " rows"));
  }
  if (packed_bytes < needed || (needed > 0 && packed == nullptr)) {
    return Status::RangeError(Expected(std::to_string(needed) + " bytes", "packed", std::to_string(packed_bytes)));
  }
  if (out_len < numel || (numel > 0 && out == nullptr)) {
    return Status::RangeError(Expected(std::to_string(numel) + " floats", "output", std::to_string(out_len)));
  }
  ParallelOverRows(rows, dim, [&](size_t r) {
    const uint8_t* row = packed + r * row_bytes;
    for (size_t j = 0; j < dim; ++j) out[r * dim + j] = EmbeddingDequantizeElement(bits, row, dim, j);
  });
  return Status::Ok();
}

}  // namespace qk
