// Pooling and batch-norm kernel bodies with AVX2 intrinsics (compiled only into the avx2 kernel files).
//
// Pooling rows: vpmaxub / vpmaxsb over 32 channels per pixel; average sums in int16 lanes over
// 32, then 16 channels (widened to int32 every kPoolInt16Values values), then 8 in int32, and
// the requantization in 8-lane fp32 (vmulps, vaddps, vcvtps2dq: round half to even under the
// default MXCSR, as lrint). Batch norm runs 8 channels through vfmadd231ps and vcvtps2dq (round half to
// even under the default MXCSR). Leftover channels go through the scalar bodies, so every
// value has the scalar formula.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "ukernels/pool-norm/pool-norm-scalar.h"

namespace qk {
namespace {

inline __m256i Max8x32(__m256i a, __m256i b, uint8_t) { return _mm256_max_epu8(a, b); }
inline __m256i Max8x32(__m256i a, __m256i b, int8_t) { return _mm256_max_epi8(a, b); }
inline __m256i Widen8(__m128i v, uint8_t) { return _mm256_cvtepu8_epi32(v); }
inline __m256i Widen8(__m128i v, int8_t) { return _mm256_cvtepi8_epi32(v); }
inline __m128i Narrow16(__m128i v, uint8_t) { return _mm_packus_epi16(v, v); }
inline __m128i Narrow16(__m128i v, int8_t) { return _mm_packs_epi16(v, v); }
inline __m128i Narrow16Pair(__m128i a, __m128i b, uint8_t) { return _mm_packus_epi16(a, b); }
inline __m128i Narrow16Pair(__m128i a, __m128i b, int8_t) { return _mm_packs_epi16(a, b); }

inline __m256i Widen16x16(__m128i v, uint8_t) { return _mm256_cvtepu8_epi16(v); }
inline __m256i Widen16x16(__m128i v, int8_t) { return _mm256_cvtepi8_epi16(v); }

template <typename T>
void MaxPoolRowAvx2(const T* const* lines, T* y, const PoolRowParams& p) {
  const size_t C = p.channels, stride = p.column_stride;
  const __m256i lowest = _mm256_set1_epi8(static_cast<char>(std::numeric_limits<T>::lowest()));
  for (size_t ow = 0; ow < p.output_width; ++ow) {
    const size_t offset = p.column_offset[ow], count = p.column_count[ow];
    T* out = y + ow * C;
    size_t c = 0;
    for (; c + 32 <= C; c += 32) {
      __m256i m = lowest;
      for (size_t l = 0; l < p.lines; ++l) {
        const T* s = lines[l] + offset + c;
        for (size_t k = 0; k < count; ++k) {
          m = Max8x32(m, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + k * stride)), T());
        }
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), m);
    }
    pool_norm_scalar::MaxPoolPixel(lines, y, p, ow, c);
  }
}

// Requantizes 8 int32 sums (pool-norm.h) up to the final clamp, which the saturating packs do.
inline __m256i AvgPoolRequant8(__m256i acc, __m256 scale, __m256 pre, __m256i post) {
  const __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale), pre);
  return _mm256_add_epi32(_mm256_cvtps_epi32(t), post);
}

// The scale of 8 channels starting at c: scale below split, tail_scale from there.
inline __m256 AvgPoolScale8(size_t c, size_t split, __m256 scale, __m256 tail_scale) {
  if (c + 8 <= split) return scale;
  if (c >= split) return tail_scale;
  const __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(split - c)),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_blendv_ps(tail_scale, scale, _mm256_castsi256_ps(below));
}

// Two vectors of 8 int32 values to 16 bytes in order, saturated to T (the clamp of the formula).
inline __m128i PackAvgPool16(__m256i a, __m256i b, uint8_t) {
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
  return _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
}
inline __m128i PackAvgPool16(__m256i a, __m256i b, int8_t) {
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
}

