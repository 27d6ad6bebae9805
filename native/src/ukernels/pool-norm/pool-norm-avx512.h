// Pooling and batch-norm kernel bodies with AVX-512 (F/BW) intrinsics (compiled only into the avx512vnni kernel files).
//
// Pooling rows: vpmaxub / vpmaxsb over 64 channels per pixel; average sums in int16 lanes over 64
// channels (widened to int32 every kPoolInt16Values values) and the requantization in 16-lane
// fp32 (vmulps, vaddps, vcvtps2dq: round half to even under the default MXCSR, as lrint);
// channel tails under AVX-512BW byte masks, so no scalar tail. Batch norm: 16 channels through
// vfmadd, ending in vpmovdb (the values are already clamped to the output type, so truncation is
// exact); its tail runs the scalar body.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {
namespace {

inline __m512i Max8x64(__m512i a, __m512i b, uint8_t) { return _mm512_max_epu8(a, b); }
inline __m512i Max8x64(__m512i a, __m512i b, int8_t) { return _mm512_max_epi8(a, b); }
inline __m512i Widen16(__m128i v, uint8_t) { return _mm512_cvtepu8_epi32(v); }
inline __m512i Widen16(__m128i v, int8_t) { return _mm512_cvtepi8_epi32(v); }
inline __m512i Widen32x16(__m256i v, uint8_t) { return _mm512_cvtepu8_epi16(v); }
inline __m512i Widen32x16(__m256i v, int8_t) { return _mm512_cvtepi8_epi16(v); }


// A bit per channel of a block of `width` channels starting at c that lies below `limit`.
inline uint64_t LanesBelow(size_t c, size_t limit, size_t width) {
  if (c >= limit) return 0;
  return limit - c >= width ? (width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1) : (uint64_t{1} << (limit - c)) - 1;
}

template <typename T>
void MaxPoolRowAvx512(const T* const* lines, T* y, const PoolRowParams& p) {
  const size_t C = p.channels, stride = p.column_stride;
  const __m512i lowest = _mm512_set1_epi8(static_cast<char>(std::numeric_limits<T>::lowest()));
  for (size_t ow = 0; ow < p.output_width; ++ow) {
    const size_t offset = p.column_offset[ow], count = p.column_count[ow];
    T* out = y + ow * C;
    size_t c = 0;
    for (; c + 64 <= C; c += 64) {
      __m512i m = lowest;
      for (size_t l = 0; l < p.lines; ++l) {
        const T* s = lines[l] + offset + c;
        for (size_t k = 0; k < count; ++k) m = Max8x64(m, _mm512_loadu_si512(s + k * stride), T());
      }
      _mm512_storeu_si512(out + c, m);
    }
    // The last channels under a byte mask (masked-off bytes are neither read nor written;
    // masked stores are slow on Zen 4, so only here).
    if (c < C) {
      const __mmask64 mask = LanesBelow(c, C, 64);
      __m512i m = lowest;
      for (size_t l = 0; l < p.lines; ++l) {
        const T* s = lines[l] + offset + c;
        for (size_t k = 0; k < count; ++k) m = Max8x64(m, _mm512_maskz_loadu_epi8(mask, s + k * stride), T());
      }
      _mm512_mask_storeu_epi8(out + c, mask, m);
    }
  }
}

// Requantizes 16 int32 sums (pool-norm.h) up to the final clamp, which the saturating packs do.
// Without kPre, pre is 0 and adding it would change nothing (-0 and +0 round alike).
template <bool kPre>
inline __m512i AvgPoolRequant16(__m512i acc, __m512 scale, __m512 pre, __m512i post) {
  __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  if (kPre) t = _mm512_add_ps(t, pre);
  return _mm512_add_epi32(_mm512_cvtps_epi32(t), post);
}

inline __m512i PackBytes(__m512i a, __m512i b, uint8_t) { return _mm512_packus_epi16(a, b); }
inline __m512i PackBytes(__m512i a, __m512i b, int8_t) { return _mm512_packs_epi16(a, b); }

// Values as unsigned bytes: int8 x becomes x + 128 (x ^ 0x80), which the sum's start value
// takes back (AvgBias), so that both types widen with zero-extending unpacks.
inline __m512i AsUnsigned(__m512i v, uint8_t) { return v; }
inline __m512i AsUnsigned(__m512i v, int8_t) { return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80))); }
constexpr int32_t AvgBias(uint8_t) { return 0; }
constexpr int32_t AvgBias(int8_t) { return 128; }

