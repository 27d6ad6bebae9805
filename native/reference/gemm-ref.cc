// Reference quantized GEMM: the formula of ops/qgemm.h as plain loops (int64 sums, fp32 output stage).
#include "reference/gemm-ref.h"

#include <cmath>
#include <vector>

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace ref {

void GemmAcc(size_t m, size_t n, size_t k, const uint8_t* a, size_t lda, int32_t a_zero_point, const int8_t* w,
             const int32_t* w_zero_points, int32_t* acc) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      int64_t sum = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        sum += (int64_t{a[i * lda + kk]} - a_zero_point) * (int64_t{w[j * k + kk]} - w_zero_points[j]);
      }
      acc[i * n + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
    }
  }
}

void QGemmU8(size_t m, size_t n, size_t k, const uint8_t* a, size_t lda, float a_scale, int32_t a_zero_point,
             const int8_t* w, const float* w_scales, const int32_t* w_zero_points, const float* bias, float y_scale,
             int32_t y_zero_point, int32_t y_min, int32_t y_max, uint8_t* y, size_t ldy) {
  std::vector<int32_t> acc(m * n);
  GemmAcc(m, n, k, a, lda, a_zero_point, w, w_zero_points, acc.data());
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const float s = a_scale * w_scales[j];
      const float bias_term = bias != nullptr ? bias[j] / s : 0.0f;
      const float raw = static_cast<float>(acc[i * n + j]) + bias_term;
      const float t = raw * (s / y_scale);
      double q;
      if (std::isnan(t)) {
        q = y_min;
      } else {
        q = static_cast<double>(std::nearbyint(t)) + y_zero_point;  // exact: t rounds to an integer float
        q = q < y_min ? y_min : (q > y_max ? y_max : q);
      }
      y[i * ldy + j] = static_cast<uint8_t>(static_cast<int32_t>(q));
    }
  }
}

void QGemmF32(size_t m, size_t n, size_t k, const uint8_t* a, size_t lda, float a_scale, int32_t a_zero_point,
              const int8_t* w, const float* w_scales, const int32_t* w_zero_points, const float* bias, bool relu,
              float* y, size_t ldy) {
  std::vector<int32_t> acc(m * n);
  GemmAcc(m, n, k, a, lda, a_zero_point, w, w_zero_points, acc.data());
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float v = static_cast<float>(acc[i * n + j]) * (a_scale * w_scales[j]);
      if (bias != nullptr) v = v + bias[j];
      if (relu && v < 0.0f) v = 0.0f;
      y[i * ldy + j] = v;
    }
  }
}

}  // namespace ref
}  // namespace qk
