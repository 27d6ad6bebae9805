// Reference embedding-bag lookup: PyTorch's loops element by element (see the header).
#include "reference/embedding-ref.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

int64_t Value(const EmbeddingIndexArray& a, size_t i) {
  if (a.is64) return static_cast<const int64_t*>(a.data)[i];
  return static_cast<const int32_t*>(a.data)[i];
}

// binary16 by its definition: (-1)^s * 2^(e - 15) * 1.m, or 2^-14 * 0.m when e = 0.
float DecodeHalf(const uint8_t* p) {
  const unsigned bits = p[0] | (p[1] << 8);
  const int sign = (bits >> 15) & 1;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  float magnitude;
  if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else {
    magnitude = std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

float DecodeFloat(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

struct RowQParams {
  float scale;
  float bias;
};

RowQParams QParamsOf(const EmbeddingTable& t, const uint8_t* row, size_t dim) {
  if (t.bits == 8) return {DecodeFloat(row + dim), DecodeFloat(row + dim + 4)};
  return {DecodeHalf(row + dim / 2), DecodeHalf(row + dim / 2 + 2)};
}

unsigned QuantizedAt(const EmbeddingTable& t, const uint8_t* row, size_t j) {
  if (t.bits == 8) return row[j];
  return (row[j / 2] >> ((j % 2) * 4)) & 0xFu;
}

}  // namespace

void EmbeddingBagRef(const EmbeddingBagArgs& args, size_t bags, float* out) {
  const EmbeddingTable& t = args.table;
  // A row holds dim values then its fp32 scale and bias (8-bit) or fp16 ones (4-bit, two values a byte).
  const size_t qparam_bytes = t.bits == 8 ? 8 : 4;
  const size_t value_bytes = t.row_bytes >= qparam_bytes ? t.row_bytes - qparam_bytes : 0;
  const size_t dim = t.bits == 8 ? value_bytes : value_bytes * 2;
  const bool mapped = args.pruned_weights &&
                      !(args.compressed_indices_mapping_len == 1 && args.compressed_indices_mapping[0] == 0);
  for (size_t b = 0; b < bags; ++b) {
    const size_t begin = static_cast<size_t>(Value(args.offsets, b));
    const size_t end = b + 1 < args.offsets.length ? static_cast<size_t>(Value(args.offsets, b + 1)) : args.indices.length;
    float* o = out + b * dim;
    for (size_t j = 0; j < dim; ++j) o[j] = 0.0f;
    size_t count = 0;
    for (size_t i = begin; i < end; ++i) {
      const int64_t index = Value(args.indices, i);
      if (args.has_padding_idx && index == args.padding_idx) continue;
      const int64_t row_index = mapped ? args.compressed_indices_mapping[index] : index;
      if (row_index == -1) continue;
      const uint8_t* row = t.data + static_cast<size_t>(row_index) * t.row_bytes;
      const RowQParams qp = QParamsOf(t, row, dim);
      if (args.mode == EmbeddingBagMode::kSum) {
        // PyTorch: scale = w * scale_row; bias = w * bias_row; out = fma(scale, q, out + bias) in double.
        const float w = args.per_sample_weights != nullptr ? args.per_sample_weights[i] : 1.0f;
        const float scale = w * qp.scale;
        const float bias = w * qp.bias;
        for (size_t j = 0; j < dim; ++j) {
          const float t_j = o[j] + bias;
          o[j] = static_cast<float>(std::fma(static_cast<double>(scale), static_cast<double>(QuantizedAt(t, row, j)),
                                             static_cast<double>(t_j)));
        }
      } else {
        // float nn.EmbeddingBag on the unpacked table: value = q * scale + bias in fp32.
        for (size_t j = 0; j < dim; ++j) {
          const float v = static_cast<float>(QuantizedAt(t, row, j)) * qp.scale + qp.bias;
          if (args.mode == EmbeddingBagMode::kMean) {
            o[j] = o[j] + v;
          } else if (count == 0 || v > o[j]) {
            o[j] = v;
          }
        }
      }
      ++count;
    }
    if (args.mode == EmbeddingBagMode::kMean) {
      const float divisor = static_cast<float>(count == 0 ? 1 : count);
      for (size_t j = 0; j < dim; ++j) o[j] = o[j] / divisor;
    }
  }
}

}  // namespace qk
