// Depthwise convolution microkernels, AVX-512 VNNI (indirect and strided-row inputs): 32 channels per block, two taps per vpdpwssd.
//
// Per block of 32 channels (two halves of 16; the outer loop, pixels inside, so the block's
// weights stay in registers for 3/5/9-tap kernels), for every output pixel:
//   pair[c] = x_a[c] | x_b[c] << 16          the raw bytes of taps (2q, 2q + 1) as an int16 pair
//   acc    += vpdpwssd(pair, (w16_a, w16_b)) x_a * w16_a + x_b * w16_b per channel, exact
// and acc starts at -x_zp * sum_t w16[t][c] (computed once per block with vpdpwssd on
// (x_zp, x_zp) pairs), so acc = sum_t (x_t - x_zp) * w16_t modulo 2^32, as the scalar kernel.
// Channel tails use masked loads and stores (never touching bytes past `channels`). A full
// block forms its pairs with ymm byte unpacks instead (punpck{l,h}bw of x_a, x_b + vpmovzxbw:
// half the zmm work of two vpmovzxbd, a shift and an or per 16 channels); those pairs hold
// channels 0-7 and 16-23 (lo), 8-15 and 24-31 (hi), so the block's weights and constants are
// permuted the same way once per block and the output bytes put back in order by the packs.
// GCC 12 warns about its own _mm512_undefined_* placeholders inside the intrinsics (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "ukernels/ukernels.h"

namespace qk {
namespace {

inline __mmask16 FirstLanes(size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// The output stage of ukernels/gemm/requant-scalar.h on 16 lanes: int32 results in [0, 255].
// acc already holds the int32 bias (Block's corr), y_zp_f is the fp32 zero point (onednn) or 0.
inline __m512i Requantize(__m512i acc, __m512 bias_term, __m512 multiplier, __m512 lo, __m512 hi, __m512 y_zp_f,
                          __m512i y_zp) {
  __m512 t = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(acc), bias_term), multiplier);
  t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);  // maxps(t, lo) gives lo for NaN
  return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_add_ps(t, y_zp_f)), y_zp);
}

// Requantize for full blocks, whose results leave through the saturating packs (negative -> 0):
// kLean drops the max with lo, because there every t < lo ends at 0 anyway (the caller checked
// that the clamped value lo ends at 0, and the rounding is monotone; NaN converts to INT_MIN,
// so 0 too), and the add of y_zp_f, which is +0.0 there (t + 0.0 only turns -0.0 into +0.0,
// which convert to the same 0). Two of the eight operations per 16 outputs.
template <bool kLean>
inline __m512i RequantizeFull(__m512i acc, __m512 bias_term, __m512 multiplier, __m512 lo, __m512 hi, __m512 y_zp_f,
                              __m512i y_zp) {
  if (!kLean) return Requantize(acc, bias_term, multiplier, lo, hi, y_zp_f, y_zp);
  // minps returns its second operand when either is NaN: hi first, so NaN stays NaN (-> 0).
  const __m512 t = _mm512_min_ps(hi, _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(acc), bias_term), multiplier));
  return _mm512_add_epi32(_mm512_cvtps_epi32(t), y_zp);
}

