// Pooling and batch-norm kernel bodies in plain C++: the scalar kernels, and the tails of the SIMD kernels.
//
// Header-only and internal to the pool-norm kernel files; the per-value formulas here are
// the normative ones (pool-norm.h states them), and every SIMD kernel must agree bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "ukernels/ukernels.h"

namespace qk {
namespace pool_norm_scalar {


// Channels [begin, channels) of output pixel ow of a pooling row (pool-norm.h).
template <typename T>
inline void MaxPoolPixel(const T* const* lines, T* y, const PoolRowParams& p, size_t ow, size_t begin) {
  const size_t offset = p.column_offset[ow], count = p.column_count[ow];
  T* out = y + ow * p.channels;
  for (size_t c = begin; c < p.channels; ++c) {
    T m = std::numeric_limits<T>::lowest();
    for (size_t l = 0; l < p.lines; ++l) {
      const T* s = lines[l] + offset + c;
      for (size_t k = 0; k < count; ++k) m = s[k * p.column_stride] > m ? s[k * p.column_stride] : m;
    }
    out[c] = m;
  }
}

// Average pooling's requantization of one value (pool-norm.h; |t| < 2^31 - 2^22).
template <typename T>
inline T AvgPoolValue(int32_t acc, float scale, const AvgPoolRowParams& p) {
  const float t = static_cast<float>(acc) * scale + p.pre;
  // lrint rounds in the current mode as nearbyint does (t fits int32), inline
  // (cvtss2si, fcvtns under the default mode) instead of a libm call.
  int32_t q = static_cast<int32_t>(std::lrint(t)) + p.post;
  q = q < std::numeric_limits<T>::min() ? std::numeric_limits<T>::min() : q;
  return static_cast<T>(q > std::numeric_limits<T>::max() ? std::numeric_limits<T>::max() : q);
}

template <typename T>
inline void AvgPoolPixel(const T* const* lines, T* y, const AvgPoolRowParams& p, size_t ow, size_t begin) {
  const PoolRowParams& r = p.row;
  const size_t offset = r.column_offset[ow], count = r.column_count[ow];
  const int32_t init = -static_cast<int32_t>(r.lines * count) * p.zero_point;
  T* out = y + ow * r.channels;
  for (size_t c = begin; c < r.channels; ++c) {
    int32_t sum = init;
    for (size_t l = 0; l < r.lines; ++l) {
      const T* s = lines[l] + offset + c;
      for (size_t k = 0; k < count; ++k) sum += s[k * r.column_stride];
    }
    out[c] = AvgPoolValue<T>(sum, c < p.split ? p.scale[ow] : p.tail_scale[ow], p);
  }
}

template <typename T>
inline void MaxPoolRow(const T* const* lines, T* y, const PoolRowParams& p) {
  for (size_t ow = 0; ow < p.output_width; ++ow) MaxPoolPixel(lines, y, p, ow, 0);
}

template <typename T>
inline void AvgPoolRow(const T* const* lines, T* y, const AvgPoolRowParams& p) {
  for (size_t ow = 0; ow < p.row.output_width; ++ow) AvgPoolPixel(lines, y, p, ow, 0);
}

// Sums of at most this many 8-bit values fit int16 (128 * 255 = 32640), so the SIMD kernels
// add a window in 16-bit lanes this many values at a time and widen each partial sum once.
constexpr size_t kPoolInt16Values = 128;

// Calls add(pointer) for every value of one pixel's window (`lines` lines from offset on,
// `count` columns `stride` apart) and flush() after every kPoolInt16Values of them and at the
// end (the SIMD kernels' int16 partial sums); a window that small needs no counting.
template <typename T, typename Add, typename Flush>
inline void ForEachWindowValue(const T* const* lines, size_t line_count, size_t offset, size_t count, size_t stride,
                               const Add& add, const Flush& flush) {
  if (line_count * count <= kPoolInt16Values) {
    for (size_t l = 0; l < line_count; ++l) {
      const T* s = lines[l] + offset;
      for (size_t k = 0; k < count; ++k) add(s + k * stride);
    }
  } else {
    size_t pending = 0;
    for (size_t l = 0; l < line_count; ++l) {
      const T* s = lines[l] + offset;
      for (size_t k = 0; k < count; ++k) {
        add(s + k * stride);
        if (++pending == kPoolInt16Values) {
          flush();
          pending = 0;
        }
      }
    }
  }
  flush();
}

// |t| beyond 2^30 saturates whatever the zero point; NaN counts as -2^30 (x86 MAXPS with the
// bound as second operand gives exactly that, and the NEON kernel selects it explicitly).
constexpr float kBatchNormBound = 1073741824.0f;

inline int32_t BatchNormValue(int32_t x, float alpha, float beta, const BatchNormParams& p) {
  float t = std::fma(alpha, static_cast<float>(x - p.x_zero_point), beta);
  t = t >= -kBatchNormBound ? t : -kBatchNormBound;
  t = t <= kBatchNormBound ? t : kBatchNormBound;
  int32_t q = static_cast<int32_t>(std::nearbyint(t)) + p.y_zero_point;
  q = q < p.qmin ? p.qmin : q;
  return q > p.qmax ? p.qmax : q;
}

template <typename T>
inline void BatchNorm(size_t channels, const T* x, const float* alpha, const float* beta, T* y, const BatchNormParams& p,
                      size_t begin = 0) {
  for (size_t c = begin; c < channels; ++c) y[c] = static_cast<T>(BatchNormValue(x[c], alpha[c], beta[c], p));
}

// normalize (pool-norm.h), from element `begin` on (the SIMD kernels' tails).
template <typename T>
inline void Normalize(size_t n, const T* x, const float* gamma, const float* beta, size_t affine_stride, T* y,
                      const NormalizeParams& p, size_t begin = 0) {
  for (size_t i = begin; i < n; ++i) {
    const float u = ((static_cast<float>(x[i]) - p.x_zero_point) - p.mean_centred) * p.scale;
    const float t = std::fma(u, gamma[i * affine_stride], beta[i * affine_stride]);
    float q = std::nearbyint(t * p.y_inv_scale) + p.y_zero_point;
    q = q > p.qmin ? q : p.qmin;  // a NaN fails the comparison: qmin, as MAXPS(q, qmin) gives
    q = q < p.qmax ? q : p.qmax;
    y[i] = static_cast<T>(static_cast<int32_t>(q));
  }
}

// normalize's per-call constants broadcast to a SIMD kernel's vectors: Set1()(v) makes a vector
// of v (a functor, so the vector type is never a template argument, whose attributes GCC drops).
template <typename Set1>
struct NormalizeConstants {
  using V = decltype(Set1()(0.0f));
  V x_zero_point, y_inv_scale, y_zero_point, qmin, qmax;
  explicit NormalizeConstants(const NormalizeParams& p)
      : x_zero_point(Set1()(p.x_zero_point)), y_inv_scale(Set1()(p.y_inv_scale)), y_zero_point(Set1()(p.y_zero_point)),
        qmin(Set1()(p.qmin)), qmax(Set1()(p.qmax)) {}
};

// normalize_rows (pool-norm.h) from run `begin` on, one normalize body per run: `row(n, x, y, p)`
// runs the ISA's normalize on one run with that run's statistics in p (the scalar kernel and the
// SIMD kernels' runs their vector steps do not fit use it).
template <typename T, typename RowFn>
inline void NormalizeEachRow(size_t rows, size_t n, const T* x, const float* mean_centred, const float* scale, T* y,
                             const NormalizeParams& p, RowFn row, size_t begin = 0) {
  NormalizeParams run = p;
  for (size_t r = begin; r < rows; ++r) {
    run.mean_centred = mean_centred[r];
    run.scale = scale[r];
    row(n, x + r * n, y + r * n, run);
  }
}

// normalize_rows (pool-norm.h): the scalar kernel.
template <typename T>
inline void NormalizeRows(size_t rows, size_t n, const T* x, const float* mean_centred, const float* scale, const float* gamma,
                          const float* beta, size_t affine_stride, T* y, const NormalizeParams& p) {
  NormalizeEachRow(rows, n, x, mean_centred, scale, y, p, [&](size_t len, const T* xr, T* yr, const NormalizeParams& run) {
    Normalize(len, xr, gamma, beta, affine_stride, yr, run);
  });
}

// normalize_stats from element `begin` on, added to *sum and *sum_squares.
template <typename T>
inline void NormalizeStats(size_t n, const T* x, int64_t* sum, int64_t* sum_squares, size_t begin = 0) {
  int64_t s = 0, s2 = 0;
  for (size_t i = begin; i < n; ++i) {
    s += x[i];
    s2 += static_cast<int64_t>(x[i]) * x[i];
  }
  *sum += s;
  *sum_squares += s2;
}

// bilinear (pool-norm.h), from channel `begin` on.
template <typename T>
inline void Bilinear(size_t channels, const T* q00, const T* q01, const T* q10, const T* q11, T* y,
                     const BilinearParams& p, size_t begin = 0) {
  for (size_t ch = begin; ch < channels; ++ch) {
    const float a = q00[ch], b = q01[ch], c = q10[ch], d = q11[ch];
    float s;
    if (ch < p.vector_channels) {
      const float top = std::fma(p.c1, b, p.c0 * a);
      const float bottom = std::fma(p.c1, d, p.c0 * c);
      s = std::fma(p.r1, bottom, p.r0 * top);
    } else {
      const float top = std::fma(p.c0, a, p.c1 * b);
      const float bottom = std::fma(p.c0, c, p.c1 * d);
      s = std::fma(p.r0, top, p.r1 * bottom);
    }
    float v = std::nearbyint(s - p.zero_point) + p.zero_point;
    v = v > p.qmin ? v : p.qmin;
    v = v < p.qmax ? v : p.qmax;
    y[ch] = static_cast<T>(static_cast<int32_t>(v));
  }
}

}  // namespace pool_norm_scalar
}  // namespace qk
