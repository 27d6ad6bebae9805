// Depthwise convolution microkernels, AVX2 (indirect and strided-row inputs): blocks of 16 channels, two taps per vpmaddwd, weights held across pixels.
//
// Per block of 16 channels (the outer loop; pixels inside, so the block's weights stay in
// registers for the common tap counts), for taps (a, b) = (2q, 2q + 1):
//   pairs = zero-extend(interleave(x_a[c], x_b[c])) to int16        punpck{l,h}bw + vpmovzxbw
//   acc  += vpmaddwd(pairs, (w16_a[c], w16_b[c]))                    x_a * w16_a + x_b * w16_b, exact
// with acc starting at -x_zp * sum_t w16[t][c] (one vpmaddwd per pair per block), so that
// acc = sum_t (x_t - x_zp) * w16_t modulo 2^32, as the scalar kernel. |x| <= 255, |w16| <= 255.
#include <immintrin.h>

#include <cstring>

#include "ukernels/gemm/requant-avx2.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

// How a block's 16 input bytes of channels [c, c + n) are read; none reads past the row.
enum class Load {
  kFull,      // n == 16: one load
  kTailBack,  // n < 16 after a full block: the 16 bytes that end at the block's end (the row's
              // channels before c are readable) moved down by n - 16 with pshufb, zeros above:
              // no copy through memory (a memcpy call per tap was 55% of a 72-channel 5x5 conv)
  kTailCopy,  // n < 16 and the whole row (channels < 16): copied into a zeroed buffer
};

template <Load kLoad>
inline __m128i LoadChannels(const uint8_t* row, size_t n, __m128i tail_shuffle) {
  if (kLoad == Load::kFull) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(row));
  if (kLoad == Load::kTailBack) {
    return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + n - 16)), tail_shuffle);
  }
  alignas(16) uint8_t buffer[16] = {0};
  std::memcpy(buffer, row, n);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(buffer));
}

struct Block {
  __m256i corr0, corr1;           // -x_zp * sum of the weights + the int32 bias, channels 0-7 and 8-15
  __m256 bias0, bias1, mult0, mult1;
  __m128i tail_shuffle;           // Load::kTailBack: byte i <- byte i + 16 - n for i < n, else zero
};

// The pixels of one 16-channel block; kTaps > 0 unrolls the taps (weights in registers),
// kTaps == 0 loops over `taps`.
template <size_t kTaps, Load kLoad, typename Src>
void BlockPixels(size_t c, size_t n, size_t padded, size_t taps, size_t pixels, const Src& input,
                 const int16_t* w, const Block& b, const Avx2Requant& rq, uint8_t* y, size_t y_stride) {
  if (kTaps != 0) taps = kTaps;
  constexpr size_t kPairs = kTaps == 0 ? 1 : (kTaps + 1) / 2;
  __m256i w0[kPairs], w1[kPairs];
  if (kTaps != 0) {
    for (size_t q = 0; q < kPairs; ++q) {
      w0[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q * padded * 2));
      w1[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q * padded * 2 + 16));
    }
  }
  for (size_t p = 0; p < pixels; ++p) {
    __m256i acc0 = b.corr0, acc1 = b.corr1;
    for (size_t t = 0; t < taps; t += 2) {
      const __m128i xa = LoadChannels<kLoad>(input(p, t) + c, n, b.tail_shuffle);
      // An odd last tap pairs with itself: its packed second weight is 0.
      const __m128i xb = t + 1 < taps ? LoadChannels<kLoad>(input(p, t + 1) + c, n, b.tail_shuffle) : xa;
      const __m256i p0 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xa, xb));
      const __m256i p1 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(xa, xb));
      __m256i wa, wb;
      if (kTaps != 0) {
        wa = w0[t / 2];
        wb = w1[t / 2];
      } else {
        wa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + t / 2 * padded * 2));
        wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + t / 2 * padded * 2 + 16));
      }
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, wa));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, wb));
    }
    const __m256i folded = _mm256_setzero_si256();  // the int32 bias is already in acc (corr)
    Avx2StoreU8x16(y + p * y_stride + c, rq.Apply(acc0, folded, b.bias0, b.mult0), rq.Apply(acc1, folded, b.bias1, b.mult1),
                   n);
  }
}