// Requantize, stored to the lanes of k.
inline void StoreRequantized(uint8_t* y, __mmask16 k, __m512i acc, __m512 bias_term, __m512 multiplier, __m512 lo,
                             __m512 hi, __m512 y_zp_f, __m512i y_zp) {
  _mm512_mask_cvtepi32_storeu_epi8(y, k, Requantize(acc, bias_term, multiplier, lo, hi, y_zp_f, y_zp));
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
template <size_t kTaps, typename Src>
void BlockPixels(size_t c, size_t padded, size_t taps, size_t pixels, const Src& input, const int16_t* w,
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
    __m512i acc0 = b.corr0, acc1 = b.corr1;
    for (size_t t = 0; t < taps; t += 2) {
      // An odd last tap pairs with itself: its packed second weight is 0.
      const uint8_t* xa = input(p, t) + c;
      const uint8_t* xb = (t + 1 < taps ? input(p, t + 1) : input(p, t)) + c;
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


// vpermd indices of the packed output: after packus_epi32(lo, hi) and packus_epi16, dword
// (lane i, k) holds channels (0-3, 8-11), (4-7, 12-15), (16-19, 24-27), (20-23, 28-31) for
// lanes i = 0..3, k = 0, 1; these put the eight 4-channel dwords in order.
alignas(64) constexpr int32_t kPackedOrder[16] = {0, 4, 1, 5, 8, 12, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0};

// Channels (lo: 0-7 and 16-23, hi: 8-15 and 24-31) of two 16-channel vectors a (0-15), b (16-31).
inline __m512i LoHalves(__m512i a, __m512i b) { return _mm512_shuffle_i64x2(a, b, 0x44); }
inline __m512i HiHalves(__m512i a, __m512i b) { return _mm512_shuffle_i64x2(a, b, 0xEE); }
inline __m512 LoHalves(__m512 a, __m512 b) { return _mm512_shuffle_f32x4(a, b, 0x44); }
inline __m512 HiHalves(__m512 a, __m512 b) { return _mm512_shuffle_f32x4(a, b, 0xEE); }

// A full 32-channel block: pairs from ymm unpacks, lanes permuted as LoHalves / HiHalves.
// Kernels with more taps than the unrolled ones permute their weights once per block into this
// many pairs on the stack (a 5x5 kernel's 13 pairs); permuting them per pixel instead cost two
// lane shuffles per pair and pixel on the shuffle pipes the pair unpacks already load.
constexpr size_t kStackPairs = 32;

template <size_t kTaps, bool kLean, typename Src>
void FullBlockPixels(size_t c, size_t padded, size_t taps, size_t pixels, const Src& input, const int16_t* w,
                     const Block& b, __m512 lo, __m512 hi, __m512 y_zp_f, __m512i y_zp, uint8_t* y, size_t y_stride) {
  if (kTaps != 0) taps = kTaps;
  constexpr size_t kPairs = kTaps == 0 ? kStackPairs : (kTaps + 1) / 2;
  __m512i wl[kPairs], wh[kPairs];
  const bool stacked = kTaps != 0 || (taps + 1) / 2 <= kStackPairs;
  if (stacked) {
    for (size_t q = 0; q < (taps + 1) / 2; ++q) {
      const __m512i a = _mm512_loadu_si512(w + q * padded * 2), bb = _mm512_loadu_si512(w + q * padded * 2 + 32);
      wl[q] = LoHalves(a, bb);
      wh[q] = HiHalves(a, bb);
    }
  }
  const __m512i corr_l = LoHalves(b.corr0, b.corr1), corr_h = HiHalves(b.corr0, b.corr1);
  const __m512 bias_l = LoHalves(b.bias0, b.bias1), bias_h = HiHalves(b.bias0, b.bias1);
  const __m512 mult_l = LoHalves(b.mult0, b.mult1), mult_h = HiHalves(b.mult0, b.mult1);
  const __m512i order = _mm512_loadu_si512(kPackedOrder);
  for (size_t p = 0; p < pixels; ++p) {
    __m512i acc_l = corr_l, acc_h = corr_h;
    for (size_t t = 0; t < taps; t += 2) {
      const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input(p, t) + c));
      // An odd last tap pairs with itself: its packed second weight is 0.
      const __m256i xb =
          t + 1 < taps ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input(p, t + 1) + c)) : xa;
      const __m512i pl = _mm512_cvtepu8_epi16(_mm256_unpacklo_epi8(xa, xb));
      const __m512i ph = _mm512_cvtepu8_epi16(_mm256_unpackhi_epi8(xa, xb));
      __m512i wa, wb;
      if (stacked) {
        wa = wl[t / 2];
        wb = wh[t / 2];
      } else {
        const __m512i a = _mm512_loadu_si512(w + t / 2 * padded * 2), bb = _mm512_loadu_si512(w + t / 2 * padded * 2 + 32);
        wa = LoHalves(a, bb);
        wb = HiHalves(a, bb);
      }
      acc_l = _mm512_dpwssd_epi32(acc_l, pl, wa);
      acc_h = _mm512_dpwssd_epi32(acc_h, ph, wb);
    }
    const __m512i il = RequantizeFull<kLean>(acc_l, bias_l, mult_l, lo, hi, y_zp_f, y_zp);
    const __m512i ih = RequantizeFull<kLean>(acc_h, bias_h, mult_h, lo, hi, y_zp_f, y_zp);
    // The int32 results lie in [0, 255], so the saturating packs are exact. packus_epi32 then
    // packus_epi16 leave, per 128-bit lane, the dwords (lo lane, hi lane) = channels (0-3, 8-11),
    // (4-7, 12-15), (16-19, 24-27), (20-23, 28-31); vpermd puts them back in order.
    const __m512i words = _mm512_packus_epi32(il, ih);
    const __m512i bytes = _mm512_permutexvar_epi32(order, _mm512_packus_epi16(words, words));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + p * y_stride + c), _mm512_castsi512_si256(bytes));
  }
}