// One block of 64 channels of one pixel (masked: the channels the mask selects). The window is
// summed in int16 lanes (unpacked against zero, in 128-bit lanes) and widened to int32 the same
// way, so vector q (0..3) holds channels 16 i + 4 q .. 16 i + 4 q + 3 of each 128-bit lane i;
// the saturating packs (vpackssdw, then vpackuswb / vpacksswb) put them back in order.
template <typename T, bool kMasked, bool kPre>
inline void AvgPoolBlock64(const T* const* lines, size_t line_count, size_t offset, size_t count, size_t stride,
                           __mmask64 mask, __m512i init, int64_t below_split, __m512 scale, __m512 tail_scale, __m512 pre,
                           __m512i post, T* out) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i acc[4] = {init, init, init, init};
  __m512i part_lo = zero, part_hi = zero;
  pool_norm_scalar::ForEachWindowValue(
      lines, line_count, offset, count, stride,
      [&](const T* s) {
        const __m512i v = AsUnsigned(kMasked ? _mm512_maskz_loadu_epi8(mask, s) : _mm512_loadu_si512(s), T());
        part_lo = _mm512_add_epi16(part_lo, _mm512_unpacklo_epi8(v, zero));
        part_hi = _mm512_add_epi16(part_hi, _mm512_unpackhi_epi8(v, zero));
      },
      [&] {
        acc[0] = _mm512_add_epi32(acc[0], _mm512_unpacklo_epi16(part_lo, zero));
        acc[1] = _mm512_add_epi32(acc[1], _mm512_unpackhi_epi16(part_lo, zero));
        acc[2] = _mm512_add_epi32(acc[2], _mm512_unpacklo_epi16(part_hi, zero));
        acc[3] = _mm512_add_epi32(acc[3], _mm512_unpackhi_epi16(part_hi, zero));
        part_lo = part_hi = zero;
      });
  __m512i q[4];
  for (int v = 0; v < 4; ++v) {
    __m512 m = scale;
    if (below_split < 64) {
      // The channel of each lane of vector v, against the channels left below split.
      const __m512i channel = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51),
                                               _mm512_set1_epi32(4 * v));
      const __mmask16 below = _mm512_cmplt_epi32_mask(channel, _mm512_set1_epi32(static_cast<int32_t>(below_split)));
      m = _mm512_mask_blend_ps(below, tail_scale, scale);
    }
    q[v] = AvgPoolRequant16<kPre>(acc[v], m, pre, post);
  }
  const __m512i bytes = PackBytes(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]), T());
  if (kMasked) {
    _mm512_mask_storeu_epi8(out, mask, bytes);
  } else {
    _mm512_storeu_si512(out, bytes);
  }
}

