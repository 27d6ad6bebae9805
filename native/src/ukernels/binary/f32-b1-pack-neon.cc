// qk_f32_b1_pack_ukernel__neon: floats to bits, 16 positions at a time (the tail by the scalar kernel): per channel a compare, AND with the channel's bit, OR into 32-bit lanes.
#include <arm_neon.h>

#include "ukernels/ukernels.h"

namespace qk {

void qk_f32_b1_pack_ukernel__neon(size_t channels, size_t positions, const float* x, size_t plane_stride,
                                  uint32_t rule, uint64_t* out, size_t out_stride) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  auto minus = [&](float32x4_t v) {
    // fcmlt is false for NaN (sign's +1); NOT fcmgt is true for NaN (steheaviside's -1).
    return rule == kPackSign ? vcltq_f32(v, zero) : vmvnq_u32(vcgtq_f32(v, zero));
  };
  // Two 32-bit halves per position (channels 0..31 and 32..63), 4 positions per vector; 16
  // positions per block, so each plane is read 64 contiguous bytes at a time.
  size_t p = 0;
  for (; p + 16 <= positions; p += 16) {
    uint32x4_t half[4][2];
    for (size_t v = 0; v < 4; ++v) half[v][0] = half[v][1] = vdupq_n_u32(0);
    for (size_t c = 0; c < channels; ++c) {
      const float* row = x + c * plane_stride + p;
      const uint32x4_t bit = vdupq_n_u32(1u << (c % 32));
      for (size_t v = 0; v < 4; ++v) {
        half[v][c / 32] = vorrq_u32(half[v][c / 32], vandq_u32(minus(vld1q_f32(row + 4 * v)), bit));
      }
    }
    uint32_t l[16], h[16];
    for (size_t v = 0; v < 4; ++v) {
      vst1q_u32(l + 4 * v, half[v][0]);
      vst1q_u32(h + 4 * v, half[v][1]);
    }
    for (size_t j = 0; j < 16; ++j) out[(p + j) * out_stride] = uint64_t{l[j]} | uint64_t{h[j]} << 32;
  }
  if (p < positions) qk_f32_b1_pack_ukernel__scalar(channels, positions - p, x + p, plane_stride, rule, out + p * out_stride, out_stride);
}

}  // namespace qk