inline __m256i PackBytes(__m256i a, __m256i b, uint8_t) { return _mm256_packus_epi16(a, b); }
inline __m256i PackBytes(__m256i a, __m256i b, int8_t) { return _mm256_packs_epi16(a, b); }

// Values as unsigned bytes: int8 x becomes x + 128 (x ^ 0x80), which the sum's start value
// takes back (AvgBias), so that both types widen with zero-extending unpacks.
inline __m256i AsUnsigned(__m256i v, uint8_t) { return v; }
inline __m256i AsUnsigned(__m256i v, int8_t) { return _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))); }
constexpr int32_t AvgBias(uint8_t) { return 0; }
constexpr int32_t AvgBias(int8_t) { return 128; }

// One block of 32 channels of one pixel. The window is summed in int16 lanes (unpacked against
// zero, in 128-bit lanes) and widened to int32 the same way, so vector q (0..3) holds channels
// 16 i + 4 q .. 16 i + 4 q + 3 of each 128-bit lane i; the saturating packs (vpackssdw, then
// vpackuswb / vpacksswb) put them back in order.
template <typename T>
inline void AvgPoolBlock32(const T* const* lines, size_t line_count, size_t offset, size_t count, size_t stride, int32_t init,
                           int64_t below_split, __m256 scale, __m256 tail_scale, __m256 pre, __m256i post, T* out) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc[4];
  for (auto& a : acc) a = _mm256_set1_epi32(init);
  __m256i part_lo = zero, part_hi = zero;
  pool_norm_scalar::ForEachWindowValue(
      lines, line_count, offset, count, stride,
      [&](const T* s) {
        const __m256i v = AsUnsigned(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)), T());
        part_lo = _mm256_add_epi16(part_lo, _mm256_unpacklo_epi8(v, zero));
        part_hi = _mm256_add_epi16(part_hi, _mm256_unpackhi_epi8(v, zero));
      },
      [&] {
        acc[0] = _mm256_add_epi32(acc[0], _mm256_unpacklo_epi16(part_lo, zero));
        acc[1] = _mm256_add_epi32(acc[1], _mm256_unpackhi_epi16(part_lo, zero));
        acc[2] = _mm256_add_epi32(acc[2], _mm256_unpacklo_epi16(part_hi, zero));
        acc[3] = _mm256_add_epi32(acc[3], _mm256_unpackhi_epi16(part_hi, zero));
        part_lo = part_hi = zero;
      });
  __m256i q[4];
  for (int v = 0; v < 4; ++v) {
    __m256 m = scale;
    if (below_split < 32) {
      // The channel of each lane of vector v, against the channels left below split.
      const __m256i channel = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19), _mm256_set1_epi32(4 * v));
      const __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(below_split)), channel);
      m = _mm256_blendv_ps(tail_scale, scale, _mm256_castsi256_ps(below));
    }
    q[v] = AvgPoolRequant8(acc[v], m, pre, post);
  }
  const __m256i bytes = PackBytes(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]), T());
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
}