template <typename T, bool kPre>
void AvgPoolRowAvx512(const T* const* lines, T* y, const AvgPoolRowParams& p) {
  const PoolRowParams& r = p.row;
  const size_t C = r.channels;
  const __m512 pre = _mm512_set1_ps(p.pre);
  const __m512i post = _mm512_set1_epi32(p.post);
  for (size_t ow = 0; ow < r.output_width; ++ow) {
    const size_t offset = r.column_offset[ow], count = r.column_count[ow];
    const __m512i init = _mm512_set1_epi32(-static_cast<int32_t>(r.lines * count) * (p.zero_point + AvgBias(T())));
    const __m512 scale = _mm512_set1_ps(p.scale[ow]), tail_scale = _mm512_set1_ps(p.tail_scale[ow]);
    T* out = y + ow * C;
    // Channels of the block below split (clamped to [-1, 64]): those take scale, the others tail_scale.
    const auto below_split = [&](size_t c) {
      return c >= p.split ? int64_t{-1} : static_cast<int64_t>(std::min<size_t>(p.split - c, 64));
    };
    size_t c = 0;
    for (; c + 64 <= C; c += 64) {
      AvgPoolBlock64<T, false, kPre>(lines, r.lines, offset + c, count, r.column_stride, 0, init, below_split(c), scale,
                               tail_scale, pre, post, out + c);
    }
    // The last channels under a byte mask (masked-off bytes are neither read nor written;
    // masked stores are slow on Zen 4, so only here).
    if (c < C) {
      AvgPoolBlock64<T, true, kPre>(lines, r.lines, offset + c, count, r.column_stride, LanesBelow(c, C, 64), init,
                              below_split(c), scale, tail_scale, pre, post, out + c);
    }
  }
}

// Channels-first formulas add pre before rounding; the others have none (pool.h).
template <typename T>
void AvgPoolRowAvx512(const T* const* lines, T* y, const AvgPoolRowParams& p) {
  if (p.pre != 0.0f) {
    AvgPoolRowAvx512<T, true>(lines, y, p);
  } else {
    AvgPoolRowAvx512<T, false>(lines, y, p);
  }
}

template <typename T>
void BatchNormAvx512(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p) {
  const __m512i x_zero_point = _mm512_set1_epi32(p.x_zero_point);
  const __m512i y_zero_point = _mm512_set1_epi32(p.y_zero_point);
  const __m512i qmin = _mm512_set1_epi32(p.qmin);
  const __m512i qmax = _mm512_set1_epi32(p.qmax);
  const __m512 low = _mm512_set1_ps(-pool_norm_scalar::kBatchNormBound);
  const __m512 high = _mm512_set1_ps(pool_norm_scalar::kBatchNormBound);
  size_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    const __m512i raw = Widen16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c)), T());
    const __m512 centered = _mm512_cvtepi32_ps(_mm512_sub_epi32(raw, x_zero_point));
    __m512 t = _mm512_fmadd_ps(_mm512_loadu_ps(alpha + c), centered, _mm512_loadu_ps(beta + c));
    t = _mm512_min_ps(_mm512_max_ps(t, low), high);  // MAXPS returns the bound for NaN
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(t), y_zero_point);
    q = _mm512_min_epi32(_mm512_max_epi32(q, qmin), qmax);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + c), _mm512_cvtepi32_epi8(q));
  }
  pool_norm_scalar::BatchNorm(channels, x, alpha, beta, y, p, c);
}

// The per-call constants of normalize (pool-norm.h) in vectors.
struct Set1Ps512 {
  __m512 operator()(float v) const { return _mm512_set1_ps(v); }
};
using NormalizeConsts512 = pool_norm_scalar::NormalizeConstants<Set1Ps512>;

// 16 values of normalize (the lanes of `k`; the others read as 0 and are not stored), each lane
// with its own mean_centred, scale, gamma and beta: the scalar formula's IEEE operations in its order.
template <typename T>
inline void NormalizeStep16(const T* x, T* y, __mmask16 k, __m512 mean_centred, __m512 scale, __m512 g, __m512 b,
                            const NormalizeConsts512& c) {
  const __m512 v = _mm512_cvtepi32_ps(Widen16(_mm_maskz_loadu_epi8(k, x), T()));
  const __m512 u = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(v, c.x_zero_point), mean_centred), scale);
  const __m512 t = _mm512_fmadd_ps(u, g, b);
  __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(t, c.y_inv_scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  q = _mm512_add_ps(q, c.y_zero_point);
  q = _mm512_min_ps(_mm512_max_ps(q, c.qmin), c.qmax);  // VMAXPS returns qmin for a NaN q
  _mm_mask_storeu_epi8(y, k, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q)));
}

