// Reference quantized GEMM: naive loops over the unpacked [n][k] weights, the ground truth of the GEMM and linear tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {
namespace ref {

// acc[i*n + j] = sum_k (a[i*lda + k] - a_zp)(w[j*k + k] - w_zp[j]), exact then wrapped to int32.
void GemmAcc(size_t m, size_t n, size_t k, const uint8_t* a, size_t lda, int32_t a_zero_point, const int8_t* w,
             const int32_t* w_zero_points, int32_t* acc);

// The u8 output stage of DESIGN §2 on top of GemmAcc (see ops/qgemm.h), written independently of
// the kernels' requant-scalar.h: round first, then clamp the integer (NaN gives y_min).
void QGemmU8(size_t m, size_t n, size_t k, const uint8_t* a, size_t lda, float a_scale, int32_t a_zero_point,
             const int8_t* w, const float* w_scales, const int32_t* w_zero_points, const float* bias, float y_scale,
             int32_t y_zero_point, int32_t y_min, int32_t y_max, uint8_t* y, size_t ldy);

// y = float(acc) * (a_scale * w_scale[j]) (+ bias[j]), then ReLU as (0 > y) ? 0 : y.
void QGemmF32(size_t m, size_t n, size_t k, const uint8_t* a, size_t lda, float a_scale, int32_t a_zero_point,
              const int8_t* w, const float* w_scales, const int32_t* w_zero_points, const float* bias, bool relu,
              float* y, size_t ldy);

}  // namespace ref
}  // namespace qk