// A full block at its tap count (3, 5 and 9 unrolled).
template <bool kLean, typename Src>
void FullBlock(size_t c, size_t padded, size_t taps, size_t pixels, const Src& input, const int16_t* w, const Block& b,
               __m512 lo, __m512 hi, __m512 y_zp_f, __m512i y_zp, uint8_t* y, size_t y_stride) {
  switch (taps) {
    case 3: FullBlockPixels<3, kLean>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    case 5: FullBlockPixels<5, kLean>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    case 9: FullBlockPixels<9, kLean>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    default: FullBlockPixels<0, kLean>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
  }
}

// ---- quads: four taps per vpdpbusd, for weights that fit int8 ------------------------------
//
// When the op packed the quads layout (ukernels/conv/conv.h: every w16 in [-128, 127], as with
// PyTorch's symmetric qint8 weights), full blocks run on vpdpbusd: the input bytes of four taps of a channel
// side by side in a dword (u8) against the four weights (s8), so one instruction adds 4 taps of
// 8 channels. Byte unpacks of four 32-channel tap loads (punpck{l,h}bw, then punpck{l,h}wd)
// give the quads of channels (0-3, 16-19), (4-7, 20-23), (8-11, 24-27), (12-15, 28-31), one
// ymm each: 8 in-lane shuffles per 4 taps of 32 channels, where the pairs take 4 unpacks and
// 4 zmm zero-extensions (lane-crossing) for the same work, on the same two shuffle pipes.
// The sums are the same int32 values (exact products, wrapping adds), so the bytes are too.
// packus_epi32 of quads (1, 2) and (3, 4), then packus_epi16, leaves the 32 channels in order.

constexpr size_t kQuadVectors = 4;  // ymm vectors per quad of a 32-channel block

// 8 lanes of per-channel values in quad vector v's channel order.
inline __m256i QuadLanes(const int32_t* values, size_t v) {
  return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(values + 16 + 4 * v),
                             reinterpret_cast<const __m128i*>(values + 4 * v));
}
inline __m256 QuadLanes(const float* values, size_t v) { return _mm256_loadu2_m128(values + 16 + 4 * v, values + 4 * v); }

// RequantizeFull on 8 lanes: the same operations in the same order.
template <bool kLean>
inline __m256i RequantizeQuad(__m256i acc, __m256 bias_term, __m256 multiplier, __m256 lo, __m256 hi, __m256 y_zp_f,
                              __m256i y_zp) {
  __m256 t = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(acc), bias_term), multiplier);
  if (kLean) {
    t = _mm256_min_ps(hi, t);  // NaN stays NaN (-> 0), as RequantizeFull
  } else {
    t = _mm256_add_ps(_mm256_min_ps(_mm256_max_ps(t, lo), hi), y_zp_f);
  }
  return _mm256_add_epi32(_mm256_cvtps_epi32(t), y_zp);
}