template <typename T>
void AvgPoolRowAvx2(const T* const* lines, T* y, const AvgPoolRowParams& p) {
  const PoolRowParams& r = p.row;
  const size_t C = r.channels, stride = r.column_stride;
  const __m256 pre = _mm256_set1_ps(p.pre);
  const __m256i post = _mm256_set1_epi32(p.post);
  for (size_t ow = 0; ow < r.output_width; ++ow) {
    const size_t offset = r.column_offset[ow], count = r.column_count[ow];
    const int32_t n = static_cast<int32_t>(r.lines * count);
    const __m256i init = _mm256_set1_epi32(-n * p.zero_point);
    const __m256 scale = _mm256_set1_ps(p.scale[ow]), tail_scale = _mm256_set1_ps(p.tail_scale[ow]);
    T* out = y + ow * C;
    size_t c = 0;
    for (; c + 32 <= C; c += 32) {
      const int64_t below_split = c >= p.split ? -1 : static_cast<int64_t>(std::min<size_t>(p.split - c, 32));
      AvgPoolBlock32(lines, r.lines, offset + c, count, stride, -n * (p.zero_point + AvgBias(T())), below_split, scale,
                     tail_scale, pre, post, out + c);
    }
    // 16 channels: sign- or zero-extended to int16 lanes, widened into two int32 vectors.
    if (c + 16 <= C) {
      __m256i lo = init, hi = init, part = _mm256_setzero_si256();
      pool_norm_scalar::ForEachWindowValue(
          lines, r.lines, offset + c, count, stride,
          [&](const T* s) {
            part = _mm256_add_epi16(part, Widen16x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)), T()));
          },
          [&] {
            lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(part)));
            hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(part, 1)));
            part = _mm256_setzero_si256();
          });
      const __m256i q_lo = AvgPoolRequant8(lo, AvgPoolScale8(c, p.split, scale, tail_scale), pre, post);
      const __m256i q_hi = AvgPoolRequant8(hi, AvgPoolScale8(c + 8, p.split, scale, tail_scale), pre, post);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), PackAvgPool16(q_lo, q_hi, T()));
      c += 16;
    }
    // 8 channels: int32 lanes straight away.
    if (c + 8 <= C) {
      __m256i acc = init;
      for (size_t l = 0; l < r.lines; ++l) {
        const T* s = lines[l] + offset + c;
        for (size_t k = 0; k < count; ++k) {
          acc = _mm256_add_epi32(acc, Widen8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + k * stride)), T()));
        }
      }
      const __m256i q = AvgPoolRequant8(acc, AvgPoolScale8(c, p.split, scale, tail_scale), pre, post);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + c), PackAvgPool16(q, q, T()));
      c += 8;
    }
    pool_norm_scalar::AvgPoolPixel(lines, y, p, ow, c);
  }
}

template <typename T>
void BatchNormAvx2(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p) {
  const __m256i x_zero_point = _mm256_set1_epi32(p.x_zero_point);
  const __m256i y_zero_point = _mm256_set1_epi32(p.y_zero_point);
  const __m256i qmin = _mm256_set1_epi32(p.qmin);
  const __m256i qmax = _mm256_set1_epi32(p.qmax);
  const __m256 low = _mm256_set1_ps(-pool_norm_scalar::kBatchNormBound);
  const __m256 high = _mm256_set1_ps(pool_norm_scalar::kBatchNormBound);
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + c));
    const __m256 centered = _mm256_cvtepi32_ps(_mm256_sub_epi32(Widen8(raw, T()), x_zero_point));
    __m256 t = _mm256_fmadd_ps(_mm256_loadu_ps(alpha + c), centered, _mm256_loadu_ps(beta + c));
    t = _mm256_min_ps(_mm256_max_ps(t, low), high);  // MAXPS returns the bound for NaN
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(t), y_zero_point);
    q = _mm256_min_epi32(_mm256_max_epi32(q, qmin), qmax);
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), Narrow16(q16, T()));
  }
  pool_norm_scalar::BatchNorm(channels, x, alpha, beta, y, p, c);
}

// The per-call constants of normalize (pool-norm.h) in vectors.
struct Set1Ps256 {
  __m256 operator()(float v) const { return _mm256_set1_ps(v); }
};
using NormalizeConsts256 = pool_norm_scalar::NormalizeConstants<Set1Ps256>;

// 8 values of normalize (x[0..8) read), each lane with its own mean_centred, scale, gamma and
// beta, running the scalar formula's IEEE operations in its order (sub, sub, mul, fma, mul, round
// half to even, add, clamp); the results as int32 lanes.
template <typename T>
inline __m256i NormalizeStep8(const T* x, __m256 mean_centred, __m256 scale, __m256 g, __m256 b, const NormalizeConsts256& c) {
  const __m256 v = _mm256_cvtepi32_ps(Widen8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x)), T()));
  const __m256 u = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(v, c.x_zero_point), mean_centred), scale);
  const __m256 t = _mm256_fmadd_ps(u, g, b);
  __m256 q = _mm256_round_ps(_mm256_mul_ps(t, c.y_inv_scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  q = _mm256_add_ps(q, c.y_zero_point);
  q = _mm256_min_ps(_mm256_max_ps(q, c.qmin), c.qmax);  // MAXPS returns qmin for a NaN q
  return _mm256_cvtps_epi32(q);
}

// Stores 8 int32 lanes (already in the type's range) as 8 values.
template <typename T>
inline void StoreNormalized8(T* y, __m256i q) {
  const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), Narrow16(q16, T()));
}

