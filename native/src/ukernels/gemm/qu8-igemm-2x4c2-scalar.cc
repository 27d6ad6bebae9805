// Scalar indirect GEMM microkernel, tile 2x4c2: the reference reading of the indirect A rows (segments through pointers, per row or per tile with a row stride) over the 2x4c2 pack.
//
// Row i of A is `segments` runs of segment_bytes bytes (a multiple of KR = 2), run s at
// a[i * segments + s] (the strided kernel: at a[s] + i * a_stride); together they are the
// kc = segments * segment_bytes values of the row in k order, multiplied with the 2x4c2 pack exactly as qu8-gemm-2x4c2-scalar.cc does.
#include <cstring>

#include "ukernels/gemm/requant-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

// The kernel over any run addressing: run_at(i, s) is row i's run s.
template <typename RunAt>
void IgemmScalar(size_t mr, size_t nc, size_t segments, size_t segment_bytes, const RunAt& run_at,
                 const int32_t* row_terms, const void* w, uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  constexpr size_t kNR = 4, kKR = 2;
  int32_t colsum[kNR], w_zp[kNR];
  std::memcpy(colsum, w, sizeof(colsum));
  std::memcpy(w_zp, static_cast<const int32_t*>(w) + kNR, sizeof(w_zp));
  const int8_t* weights = reinterpret_cast<const int8_t*>(static_cast<const int32_t*>(w) + 2 * kNR);
  for (size_t i = 0; i < mr; ++i) {
    for (size_t j = 0; j < nc; ++j) {
      uint32_t sum = 0;
      const int8_t* group = weights + j * kKR;  // k group 0 of column j; groups are kNR * kKR bytes apart
      for (size_t s = 0; s < segments; ++s) {
        const uint8_t* run = run_at(i, s);
        for (size_t b = 0; b < segment_bytes; b += kKR, group += kNR * kKR) {
          for (size_t r = 0; r < kKR; ++r) sum += static_cast<uint32_t>(static_cast<int32_t>(run[b + r]) * group[r]);
        }
      }
      sum -= static_cast<uint32_t>(params->a_zero_point) * static_cast<uint32_t>(colsum[j]);
      sum += static_cast<uint32_t>(w_zp[j]) * static_cast<uint32_t>(row_terms[i]);
      y[i * y_stride + j] = static_cast<uint8_t>(RequantizeGemmValue(
          static_cast<int32_t>(sum), params->bias_int[j], params->bias_term[j], params->multiplier[j], params->lo,
          params->hi, params->y_zero_point_f, params->y_zero_point));
    }
  }
}

}  // namespace

void qk_qu8_igemm_minmax_ukernel_2x4c2__scalar(size_t mr, size_t nc, size_t segments, size_t segment_bytes,
                                               const uint8_t* const* a, const int32_t* row_terms, const void* w,
                                               uint8_t* y, size_t y_stride, const GemmU8Params* params) {
  IgemmScalar(
      mr, nc, segments, segment_bytes, [&](size_t i, size_t s) { return a[i * segments + s]; }, row_terms, w, y,
      y_stride, params);
}

void qk_qu8_igemm_strided_minmax_ukernel_2x4c2__scalar(size_t mr, size_t nc, size_t segments, size_t segment_bytes,
                                                       const uint8_t* const* a, size_t a_stride,
                                                       const int32_t* row_terms, const void* w, uint8_t* y,
                                                       size_t y_stride, const GemmU8Params* params) {
  IgemmScalar(
      mr, nc, segments, segment_bytes, [&](size_t i, size_t s) { return a[s] + i * a_stride; }, row_terms, w, y,
      y_stride, params);
}

}  // namespace qk