// Two taps' bytes of 32 channels side by side (punpck{l,h}bw of taps a and b).
struct QuadPair {
  __m256i lo, hi;
};

inline QuadPair MakePair(__m256i a, __m256i b) { return QuadPair{_mm256_unpacklo_epi8(a, b), _mm256_unpackhi_epi8(a, b)}; }

// The four quad vectors of pairs ab and cd (taps a, b, c, d) added into acc0..acc3.
inline void AddPairs(const QuadPair& ab, const QuadPair& cd, const __m256i* w, __m256i& acc0, __m256i& acc1,
                     __m256i& acc2, __m256i& acc3) {
  acc0 = _mm256_dpbusd_epi32(acc0, _mm256_unpacklo_epi16(ab.lo, cd.lo), _mm256_loadu_si256(w));
  acc1 = _mm256_dpbusd_epi32(acc1, _mm256_unpackhi_epi16(ab.lo, cd.lo), _mm256_loadu_si256(w + 1));
  acc2 = _mm256_dpbusd_epi32(acc2, _mm256_unpacklo_epi16(ab.hi, cd.hi), _mm256_loadu_si256(w + 2));
  acc3 = _mm256_dpbusd_epi32(acc3, _mm256_unpackhi_epi16(ab.hi, cd.hi), _mm256_loadu_si256(w + 3));
}

// The four quad vectors of taps a, b, c, d (32 channels each) added into acc0..acc3.
inline void AddQuad(__m256i a, __m256i b, __m256i c, __m256i d, const __m256i* w, __m256i& acc0, __m256i& acc1,
                    __m256i& acc2, __m256i& acc3) {
  AddPairs(MakePair(a, b), MakePair(c, d), w, acc0, acc1, acc2, acc3);
}

// One pixel's 32 outputs from its four quad accumulators, stored at y.
template <bool kLean>
inline void StoreQuadPixel(__m256i acc0, __m256i acc1, __m256i acc2, __m256i acc3, const __m256 (&bias)[kQuadVectors],
                           const __m256 (&mult)[kQuadVectors], __m256 lo, __m256 hi, __m256 y_zp_f, __m256i y_zp,
                           uint8_t* y) {
  const __m256i r0 = RequantizeQuad<kLean>(acc0, bias[0], mult[0], lo, hi, y_zp_f, y_zp);
  const __m256i r1 = RequantizeQuad<kLean>(acc1, bias[1], mult[1], lo, hi, y_zp_f, y_zp);
  const __m256i r2 = RequantizeQuad<kLean>(acc2, bias[2], mult[2], lo, hi, y_zp_f, y_zp);
  const __m256i r3 = RequantizeQuad<kLean>(acc3, bias[3], mult[3], lo, hi, y_zp_f, y_zp);
  // The int32 results are <= 255 (negative ones end at 0 in the saturating packs).
  const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(r0, r1), _mm256_packus_epi32(r2, r3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), bytes);
}

