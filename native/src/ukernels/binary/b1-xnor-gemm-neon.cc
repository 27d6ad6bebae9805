// qk_b1_xnor_gemm_ukernel_4x8__neon: XNOR-popcount tile, 4 rows x 8 channels, byte counts by vcnt folded into 16-bit lanes.
#include <arm_neon.h>

#include "ukernels/ukernels.h"

namespace qk {

void qk_b1_xnor_gemm_ukernel_4x8__neon(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda,
                                        const uint64_t* w, int32_t* c, size_t ldc) {
  // Each step adds at most 16 to a 16-bit lane (two byte counts of <= 8): flushing into
  // 64-bit sums every 2048 words keeps every lane below 2^15.
  constexpr size_t kFlush = 2048;
  const uint64_t* rows[kXnorMR];
  for (size_t i = 0; i < kXnorMR; ++i) rows[i] = a + (i < mr ? i : 0) * lda;  // rows past mr: not stored
  for (size_t j0 = 0; j0 < nc; j0 += kXnorNR) {
    const uint64_t* block = w + (j0 / kXnorNR) * kw * kXnorNR;
    uint64x2_t sums[kXnorMR][4];
    for (size_t i = 0; i < kXnorMR; ++i)
      for (int q = 0; q < 4; ++q) sums[i][q] = vdupq_n_u64(0);
    for (size_t k0 = 0; k0 < kw; k0 += kFlush) {
      const size_t k1 = kw - k0 < kFlush ? kw : k0 + kFlush;
      uint16x8_t acc[kXnorMR][4];
      for (size_t i = 0; i < kXnorMR; ++i)
        for (int q = 0; q < 4; ++q) acc[i][q] = vdupq_n_u16(0);
      for (size_t k = k0; k < k1; ++k) {
        uint8x16_t wq[4];
        for (int q = 0; q < 4; ++q) wq[q] = vreinterpretq_u8_u64(vld1q_u64(block + k * kXnorNR + 2 * q));
        for (size_t i = 0; i < kXnorMR; ++i) {
          const uint8x16_t x = vreinterpretq_u8_u64(vdupq_n_u64(rows[i][k]));
          for (int q = 0; q < 4; ++q) acc[i][q] = vpadalq_u8(acc[i][q], vcntq_u8(veorq_u8(x, wq[q])));
        }
      }
      for (size_t i = 0; i < kXnorMR; ++i)
        for (int q = 0; q < 4; ++q) sums[i][q] = vaddq_u64(sums[i][q], vpaddlq_u32(vpaddlq_u16(acc[i][q])));
    }
    const size_t lanes = nc - j0 < kXnorNR ? nc - j0 : kXnorNR;
    for (size_t i = 0; i < mr; ++i) {
      uint64_t out[kXnorNR];
      for (int q = 0; q < 4; ++q) vst1q_u64(out + 2 * q, sums[i][q]);
      for (size_t l = 0; l < lanes; ++l) c[i * ldc + j0 + l] = static_cast<int32_t>(out[l]);
    }
  }
}

// The sign form: this kernel's sums, compared in a stack buffer (binary.h's XnorSignFromSums).
void qk_b1_xnor_sign_ukernel_4x8__neon(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw,
                                         const uint64_t* w, int32_t threshold, size_t ldb) {
  XnorSignFromSums<qk_b1_xnor_gemm_ukernel_4x8__neon>(tiles, tile, nc, kw, w, threshold, ldb);
}

}  // namespace qk
