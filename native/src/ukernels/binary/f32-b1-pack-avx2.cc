// qk_f32_b1_pack_ukernel__avx2: floats to bits, 32 positions at a time (the tail by the scalar kernel): per channel a compare, AND with the channel's bit, OR into 32-bit lanes.
#include <immintrin.h>

#include "ukernels/ukernels.h"

namespace qk {

void qk_f32_b1_pack_ukernel__avx2(size_t channels, size_t positions, const float* x, size_t plane_stride,
                                  uint32_t rule, uint64_t* out, size_t out_stride) {
  const __m256 zero = _mm256_setzero_ps();
  // Two 32-bit halves per position (channels 0..31 and 32..63), 8 positions per vector.
  auto minus = [&](__m256 v) {
    // _CMP_LT_OQ: false for NaN (sign's +1); _CMP_NGT_UQ: true for NaN (steheaviside's -1).
    return _mm256_castps_si256(rule == kPackSign ? _mm256_cmp_ps(v, zero, _CMP_LT_OQ) : _mm256_cmp_ps(v, zero, _CMP_NGT_UQ));
  };
  // 32 positions per block: each plane read 128 contiguous bytes at a time.
  size_t p = 0;
  for (; p + 32 <= positions; p += 32) {
    __m256i half[4][2];
    for (size_t v = 0; v < 4; ++v) half[v][0] = half[v][1] = _mm256_setzero_si256();
    for (size_t c = 0; c < channels; ++c) {
      const float* row = x + c * plane_stride + p;
      const __m256i bit = _mm256_set1_epi32(static_cast<int>(1u << (c % 32)));
      for (size_t v = 0; v < 4; ++v) {
        half[v][c / 32] = _mm256_or_si256(half[v][c / 32], _mm256_and_si256(minus(_mm256_loadu_ps(row + 8 * v)), bit));
      }
    }
    alignas(32) uint32_t l[32], h[32];
    for (size_t v = 0; v < 4; ++v) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(l + 8 * v), half[v][0]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(h + 8 * v), half[v][1]);
    }
    for (size_t j = 0; j < 32; ++j) out[(p + j) * out_stride] = uint64_t{l[j]} | uint64_t{h[j]} << 32;
  }
  if (p < positions) qk_f32_b1_pack_ukernel__scalar(channels, positions - p, x + p, plane_stride, rule, out + p * out_stride, out_stride);
}

}  // namespace qk