// A full 32-channel block on quads (kTaps > 0: that tap count, so the whole quads and the
// last partial one are known when compiling; 0: `taps`).
template <size_t kTaps, bool kLean, typename Src>
void QuadBlockPixels(size_t c, size_t taps, size_t pixels, const Src& input, const int8_t* quads,
                     const __m256i (&corr)[kQuadVectors], const __m256 (&bias)[kQuadVectors],
                     const __m256 (&mult)[kQuadVectors], __m256 lo, __m256 hi, __m256 y_zp_f, __m256i y_zp,
                     uint8_t* y, size_t y_stride) {
  if (kTaps != 0) taps = kTaps;
  const size_t whole = taps / 4, rest = taps % 4;
  const __m256i* wq = reinterpret_cast<const __m256i*>(quads);
  for (size_t p = 0; p < pixels; ++p) {
    __m256i acc0 = corr[0], acc1 = corr[1], acc2 = corr[2], acc3 = corr[3];
    const auto load = [&](size_t tap) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input(p, tap) + c)); };
    for (size_t q = 0; q < whole; ++q) {
      const size_t t = 4 * q;
      AddQuad(load(t), load(t + 1), load(t + 2), load(t + 3), wq + q * kQuadVectors, acc0, acc1, acc2, acc3);
    }
    if (rest != 0) {
      // The last quad's taps past the kernel read its first tap's pixel again (weights 0).
      const size_t t = 4 * whole;
      const __m256i a = load(t), b = rest > 1 ? load(t + 1) : a, x2 = rest > 2 ? load(t + 2) : a;
      AddQuad(a, b, x2, a, wq + whole * kQuadVectors, acc0, acc1, acc2, acc3);
    }
    StoreQuadPixel<kLean>(acc0, acc1, acc2, acc3, bias, mult, lo, hi, y_zp_f, y_zp, y + p * y_stride + c);
  }
}

// ---- 1-D windows: the byte pairs shared between pixels -----------------------------------
//
// A row call whose taps are one `spacing` apart and whose pixels are kStride (1 or 2) spacings
// apart is a 1-D window (a conv1d, or a 2-D conv with one kernel row). There the quads' first
// unpack, the bytes of input pixels j and j + 1 side by side (a pair P(j)), is the same for
// every output pixel that reads j and j + 1 at an even tap offset: pixel p's quads are
// unpack16(P(s p), P(s p + 2)) and unpack16(P(s p + 4), P(s p + 6)), so each pixel makes one
// new pair (its last) and takes the others from earlier pixels: for a 5-tap window 2 + 8
// shuffles and one load instead of 16 and 6. A pair past the last tap (x_5 in a 5-tap window,
// x_3 in a 3-tap one) meets a 0 weight, as the generic path's repeated tap does; it reads the
// pixel after the window, which only the call's last pixel may not own, so that pixel takes the
// generic path. Same products, same wrapping int32 sums: the same bytes.
struct Window {
  const uint8_t* x0;  // tap 0 of pixel 0 (channel 0)
  size_t spacing;     // bytes between consecutive taps
};

template <size_t kTaps, size_t kStride, bool kLean>
void WindowQuadPixels(size_t c, size_t pixels, const Window& window, const int8_t* quads,
                      const __m256i (&corr)[kQuadVectors], const __m256 (&bias)[kQuadVectors],
                      const __m256 (&mult)[kQuadVectors], __m256 lo, __m256 hi, __m256 y_zp_f, __m256i y_zp,
                      uint8_t* y, size_t y_stride) {
  static_assert(kTaps == 3 || kTaps == 5, "one or two quads");
  constexpr size_t kPairs = (kTaps + 1) / 2;  // pairs at tap offsets 0, 2, 4: the last is new per pixel
  constexpr size_t kRing = 8;                 // > the span of pair offsets live at once (2 (kPairs - 1) + kStride)
  const uint8_t* x = window.x0 + c;
  const size_t spacing = window.spacing;
  const auto make = [&](size_t j) {
    return MakePair(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j * spacing)),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + (j + 1) * spacing)));
  };
  QuadPair ring[kRing];
  // The pairs that pixels before the first new one would have made: every offset below the
  // first pixel's last pair at stride 1 (pixel p makes P(p + 2 (kPairs - 1))), the even ones at 2.
  for (size_t j = 0; j < 2 * (kPairs - 1); j += kStride) ring[j % kRing] = make(j);
  const __m256i* wq = reinterpret_cast<const __m256i*>(quads);
  const __m256i zero = _mm256_setzero_si256();
  for (size_t p = 0; p < pixels; ++p) {
    const size_t j0 = kStride * p, last = j0 + 2 * (kPairs - 1);
    ring[last % kRing] = make(last);
    __m256i acc0 = corr[0], acc1 = corr[1], acc2 = corr[2], acc3 = corr[3];
    const QuadPair& p0 = ring[j0 % kRing];
    const QuadPair& p1 = ring[(j0 + 2) % kRing];
    AddPairs(p0, p1, wq, acc0, acc1, acc2, acc3);
    if (kTaps == 5) AddPairs(ring[(j0 + 4) % kRing], QuadPair{zero, zero}, wq + kQuadVectors, acc0, acc1, acc2, acc3);
    StoreQuadPixel<kLean>(acc0, acc1, acc2, acc3, bias, mult, lo, hi, y_zp_f, y_zp, y + p * y_stride + c);
  }
}

