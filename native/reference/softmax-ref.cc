// Reference quantized softmax: naive loops (see softmax-ref.h).
#include "reference/softmax-ref.h"

#include <cmath>
#include <vector>

#include "reference/quantize-ref.h"

namespace qk {
namespace ref {

void SoftmaxRef(const int32_t* x, size_t outer, size_t size, size_t inner, bool is_signed, double x_scale,
                int32_t x_zero_point, double y_scale, int32_t y_zero_point, int32_t* y) {
  const int64_t qmin = is_signed ? -128 : 0, qmax = is_signed ? 127 : 255;
  const float inv_scale = 1.0f / static_cast<float>(y_scale);
  std::vector<float> v(size), e(size);
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inner; ++i) {
      const size_t base = o * size * inner + i;
      float m = -INFINITY;
      for (size_t k = 0; k < size; ++k) {
        v[k] = static_cast<float>(x_scale) * static_cast<float>(x[base + k * inner] - x_zero_point);
        if (v[k] > m) m = v[k];
      }
      float sum = 0.0f;
      for (size_t k = 0; k < size; ++k) {
        e[k] = static_cast<float>(std::exp(static_cast<double>(v[k] - m)));
        sum += e[k];
      }
      const float reciprocal = 1.0f / sum;
      for (size_t k = 0; k < size; ++k) {
        const float value = inner == 1 ? e[k] * reciprocal : e[k] / sum;
        y[base + k * inner] = static_cast<int32_t>(QuantizeAffineValueRef(value, inv_scale, y_zero_point, qmin, qmax));
      }
    }
  }
}

}  // namespace ref
}  // namespace qk
