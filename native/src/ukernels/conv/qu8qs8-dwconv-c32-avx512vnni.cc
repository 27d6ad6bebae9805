// Depthwise convolution microkernel, AVX-512 VNNI: 32 channels per block, two taps per vpdpwssd.
//
// Per block of 32 channels (two halves of 16; the outer loop, pixels inside, so the block's
// weights stay in registers for 3/5/9-tap kernels), for every output pixel:
//   pair[c] = x_a[c] | x_b[c] << 16          the raw bytes of taps (2q, 2q + 1) as an int16 pair
//   acc    += vpdpwssd(pair, (w16_a, w16_b)) x_a * w16_a + x_b * w16_b per channel, exact
// and acc starts at -x_zp * sum_t w16[t][c] (computed once per block with vpdpwssd on
// (x_zp, x_zp) pairs), so acc = sum_t (x_t - x_zp) * w16_t modulo 2^32, as the scalar kernel.
// Channel tails use masked loads and stores (never touching bytes past `channels`).
// GCC 12 warns about its own _mm512_undefined_* placeholders inside the intrinsics (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "ukernels/ukernels.h"

namespace qk {
namespace {

inline __mmask16 FirstLanes(size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// The output stage of ukernels/gemm/requant-scalar.h on 16 lanes, stored to the lanes of k.
// acc already holds the int32 bias (Block's corr), y_zp_f is the fp32 zero point (onednn) or 0.
inline void StoreRequantized(uint8_t* y, __mmask16 k, __m512i acc, __m512 bias_term, __m512 multiplier, __m512 lo,
                             __m512 hi, __m512 y_zp_f, __m512i y_zp) {
  __m512 t = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(acc), bias_term), multiplier);
  t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);  // maxps(t, lo) gives lo for NaN
  _mm512_mask_cvtepi32_storeu_epi8(y, k, _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_add_ps(t, y_zp_f)), y_zp));
}

// (x_a[c], x_b[c]) of 16 channels as int16 pairs.
inline __m512i Pairs(const uint8_t* a, const uint8_t* b, __mmask16 k) {
  const __m512i xa = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, a));
  const __m512i xb = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, b));
  return _mm512_or_si512(xa, _mm512_slli_epi32(xb, 16));
}

struct Block {
  __mmask16 k0, k1;                 // lanes of the two 16-channel halves (k1 == 0: no second half)
  __m512i corr0, corr1;             // -x_zp * sum of the weights + the int32 bias (wrapping)
  __m512 bias0, bias1, mult0, mult1;
};

// The pixels of one 32-channel block; kTaps > 0 unrolls the taps and keeps the block's weights
// in registers across pixels, kTaps == 0 loops over `taps`.
template <size_t kTaps>
void BlockPixels(size_t c, size_t padded, size_t taps, size_t pixels, const uint8_t* const* input, const int16_t* w,
                 const Block& b, __m512 lo, __m512 hi, __m512 y_zp_f, __m512i y_zp, uint8_t* y, size_t y_stride) {
  if (kTaps != 0) taps = kTaps;
  constexpr size_t kPairs = kTaps == 0 ? 1 : (kTaps + 1) / 2;
  __m512i w0[kPairs], w1[kPairs];
  if (kTaps != 0) {
    for (size_t q = 0; q < kPairs; ++q) {
      w0[q] = _mm512_loadu_si512(w + q * padded * 2);
      w1[q] = b.k1 != 0 ? _mm512_loadu_si512(w + q * padded * 2 + 32) : _mm512_setzero_si512();
    }
  }
  for (size_t p = 0; p < pixels; ++p) {
    const uint8_t* const* rows = input + p * taps;
    __m512i acc0 = b.corr0, acc1 = b.corr1;
    for (size_t t = 0; t < taps; t += 2) {
      // An odd last tap pairs with itself: its packed second weight is 0.
      const uint8_t* xa = rows[t] + c;
      const uint8_t* xb = (t + 1 < taps ? rows[t + 1] : rows[t]) + c;
      const __m512i wa = kTaps != 0 ? w0[t / 2] : _mm512_loadu_si512(w + t / 2 * padded * 2);
      acc0 = _mm512_dpwssd_epi32(acc0, Pairs(xa, xb, b.k0), wa);
      if (b.k1 != 0) {
        const __m512i wb = kTaps != 0 ? w1[t / 2] : _mm512_loadu_si512(w + t / 2 * padded * 2 + 32);
        acc1 = _mm512_dpwssd_epi32(acc1, Pairs(xa + 16, xb + 16, b.k1), wb);
      }
    }
    uint8_t* out = y + p * y_stride + c;
    StoreRequantized(out, b.k0, acc0, b.bias0, b.mult0, lo, hi, y_zp_f, y_zp);
    if (b.k1 != 0) StoreRequantized(out + 16, b.k1, acc1, b.bias1, b.mult1, lo, hi, y_zp_f, y_zp);
  }
}

}  // namespace

void qk_qu8qs8_dwconv_ukernel_c32__avx512vnni(size_t channels, size_t pixels, size_t taps,
                                              const uint8_t* const* input, const int16_t* weights, uint8_t* y,
                                              size_t y_stride, const DwconvU8Params* params) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  const size_t pairs = (taps + 1) / 2;
  const __m512i zp_pair = _mm512_set1_epi32(params->x_zero_point * 0x10001);
  const __m512 lo = _mm512_set1_ps(params->lo), hi = _mm512_set1_ps(params->hi);
  const __m512i y_zp = _mm512_set1_epi32(params->y_zero_point);
  const __m512 y_zp_f = _mm512_set1_ps(params->y_zero_point_f);
  for (size_t c = 0; c < channels; c += 32) {
    const size_t n = channels - c < 32 ? channels - c : 32;
    Block b;
    b.k0 = FirstLanes(n);
    b.k1 = n > 16 ? FirstLanes(n - 16) : 0;
    const int16_t* w = weights + c * 2;
    // -x_zp * sum of the weights per channel (padded weights are 0, so a padded half stays 0).
    __m512i corr0 = _mm512_setzero_si512(), corr1 = _mm512_setzero_si512();
    for (size_t q = 0; q < pairs; ++q) {
      corr0 = _mm512_dpwssd_epi32(corr0, zp_pair, _mm512_loadu_si512(w + q * padded * 2));
      if (b.k1 != 0) corr1 = _mm512_dpwssd_epi32(corr1, zp_pair, _mm512_loadu_si512(w + q * padded * 2 + 32));
    }
    // The int32 bias joins the correction (loaded through the ps form: a masked load moves bits).
    const __m512i bias_int0 = _mm512_castps_si512(_mm512_maskz_loadu_ps(b.k0, params->bias_int + c));
    const __m512i bias_int1 = _mm512_castps_si512(_mm512_maskz_loadu_ps(b.k1, params->bias_int + c + 16));
    b.corr0 = _mm512_sub_epi32(bias_int0, corr0);
    b.corr1 = _mm512_sub_epi32(bias_int1, corr1);
    b.bias0 = _mm512_maskz_loadu_ps(b.k0, params->bias_term + c);
    b.mult0 = _mm512_maskz_loadu_ps(b.k0, params->multiplier + c);
    b.bias1 = _mm512_maskz_loadu_ps(b.k1, params->bias_term + c + 16);
    b.mult1 = _mm512_maskz_loadu_ps(b.k1, params->multiplier + c + 16);
    switch (taps) {
      case 3: BlockPixels<3>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
      case 5: BlockPixels<5>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
      case 9: BlockPixels<9>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
      default: BlockPixels<0>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    }
  }
}

}  // namespace qk