// A full block on its quads (params->quads, packed by ops/conv.cc when every weight fits int8).
template <bool kLean, typename Src>
void QuadBlock(size_t c, size_t taps, size_t pixels, const Src& input, const Window* window, size_t stride,
               const DwconvU8Params* params, const __m256 lo, __m256 hi, __m256 y_zp_f, __m256i y_zp, uint8_t* y,
               size_t y_stride) {
  const size_t count = (taps + 3) / 4;
  const int8_t* quads = params->quads + c / kDwconvQuadChannels * count * kDwconvQuadBytes;
  // acc starts at bias_int - x_zp * sum of the weights: vpdpbusd of x_zp bytes with the quads.
  const __m256i zp = _mm256_set1_epi8(static_cast<char>(params->x_zero_point));
  __m256i corr[kQuadVectors];
  __m256 bias[kQuadVectors], mult[kQuadVectors];
  for (size_t v = 0; v < kQuadVectors; ++v) {
    __m256i sum = _mm256_setzero_si256();
    for (size_t q = 0; q < count; ++q) {
      sum = _mm256_dpbusd_epi32(sum, zp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quads) + q * kQuadVectors + v));
    }
    corr[v] = _mm256_sub_epi32(QuadLanes(params->bias_int + c, v), sum);
    bias[v] = QuadLanes(params->bias_term + c, v);
    mult[v] = QuadLanes(params->multiplier + c, v);
  }
  if (window != nullptr && pixels >= 2 && (taps == 3 || taps == 5) && (stride == 1 || stride == 2)) {
    // All but the last pixel on the shared pairs; the last one (whose pairs would read past its
    // window) below, on the generic path.
    const size_t shared = pixels - 1;
    if (taps == 3 && stride == 1) {
      WindowQuadPixels<3, 1, kLean>(c, shared, *window, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride);
    } else if (taps == 3) {
      WindowQuadPixels<3, 2, kLean>(c, shared, *window, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride);
    } else if (stride == 1) {
      WindowQuadPixels<5, 1, kLean>(c, shared, *window, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride);
    } else {
      WindowQuadPixels<5, 2, kLean>(c, shared, *window, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride);
    }
    const auto last = [&input, shared](size_t p, size_t t) { return input(p + shared, t); };
    QuadBlockPixels<0, kLean>(c, taps, 1, last, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y + shared * y_stride,
                              y_stride);
    return;
  }
  switch (taps) {
    case 3: QuadBlockPixels<3, kLean>(c, taps, pixels, input, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    case 5: QuadBlockPixels<5, kLean>(c, taps, pixels, input, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    case 9: QuadBlockPixels<9, kLean>(c, taps, pixels, input, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    case 25: QuadBlockPixels<25, kLean>(c, taps, pixels, input, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    default: QuadBlockPixels<0, kLean>(c, taps, pixels, input, quads, corr, bias, mult, lo, hi, y_zp_f, y_zp, y, y_stride); break;
  }
}

// Every channel block of `pixels` output pixels; input(p, t) points at channel 0 of the input
// pixel that tap t of pixel p reads.
// window: the call's 1-D window geometry (row calls whose taps are evenly spaced), or null;
// stride: its pixels' step in taps.
template <typename Src>
void Run(size_t channels, size_t pixels, size_t taps, const Src& input, const Window* window, size_t stride,
         const int16_t* weights, uint8_t* y, size_t y_stride, const DwconvU8Params* params) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  const size_t pairs = (taps + 1) / 2;
  const __m512i zp_pair = _mm512_set1_epi32(params->x_zero_point * 0x10001);
  const __m512 lo = _mm512_set1_ps(params->lo), hi = _mm512_set1_ps(params->hi);
  const __m512i y_zp = _mm512_set1_epi32(params->y_zero_point);
  const __m512 y_zp_f = _mm512_set1_ps(params->y_zero_point_f);
  // RequantizeFull's lean form applies when y_zp_f is 0 and the clamped value lo ends at 0 (the
  // same fp32 add and round-to-nearest-even conversion as the vector code).
  const float lo_at_zp = params->lo + params->y_zero_point_f;  // |lo| <= 255: nearbyint is exact
  const bool lean =
      params->y_zero_point_f == 0.0f && static_cast<int32_t>(std::nearbyint(lo_at_zp)) + params->y_zero_point == 0;
  const __m256 lo8 = _mm256_set1_ps(params->lo), hi8 = _mm256_set1_ps(params->hi);
  const __m256 y_zp_f8 = _mm256_set1_ps(params->y_zero_point_f);
  const __m256i y_zp8 = _mm256_set1_epi32(params->y_zero_point);
  for (size_t c = 0; c < channels; c += 32) {
    const size_t n = channels - c < 32 ? channels - c : 32;
    if (n == 32 && params->quads != nullptr) {
      if (lean) {
        QuadBlock<true>(c, taps, pixels, input, window, stride, params, lo8, hi8, y_zp_f8, y_zp8, y, y_stride);
      } else {
        QuadBlock<false>(c, taps, pixels, input, window, stride, params, lo8, hi8, y_zp_f8, y_zp8, y, y_stride);
      }
      continue;
    }
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
    if (n == 32) {
      if (lean) {
        FullBlock<true>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride);
      } else {
        FullBlock<false>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride);
      }
      continue;
    }
    switch (taps) {
      case 3: BlockPixels<3>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
      case 5: BlockPixels<5>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
      case 9: BlockPixels<9>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
      default: BlockPixels<0>(c, padded, taps, pixels, input, w, b, lo, hi, y_zp_f, y_zp, y, y_stride); break;
    }
  }
}

}  // namespace