template <Load kLoad, typename Src>
void Pixels(size_t c, size_t n, size_t padded, size_t taps, size_t pixels, const Src& input,
            const int16_t* w, const Block& b, const Avx2Requant& rq, uint8_t* y, size_t y_stride) {
  switch (taps) {
    case 3: return BlockPixels<3, kLoad, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
    case 5: return BlockPixels<5, kLoad, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
    case 9: return BlockPixels<9, kLoad, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
    default: return BlockPixels<0, kLoad, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
  }
}

// Every channel block of `pixels` output pixels; input(p, t) points at channel 0 of the input
// pixel that tap t of pixel p reads.
template <typename Src>
void Run(size_t channels, size_t pixels, size_t taps, const Src& input, const int16_t* weights, uint8_t* y,
         size_t y_stride, const DwconvU8Params* params) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  const __m256i zp_pair = _mm256_set1_epi32(params->x_zero_point * 0x10001);
  const Avx2Requant rq(params->lo, params->hi, params->y_zero_point_f, params->y_zero_point);
  for (size_t c = 0; c < channels; c += 16) {
    const size_t n = channels - c < 16 ? channels - c : 16;
    const int16_t* w = weights + c * 2;
    Block b;
    b.corr0 = b.corr1 = _mm256_setzero_si256();
    b.tail_shuffle = _mm_setzero_si128();
    for (size_t q = 0; q < (taps + 1) / 2; ++q) {
      b.corr0 = _mm256_sub_epi32(
          b.corr0, _mm256_madd_epi16(zp_pair, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q * padded * 2))));
      b.corr1 = _mm256_sub_epi32(
          b.corr1,
          _mm256_madd_epi16(zp_pair, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q * padded * 2 + 16))));
    }
    if (n == 16) {
      b.corr0 = _mm256_add_epi32(b.corr0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(params->bias_int + c)));
      b.corr1 = _mm256_add_epi32(b.corr1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(params->bias_int + c + 8)));
      b.bias0 = _mm256_loadu_ps(params->bias_term + c);
      b.bias1 = _mm256_loadu_ps(params->bias_term + c + 8);
      b.mult0 = _mm256_loadu_ps(params->multiplier + c);
      b.mult1 = _mm256_loadu_ps(params->multiplier + c + 8);
      Pixels<Load::kFull, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
    } else {
      const __m256i m0 = Avx2GemmFirstLanes(n < 8 ? n : 8), m1 = Avx2GemmFirstLanes(n > 8 ? n - 8 : 0);
      b.corr0 = _mm256_add_epi32(b.corr0, _mm256_maskload_epi32(params->bias_int + c, m0));
      b.corr1 = _mm256_add_epi32(b.corr1, _mm256_maskload_epi32(params->bias_int + c + 8, m1));
      b.bias0 = _mm256_maskload_ps(params->bias_term + c, m0);
      b.bias1 = _mm256_maskload_ps(params->bias_term + c + 8, m1);
      b.mult0 = _mm256_maskload_ps(params->multiplier + c, m0);
      b.mult1 = _mm256_maskload_ps(params->multiplier + c + 8, m1);
      if (c == 0) {
        Pixels<Load::kTailCopy, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
      } else {
        alignas(16) int8_t shuffle[16];
        for (size_t i = 0; i < 16; ++i) shuffle[i] = i < n ? static_cast<int8_t>(i + 16 - n) : static_cast<int8_t>(-128);
        b.tail_shuffle = _mm_load_si128(reinterpret_cast<const __m128i*>(shuffle));
        Pixels<Load::kTailBack, Src>(c, n, padded, taps, pixels, input, w, b, rq, y, y_stride);
      }
    }
  }
}

}  // namespace

void qk_qu8qs8_dwconv_ukernel_c16__avx2(size_t channels, size_t pixels, size_t taps, const uint8_t* const* input,
                                        const int16_t* weights, uint8_t* y, size_t y_stride,
                                        const DwconvU8Params* params) {
  Run(channels, pixels, taps, [input, taps](size_t p, size_t t) { return input[p * taps + t]; }, weights, y, y_stride,
      params);
}

void qk_qu8qs8_dwconv_row_ukernel_c16__avx2(size_t channels, size_t pixels, size_t taps, const uint8_t* const* base,
                                            size_t step, const int16_t* weights, uint8_t* y, size_t y_stride,
                                            const DwconvU8Params* params) {
  Run(channels, pixels, taps, [base, step](size_t p, size_t t) { return base[t] + p * step; }, weights, y, y_stride,
      params);
}

}  // namespace qk
