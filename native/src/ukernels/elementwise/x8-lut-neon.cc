// x8 table lookup microkernel, NEON: four 64-byte tbl/tbx lookups per 16 bytes.
//
// tbl gives 0 for an index >= 64 and tbx leaves the lane alone, so looking up
// x, x - 64, x - 128, x - 192 in the four quarters (tbl first, then tbx) lets each
// byte pick its entry from exactly one quarter.
#include <arm_neon.h>

#include "ukernels/ukernels.h"

namespace qk {

void qk_x8_lut_ukernel__neon(size_t n, const uint8_t* x, const uint8_t* table, uint8_t* y) {
  const uint8x16x4_t q0 = vld1q_u8_x4(table);
  const uint8x16x4_t q1 = vld1q_u8_x4(table + 64);
  const uint8x16x4_t q2 = vld1q_u8_x4(table + 128);
  const uint8x16x4_t q3 = vld1q_u8_x4(table + 192);
  const uint8x16_t offset = vdupq_n_u8(64);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint8x16_t index = vld1q_u8(x + i);
    uint8x16_t result = vqtbl4q_u8(q0, index);
    index = vsubq_u8(index, offset);
    result = vqtbx4q_u8(result, q1, index);
    index = vsubq_u8(index, offset);
    result = vqtbx4q_u8(result, q2, index);
    index = vsubq_u8(index, offset);
    result = vqtbx4q_u8(result, q3, index);
    vst1q_u8(y + i, result);
  }
  for (; i < n; ++i) y[i] = table[x[i]];
}

}  // namespace qk