// The low `count` lanes set (count <= 16).
inline __mmask16 LowLanes16(size_t count) { return static_cast<__mmask16>((1u << count) - 1); }

// normalize (pool-norm.h), 16 values a step.
template <typename T>
void NormalizeAvx512(size_t n, const T* x, const float* gamma, const float* beta, size_t affine_stride, T* y,
                     const NormalizeParams& p) {
  if (n == 0) return;
  const NormalizeConsts512 c(p);
  const __m512 mean_centred = _mm512_set1_ps(p.mean_centred);
  const __m512 scale = _mm512_set1_ps(p.scale);
  const __m512 gamma0 = _mm512_set1_ps(gamma[0]);
  const __m512 beta0 = _mm512_set1_ps(beta[0]);
  auto sixteen = [&](size_t i, __mmask16 k) {
    const __m512 g = affine_stride != 0 ? _mm512_maskz_loadu_ps(k, gamma + i) : gamma0;
    const __m512 b = affine_stride != 0 ? _mm512_maskz_loadu_ps(k, beta + i) : beta0;
    NormalizeStep16(x + i, y + i, k, mean_centred, scale, g, b, c);
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16) sixteen(i, 0xFFFF);
  // The tail in one masked step: short rows (a layer norm over a few values) pay no scalar loop.
  if (i < n) sixteen(i, LowLanes16(n - i));
}

// normalize_rows (pool-norm.h). Runs of 1, 2, 4 or 8 values: 16 values (16 / n runs) a step, lane
// j of a step reading its run's statistics (run j / n of the step) and affine element j % n
// through a lane permutation; a run's values then see exactly the operands of a normalize call.
// Other lengths: one normalize body per run.
template <typename T>
void NormalizeRowsAvx512(size_t rows, size_t n, const T* x, const float* mean_centred, const float* scale,
                         const float* gamma, const float* beta, size_t affine_stride, T* y, const NormalizeParams& p) {
  if (rows == 0 || n == 0) return;
  if (n >= 16 || 16 % n != 0) {
    pool_norm_scalar::NormalizeEachRow(rows, n, x, mean_centred, scale, y, p, [&](size_t len, const T* xr, T* yr, const NormalizeParams& run) {
      NormalizeAvx512(len, xr, gamma, beta, affine_stride, yr, run);
    });
    return;
  }
  const NormalizeConsts512 c(p);
  const size_t runs_per_step = 16 / n;
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  // n is a power of two here: lane / n and lane % n are a shift and a mask.
  const int shift = __builtin_ctz(static_cast<unsigned>(n));
  const __m512i run_of_lane = _mm512_srli_epi32(lane, static_cast<unsigned>(shift));
  const __m512i element_of_lane = _mm512_and_si512(lane, _mm512_set1_epi32(static_cast<int>(n - 1)));
  __m512 g, b;
  if (affine_stride != 0) {
    g = _mm512_permutexvar_ps(element_of_lane, _mm512_maskz_loadu_ps(LowLanes16(n), gamma));
    b = _mm512_permutexvar_ps(element_of_lane, _mm512_maskz_loadu_ps(LowLanes16(n), beta));
  } else {
    g = _mm512_set1_ps(gamma[0]);
    b = _mm512_set1_ps(beta[0]);
  }
  const size_t total = rows * n;
  for (size_t i = 0, r = 0; i < total; i += 16, r += runs_per_step) {
    // The last step holds the runs left (total is a multiple of n).
    const size_t runs = rows - r < runs_per_step ? rows - r : runs_per_step;
    const __mmask16 run_mask = LowLanes16(runs);
    const __m512 m = _mm512_permutexvar_ps(run_of_lane, _mm512_maskz_loadu_ps(run_mask, mean_centred + r));
    const __m512 s = _mm512_permutexvar_ps(run_of_lane, _mm512_maskz_loadu_ps(run_mask, scale + r));
    NormalizeStep16(x + i, y + i, LowLanes16(runs * n), m, s, g, b, c);
  }
}

