// qs8 normalize microkernels (layer / group / instance norm: a group's statistics, then its values requantized), AVX2.
#include "ukernels/pool-norm/pool-norm-avx2.h"

namespace qk {

void qk_qs8_normalize_ukernel__avx2(size_t n, const int8_t* x, const float* gamma, const float* beta, size_t affine_stride,
                                   int8_t* y, const NormalizeParams* params) {
  NormalizeAvx2(n, x, gamma, beta, affine_stride, y, *params);
}

void qk_qs8_normalize_rows_ukernel__avx2(size_t rows, size_t n, const int8_t* x, const float* mean_centred, const float* scale,
                                      const float* gamma, const float* beta, size_t affine_stride, int8_t* y,
                                      const NormalizeParams* params) {
  NormalizeRowsAvx2(rows, n, x, mean_centred, scale, gamma, beta, affine_stride, y, *params);
}

void qk_qs8_normalize_stats_ukernel__avx2(size_t n, const int8_t* x, int64_t* sum, int64_t* sum_squares) {
  *sum = 0;
  *sum_squares = 0;
  NormalizeStatsAvx2(n, x, sum, sum_squares);
}

}  // namespace qk