// normalize (pool-norm.h), 16 values a step, then 8, then the scalar formula.
template <typename T>
void NormalizeAvx2(size_t n, const T* x, const float* gamma, const float* beta, size_t affine_stride, T* y,
                   const NormalizeParams& p) {
  if (n == 0) return;
  const NormalizeConsts256 c(p);
  const __m256 mean_centred = _mm256_set1_ps(p.mean_centred);
  const __m256 scale = _mm256_set1_ps(p.scale);
  const __m256 gamma0 = _mm256_set1_ps(gamma[0]);
  const __m256 beta0 = _mm256_set1_ps(beta[0]);
  auto eight = [&](size_t i) {
    const __m256 g = affine_stride != 0 ? _mm256_loadu_ps(gamma + i) : gamma0;
    const __m256 b = affine_stride != 0 ? _mm256_loadu_ps(beta + i) : beta0;
    return NormalizeStep8(x + i, mean_centred, scale, g, b, c);
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = eight(i), b = eight(i + 8);
    const __m256i q16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);  // 16 int16 in order
    const __m128i lo = _mm256_castsi256_si128(q16), hi = _mm256_extracti128_si256(q16, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), Narrow16Pair(lo, hi, T()));
  }
  for (; i + 8 <= n; i += 8) StoreNormalized8(y + i, eight(i));
  pool_norm_scalar::Normalize(n, x, gamma, beta, affine_stride, y, p, i);
}

// The first `count` floats at f (1, 2, 4 or 8 of them, no more read) in the low lanes.
inline __m256 LoadLowFloats(const float* f, size_t count) {
  switch (count) {
    case 8: return _mm256_loadu_ps(f);
    case 4: return _mm256_castps128_ps256(_mm_loadu_ps(f));
    case 2: return _mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(f))));
    default: return _mm256_set1_ps(f[0]);
  }
}

// normalize_rows (pool-norm.h). Runs of 1, 2, 4 or 8 values: 8 values (8 / n runs) a step, lane j
// of a step reading its run's statistics (run j / n of the step) and affine element j % n through
// a lane permutation, so a run's values see exactly the operands of a normalize call; the runs
// after the last full step, and runs of other lengths, one normalize body per run.
template <typename T>
void NormalizeRowsAvx2(size_t rows, size_t n, const T* x, const float* mean_centred, const float* scale,
                       const float* gamma, const float* beta, size_t affine_stride, T* y, const NormalizeParams& p) {
  if (rows == 0 || n == 0) return;
  auto each_row = [&](size_t begin) {
    pool_norm_scalar::NormalizeEachRow(rows, n, x, mean_centred, scale, y, p, [&](size_t len, const T* xr, T* yr, const NormalizeParams& run) {
      NormalizeAvx2(len, xr, gamma, beta, affine_stride, yr, run);
    }, begin);
  };
  if (n > 8 || 8 % n != 0) {
    each_row(0);
    return;
  }
  const NormalizeConsts256 c(p);
  const size_t runs_per_step = 8 / n;
  // n is a power of two here: lane / n and lane % n are a shift and a mask.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i run_of_lane = _mm256_srli_epi32(lane, __builtin_ctz(static_cast<unsigned>(n)));
  const __m256i element_of_lane = _mm256_and_si256(lane, _mm256_set1_epi32(static_cast<int>(n - 1)));
  __m256 g, b;
  if (affine_stride != 0) {
    g = _mm256_permutevar8x32_ps(LoadLowFloats(gamma, n), element_of_lane);
    b = _mm256_permutevar8x32_ps(LoadLowFloats(beta, n), element_of_lane);
  } else {
    g = _mm256_set1_ps(gamma[0]);
    b = _mm256_set1_ps(beta[0]);
  }
  const size_t total = rows * n;
  size_t i = 0, r = 0;
  for (; i + 8 <= total; i += 8, r += runs_per_step) {
    const __m256 m = _mm256_permutevar8x32_ps(LoadLowFloats(mean_centred + r, runs_per_step), run_of_lane);
    const __m256 s = _mm256_permutevar8x32_ps(LoadLowFloats(scale + r, runs_per_step), run_of_lane);
    StoreNormalized8(y + i, NormalizeStep8(x + i, m, s, g, b, c));
  }
  each_row(r);
}

