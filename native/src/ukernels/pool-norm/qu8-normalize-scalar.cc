// qu8 normalize microkernels (layer / group / instance norm: a group's statistics, then its values requantized), scalar reference.
#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {

void qk_qu8_normalize_ukernel__scalar(size_t n, const uint8_t* x, const float* gamma, const float* beta, size_t affine_stride,
                                       uint8_t* y, const NormalizeParams* params) {
  pool_norm_scalar::Normalize(n, x, gamma, beta, affine_stride, y, *params);
}

void qk_qu8_normalize_rows_ukernel__scalar(size_t rows, size_t n, const uint8_t* x, const float* mean_centred, const float* scale,
                                      const float* gamma, const float* beta, size_t affine_stride, uint8_t* y,
                                      const NormalizeParams* params) {
  pool_norm_scalar::NormalizeRows(rows, n, x, mean_centred, scale, gamma, beta, affine_stride, y, *params);
}

void qk_qu8_normalize_stats_ukernel__scalar(size_t n, const uint8_t* x, int64_t* sum, int64_t* sum_squares) {
  *sum = 0;
  *sum_squares = 0;
  pool_norm_scalar::NormalizeStats(n, x, sum, sum_squares);
}

}  // namespace qk
