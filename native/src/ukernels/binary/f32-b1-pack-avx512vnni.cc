// qk_f32_b1_pack_ukernel__avx512vnni: floats to bits, 64 positions at a time: per channel four compares into masks and masked ORs of the channel's bit.
#include <immintrin.h>

#include "ukernels/ukernels.h"

namespace qk {

void qk_f32_b1_pack_ukernel__avx512vnni(size_t channels, size_t positions, const float* x, size_t plane_stride,
                                        uint32_t rule, uint64_t* out, size_t out_stride) {
  const __m512 zero = _mm512_setzero_ps();
  // 64 positions per block, so each channel's plane is read 256 contiguous bytes at a time
  // (the planes are often 4 KiB apart: short runs per plane would defeat the prefetchers).
  // Two 32-bit halves per position (channels 0..31, 32..63); tails by masked loads.
  for (size_t p0 = 0; p0 < positions; p0 += 64) {
    const size_t n = positions - p0 < 64 ? positions - p0 : 64;
    __mmask16 valid[4];
    for (size_t v = 0; v < 4; ++v) {
      const size_t lanes = n > 16 * v ? (n - 16 * v < 16 ? n - 16 * v : 16) : 0;
      valid[v] = static_cast<__mmask16>((1u << lanes) - 1);
    }
    __m512i half[4][2];
    for (size_t v = 0; v < 4; ++v) half[v][0] = half[v][1] = _mm512_setzero_si512();
    for (size_t c = 0; c < channels; ++c) {
      const float* row = x + c * plane_stride + p0;
      const __m512i bit = _mm512_set1_epi32(static_cast<int>(1u << (c % 32)));
      for (size_t v = 0; v < 4; ++v) {
        const __m512 f = _mm512_maskz_loadu_ps(valid[v], row + 16 * v);
        // _CMP_LT_OQ: false for NaN (sign's +1); _CMP_NGT_UQ: true for NaN (steheaviside's -1).
        const __mmask16 m = rule == kPackSign ? _mm512_cmp_ps_mask(f, zero, _CMP_LT_OQ) : _mm512_cmp_ps_mask(f, zero, _CMP_NGT_UQ);
        half[v][c / 32] = _mm512_mask_or_epi32(half[v][c / 32], m, half[v][c / 32], bit);
      }
    }
    alignas(64) uint32_t l[64], h[64];
    for (size_t v = 0; v < 4; ++v) {
      _mm512_storeu_si512(l + 16 * v, half[v][0]);
      _mm512_storeu_si512(h + 16 * v, half[v][1]);
    }
    for (size_t j = 0; j < n; ++j) out[(p0 + j) * out_stride] = uint64_t{l[j]} | uint64_t{h[j]} << 32;
  }
}

}  // namespace qk