// bilinear (pool-norm.h), 8 channels a step over the vector part (C rounded down to 8, so the
// steps cover it exactly), the scalar formula for the rest.
template <typename T>
void BilinearAvx2(size_t channels, const T* q00, const T* q01, const T* q10, const T* q11, T* y, const BilinearParams& p) {
  const __m256 r0 = _mm256_set1_ps(p.r0), r1 = _mm256_set1_ps(p.r1), c0 = _mm256_set1_ps(p.c0), c1 = _mm256_set1_ps(p.c1);
  const __m256 zero_point = _mm256_set1_ps(p.zero_point), qmin = _mm256_set1_ps(p.qmin), qmax = _mm256_set1_ps(p.qmax);
  auto load = [](const T* q) { return _mm256_cvtepi32_ps(Widen8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)), T())); };
  const size_t vector_end = p.vector_channels < channels ? p.vector_channels : channels;
  size_t ch = 0;
  for (; ch + 8 <= vector_end; ch += 8) {
    const __m256 a = load(q00 + ch), b = load(q01 + ch), c = load(q10 + ch), d = load(q11 + ch);
    const __m256 top = _mm256_fmadd_ps(c1, b, _mm256_mul_ps(c0, a));
    const __m256 bottom = _mm256_fmadd_ps(c1, d, _mm256_mul_ps(c0, c));
    const __m256 s = _mm256_fmadd_ps(r1, bottom, _mm256_mul_ps(r0, top));
    __m256 v = _mm256_round_ps(_mm256_sub_ps(s, zero_point), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, zero_point), qmin), qmax);
    const __m256i q = _mm256_cvtps_epi32(v);
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + ch), Narrow16(q16, T()));
  }
  pool_norm_scalar::Bilinear(channels, q00, q01, q10, q11, y, p, ch);
}

// normalize_stats, 32 values a step: pair sums of x and of x^2 in int32 lanes (vpmaddwd),
// moved to int64 before they could overflow.
template <typename T>
void NormalizeStatsAvx2(size_t n, const T* x, int64_t* sum, int64_t* sum_squares) {
  // Per step a lane gains at most 2 * 2 * 255^2 = 260100 (squares) or 2 * 2 * 255 (sums):
  // 4096 steps stay below 2^31.
  constexpr size_t kStepsPerFlush = 4096;
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t s = 0, s2 = 0;
  size_t i = 0;
  while (i + 32 <= n) {
    __m256i acc = _mm256_setzero_si256(), acc2 = _mm256_setzero_si256();
    for (size_t step = 0; step < kStepsPerFlush && i + 32 <= n; ++step, i += 32) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
      const __m256i w0 = Widen16x16(_mm256_castsi256_si128(raw), T());
      const __m256i w1 = Widen16x16(_mm256_extracti128_si256(raw, 1), T());
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(w0, ones), _mm256_madd_epi16(w1, ones)));
      acc2 = _mm256_add_epi32(acc2, _mm256_add_epi32(_mm256_madd_epi16(w0, w0), _mm256_madd_epi16(w1, w1)));
    }
    alignas(32) int32_t lanes[8], lanes2[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes2), acc2);
    for (int j = 0; j < 8; ++j) {
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