// bilinear (pool-norm.h), 16 channels a step over the vector part, its last (8-channel) step
// masked, the scalar formula for the rest.
template <typename T>
void BilinearAvx512(size_t channels, const T* q00, const T* q01, const T* q10, const T* q11, T* y, const BilinearParams& p) {
  const __m512 r0 = _mm512_set1_ps(p.r0), r1 = _mm512_set1_ps(p.r1), c0 = _mm512_set1_ps(p.c0), c1 = _mm512_set1_ps(p.c1);
  const __m512 zero_point = _mm512_set1_ps(p.zero_point), qmin = _mm512_set1_ps(p.qmin), qmax = _mm512_set1_ps(p.qmax);
  auto sixteen = [&](size_t ch, __mmask16 k) {
    auto load = [&](const T* q) { return _mm512_cvtepi32_ps(Widen16(_mm_maskz_loadu_epi8(k, q + ch), T())); };
    const __m512 a = load(q00), b = load(q01), c = load(q10), d = load(q11);
    const __m512 top = _mm512_fmadd_ps(c1, b, _mm512_mul_ps(c0, a));
    const __m512 bottom = _mm512_fmadd_ps(c1, d, _mm512_mul_ps(c0, c));
    const __m512 s = _mm512_fmadd_ps(r1, bottom, _mm512_mul_ps(r0, top));
    __m512 v = _mm512_roundscale_ps(_mm512_sub_ps(s, zero_point), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, zero_point), qmin), qmax);
    _mm_mask_storeu_epi8(y + ch, k, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
  };
  const size_t vector_end = p.vector_channels < channels ? p.vector_channels : channels;
  size_t ch = 0;
  for (; ch + 16 <= vector_end; ch += 16) sixteen(ch, 0xFFFF);
  if (ch < vector_end) {
    sixteen(ch, static_cast<__mmask16>((1u << (vector_end - ch)) - 1));
    ch = vector_end;
  }
  pool_norm_scalar::Bilinear(channels, q00, q01, q10, q11, y, p, ch);
}

// normalize_stats, 64 values a step: pair sums of x and x^2 in int32 lanes (vpmaddwd), moved to int64 in time.
template <typename T>
void NormalizeStatsAvx512(size_t n, const T* x, int64_t* sum, int64_t* sum_squares) {
  constexpr size_t kStepsPerFlush = 4096;  // a lane gains at most 260100 a step: below 2^31
  const __m512i ones = _mm512_set1_epi16(1);
  int64_t s = 0, s2 = 0;
  size_t i = 0;
  while (i + 64 <= n) {
    __m512i acc = _mm512_setzero_si512(), acc2 = _mm512_setzero_si512();
    for (size_t step = 0; step < kStepsPerFlush && i + 64 <= n; ++step, i += 64) {
      const __m512i w0 = Widen32x16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), T());
      const __m512i w1 = Widen32x16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 32)), T());
      acc = _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_madd_epi16(w0, ones), _mm512_madd_epi16(w1, ones)));
      acc2 = _mm512_add_epi32(acc2, _mm512_add_epi32(_mm512_madd_epi16(w0, w0), _mm512_madd_epi16(w1, w1)));
    }
    alignas(64) int32_t lanes[16], lanes2[16];
    _mm512_store_si512(lanes, acc);
    _mm512_store_si512(lanes2, acc2);
    for (int j = 0; j < 16; ++j) {
      s += lanes[j];
      s2 += lanes2[j];
    }
  }
  *sum += s;
  *sum_squares += s2;
  pool_norm_scalar::NormalizeStats(n, x, sum, sum_squares, i);
}

}  // namespace
}  // namespace qk
