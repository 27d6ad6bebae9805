// Scalar GEMM microkernels, tile 2x4c2: the reference reading of the packed layout every SIMD kernel follows.
//
// Packed column block (native/src/pack/gemm-pack.h writes it), for NR = 4 columns and KR = 2:
//   int32 colsum[4]   sum over k of the packed weights of each column (0 for padding columns)
//   int32 w_zp[4]     each column's weight zero point (0 for padding columns)
//   int8  w[kc / 2][4][2]   group g, column j, element r = w[j][g * 2 + r] (0 past k or n)
// A panel: row i at a + i * a_stride, kc uint8 values (0 past k).
// The SIMD kernels use the same block structure with their own NR, KR and element types.
#include <cstring>

#include "ukernels/gemm/requant-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

constexpr size_t kMR = 2, kNR = 4, kKR = 2;

// acc[i][j] = sum_k a[i][k] w[j][k] - a_zp * colsum[j] + w_zp[j] * row_terms[i], wrapping in uint32.
void ComputeTile(size_t mr, size_t kc, const void* a, size_t a_stride, const int32_t* row_terms, const void* w,
                 int32_t a_zero_point, int32_t acc[kMR][kNR]) {
  int32_t colsum[kNR], w_zp[kNR];
  std::memcpy(colsum, w, sizeof(colsum));
  std::memcpy(w_zp, static_cast<const int32_t*>(w) + kNR, sizeof(w_zp));
  const int8_t* weights = reinterpret_cast<const int8_t*>(static_cast<const int32_t*>(w) + 2 * kNR);
  for (size_t i = 0; i < mr; ++i) {
    const uint8_t* row = static_cast<const uint8_t*>(a) + i * a_stride;
    for (size_t j = 0; j < kNR; ++j) {
      uint32_t sum = 0;
      for (size_t g = 0; g < kc / kKR; ++g) {
        for (size_t r = 0; r < kKR; ++r) {
          sum += static_cast<uint32_t>(static_cast<int32_t>(row[g * kKR + r]) * weights[(g * kNR + j) * kKR + r]);
        }
      }
      sum -= static_cast<uint32_t>(a_zero_point) * static_cast<uint32_t>(colsum[j]);
      sum += static_cast<uint32_t>(w_zp[j]) * static_cast<uint32_t>(row_terms[i]);
      acc[i][j] = static_cast<int32_t>(sum);
    }
  }
}

}  // namespace

void qk_qu8_gemm_minmax_ukernel_2x4c2__scalar(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                              const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride,
                                              const GemmU8Params* params) {
  int32_t acc[kMR][kNR];
  ComputeTile(mr, kc, a, a_stride, row_terms, w, params->a_zero_point, acc);
  for (size_t i = 0; i < mr; ++i) {
    for (size_t j = 0; j < nc; ++j) {
      y[i * y_stride + j] = static_cast<uint8_t>(RequantizeGemmValue(
          acc[i][j], params->bias_int[j], params->bias_term[j], params->multiplier[j], params->lo, params->hi,
          params->y_zero_point_f, params->y_zero_point));
    }
  }
}

void qk_qu8_f32_gemm_ukernel_2x4c2__scalar(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                           const int32_t* row_terms, const void* w, float* y, size_t y_stride,
                                           const GemmF32Params* params) {
  int32_t acc[kMR][kNR];
  ComputeTile(mr, kc, a, a_stride, row_terms, w, params->a_zero_point, acc);
  for (size_t i = 0; i < mr; ++i) {
    for (size_t j = 0; j < nc; ++j) {
      y[i * y_stride + j] = ScaleGemmValue(acc[i][j], params->scale[j],
                                           params->bias != nullptr ? params->bias + j : nullptr, params->relu);
    }
  }
}

}  // namespace qk
