// Reference quantized mean and concatenation (reduce-ref.h): one output at a time, torch's fp32 sum order spelled out again here.
#include "reference/reduce-ref.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/elementwise-ref.h"
#include "reference/quantize-ref.h"

namespace qk {
namespace ref {
namespace {

// SumKernel.cpp cascade_sum (4 levels, fp32), over values[first + k * stride] for k < size.
float TorchCascade(const std::vector<float>& values, size_t first, size_t stride, size_t size) {
  size_t log2 = 0;
  while ((size_t{1} << log2) < size) ++log2;
  const size_t power = std::max<size_t>(4, log2 / 4);
  const size_t block = size_t{1} << power;
  float level[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  size_t k = 0;
  while (k + block <= size) {
    for (size_t j = 0; j < block; ++j) level[0] = level[0] + values[first + (k++) * stride];
    for (size_t j = 1; j < 4; ++j) {
      level[j] = level[j] + level[j - 1];
      level[j - 1] = 0.0f;
      if ((k & ((block - 1) << (j * power))) != 0) break;
    }
  }
  while (k < size) level[0] = level[0] + values[first + (k++) * stride];
  return ((level[0] + level[1]) + level[2]) + level[3];
}

}  // namespace

void MeanRef(const int32_t* x, const MeanParams& p, int32_t* y) {
  std::vector<size_t> shape(p.shape, p.shape + p.rank);
  size_t numel = 1, count = 1;
  for (size_t d = 0; d < p.rank; ++d) {
    numel *= shape[d];
    if (p.reduced[d]) count *= shape[d];
  }
  const size_t out_numel = numel / count;
  if (p.mode == MeanMode::kIntegers) {
    // Output index of each input element: the input's contiguous index with reduced dims dropped.
    std::vector<int64_t> sums(out_numel, 0);
    for (size_t i = 0; i < numel; ++i) {
      size_t rest = i, target = 0, weight = 1;
      for (size_t d = p.rank; d-- > 0;) {
        const size_t coordinate = rest % shape[d];
        rest /= shape[d];
        if (!p.reduced[d]) {
          target += coordinate * weight;
          weight *= shape[d];
        }
      }
      sums[target] += x[i];
    }
    for (size_t o = 0; o < out_numel; ++o) {
      const float mean = static_cast<float>(static_cast<float>(sums[o]) / static_cast<float>(count));
      y[o] = static_cast<int32_t>(std::nearbyint(mean));
    }
    return;
  }
  const size_t channels = shape[1];
  const size_t batch = shape[0];
  if (p.mode == MeanMode::kQnnpackGlobal) {
    const float s = static_cast<float>(p.scale);
    const float multiplier = s / (s * static_cast<float>(count));
    for (size_t plane = 0; plane < batch * channels; ++plane) {
      int64_t centered = 0;
      for (size_t k = 0; k < count; ++k) centered += x[plane * count + k] - p.zero_point;
      const long rounded = std::lrintf(static_cast<float>(centered) * multiplier);
      y[plane] = static_cast<int32_t>(std::min<int64_t>(255, std::max<int64_t>(0, rounded + p.zero_point)));
    }
    return;
  }
  // Channels last: element (b, position, c) at (b * count + position) * channels + c.
  std::vector<float> values(numel);
  for (size_t i = 0; i < numel; ++i) values[i] = DequantizePerTensorValueRef(x[i], p.scale, p.zero_point);
  const int64_t qmin = p.dtype == QDType::kQInt8 ? -128 : 0;
  const int64_t qmax = p.dtype == QDType::kQInt8 ? 127 : 255;
  const size_t whole = channels >= 8 ? channels / 32 * 32 : channels / 4 * 4;
  for (size_t b = 0; b < batch; ++b) {
    for (size_t c = 0; c < channels; ++c) {
      const size_t first = b * count * channels + c;
      float sum = 0.0f;
      if (c < whole) {
        sum = TorchCascade(values, first, channels, count);
      } else {
        // row_sum: four interleaved cascades, the tail into the first, then the four in order.
        const size_t rows = count / 4;
        float partial[4];
        for (size_t k = 0; k < 4; ++k) partial[k] = TorchCascade(values, first + k * channels, 4 * channels, rows);
        for (size_t k = rows * 4; k < count; ++k) partial[0] = partial[0] + values[first + k * channels];
        sum = ((partial[0] + partial[1]) + partial[2]) + partial[3];
      }
      const float mean = sum / static_cast<float>(count);
      y[b * channels + c] = static_cast<int32_t>(
          QuantizeAffineValueRef(mean, 1.0f / static_cast<float>(p.scale), p.zero_point, qmin, qmax));
    }
  }
}

void ConcatRef(const uint8_t* const* inputs, const ConcatParams& p, uint8_t* out) {
  std::vector<std::vector<uint8_t>> requantized(p.count);
  for (size_t k = 0; k < p.count; ++k) {
    const std::vector<uint8_t> x(inputs[k], inputs[k] + p.rows * p.row_bytes[k]);
    requantized[k] = p.rows * p.row_bytes[k] == 0 ? x : LookupRowsRef(p.requantize[k], x, p.row_bytes[k], p.vector_bytes[k]);
  }
  size_t at = 0;
  for (size_t r = 0; r < p.rows; ++r) {
    for (size_t k = 0; k < p.count; ++k) {
      for (size_t i = 0; i < p.row_bytes[k]; ++i) out[at++] = requantized[k][r * p.row_bytes[k] + i];
    }
  }
}

}  // namespace ref
}  // namespace qk