void qk_qu8qs8_dwconv_ukernel_c32__avx512vnni(size_t channels, size_t pixels, size_t taps,
                                              const uint8_t* const* input, const int16_t* weights, uint8_t* y,
                                              size_t y_stride, const DwconvU8Params* params) {
  Run(channels, pixels, taps, [input, taps](size_t p, size_t t) { return input[p * taps + t]; }, nullptr, 0, weights, y,
      y_stride, params);
}

void qk_qu8qs8_dwconv_row_ukernel_c32__avx512vnni(size_t channels, size_t pixels, size_t taps,
                                                  const uint8_t* const* base, size_t step, const int16_t* weights,
                                                  uint8_t* y, size_t y_stride, const DwconvU8Params* params) {
  // A 1-D window: taps one spacing apart, pixels one or two spacings apart (WindowQuadPixels).
  // Addresses compare as integers: the taps may point into different buffers (a padded line).
  Window window{base[0], 0};
  size_t stride = 0;
  const uintptr_t first = reinterpret_cast<uintptr_t>(base[0]);
  if (taps >= 2 && reinterpret_cast<uintptr_t>(base[1]) > first) {
    window.spacing = reinterpret_cast<uintptr_t>(base[1]) - first;
    bool even = true;
    for (size_t t = 2; t < taps; ++t) even = even && reinterpret_cast<uintptr_t>(base[t]) == first + t * window.spacing;
    stride = !even ? 0 : step == window.spacing ? 1 : step == 2 * window.spacing ? 2 : 0;
  }
  Run(channels, pixels, taps, [base, step](size_t p, size_t t) { return base[t] + p * step; },
      stride != 0 ? &window : nullptr, stride, weights, y, y_stride, params);
}

}  // namespace qk
