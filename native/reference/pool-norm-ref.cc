// Reference pooling and batch norm: one output element at a time, straight from the formulas in ops/pool.h and ops/norm.h (restated here: no op code).
#include "reference/pool-norm-ref.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

int64_t I(size_t v) { return static_cast<int64_t>(v); }

// The windows of output o of `out` along an input of `in`, written out from ops/pool.h's
// statement of them: adaptive avg in fp32 (floor / ceil of float quotients), adaptive max in
// integers.
int64_t AdaptiveAvgStart(int64_t o, int64_t out, int64_t in) {
  return static_cast<int64_t>(std::floor(static_cast<float>(o * in) / static_cast<float>(out)));
}
int64_t AdaptiveAvgEnd(int64_t o, int64_t out, int64_t in) {
  return static_cast<int64_t>(std::ceil(static_cast<float>((o + 1) * in) / static_cast<float>(out)));
}
int64_t AdaptiveMaxStart(int64_t o, int64_t out, int64_t in) { return o * in / out; }
int64_t AdaptiveMaxEnd(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

// Batch norm's fused per-channel parameters as PyTorch's compute_fused_params (ops/norm.h's
// formulas), each operation in the precision stated there.
void FusedParams(const BatchNormArgs& args, size_t c, float* alpha, float* beta) {
  const float var_plus_eps = args.var[c] + static_cast<float>(args.eps);
  const float inv_sigma = static_cast<float>(1.0 / static_cast<double>(std::sqrt(var_plus_eps)));
  const float w = args.weight == nullptr ? 1.0f : args.weight[c];
  const float b = args.bias == nullptr ? 0.0f : args.bias[c];
  const float scaled = inv_sigma * w;
  *alpha = static_cast<float>(static_cast<double>(scaled) * (args.x_scale / args.y_scale));
  const float shifted = b - args.mean[c] * inv_sigma * w;
  *beta = static_cast<float>(static_cast<double>(shifted) / args.y_scale);
}

// Element offset of (n, c, d, h, w) in a dense tensor of the given spatial sizes and layout.
size_t Offset(PoolLayout layout, size_t C, const size_t s[3], size_t n, size_t c, int64_t d, int64_t h, int64_t w) {
  const size_t spatial = (static_cast<size_t>(d) * s[1] + static_cast<size_t>(h)) * s[2] + static_cast<size_t>(w);
  return layout == PoolLayout::kChannelsLast ? (n * s[0] * s[1] * s[2] + spatial) * C + c
                                             : (n * C + c) * s[0] * s[1] * s[2] + spatial;
}

// Calls fn(n, c, od, oh, ow, output offset) for every output element.
template <typename Fn>
void ForEachOutput(const PoolGeometry& g, PoolLayout layout, const Fn& fn) {
  for (size_t n = 0; n < g.batch; ++n)
    for (size_t c = 0; c < g.channels; ++c)
      for (int64_t od = 0; od < I(g.output[0]); ++od)
        for (int64_t oh = 0; oh < I(g.output[1]); ++oh)
          for (int64_t ow = 0; ow < I(g.output[2]); ++ow)
            fn(n, c, od, oh, ow, Offset(layout, g.channels, g.output, n, c, od, oh, ow));
}

template <typename T>
T Clamp(float v) {
  return static_cast<T>(std::min<float>(std::max<float>(v, std::numeric_limits<T>::min()), std::numeric_limits<T>::max()));
}

}  // namespace

template <typename T>
void MaxPoolRef(const PoolGeometry& g, PoolLayout layout, bool adaptive, const T* x, T* y) {
  ForEachOutput(g, layout, [&](size_t n, size_t c, int64_t od, int64_t oh, int64_t ow, size_t out) {
    const int64_t o[3] = {od, oh, ow};
    T best = std::numeric_limits<T>::lowest();
    bool any = false;
    int64_t first[3], count[3], step[3];
    for (int d = 0; d < 3; ++d) {
      if (adaptive) {
        first[d] = AdaptiveMaxStart(o[d], I(g.output[d]), I(g.input[d]));
        count[d] = AdaptiveMaxEnd(o[d], I(g.output[d]), I(g.input[d])) - first[d];
        step[d] = 1;
      } else {
        first[d] = o[d] * I(g.stride[d]) - I(g.padding[d]);
        count[d] = I(g.kernel[d]);
        step[d] = I(g.dilation[d]);
      }
    }
    for (int64_t i = 0; i < count[0]; ++i)
      for (int64_t j = 0; j < count[1]; ++j)
        for (int64_t k = 0; k < count[2]; ++k) {
          const int64_t d = first[0] + i * step[0], h = first[1] + j * step[1], w = first[2] + k * step[2];
          if (d < 0 || h < 0 || w < 0 || d >= I(g.input[0]) || h >= I(g.input[1]) || w >= I(g.input[2])) continue;
          const T v = x[Offset(layout, g.channels, g.input, n, c, d, h, w)];
          if (!any || v > best) best = v;
          any = true;
        }
    y[out] = best;
  });
}

template <typename T>
void AvgPoolRef(const PoolGeometry& g, PoolLayout layout, const AvgPoolOptions& options, const T* x, T* y) {
  ForEachOutput(g, layout, [&](size_t n, size_t c, int64_t od, int64_t oh, int64_t ow, size_t out) {
    const int64_t o[3] = {od, oh, ow};
    int64_t start[3], end[3], pool_size = 1, size = 1;
    for (int d = 0; d < 3; ++d) {
      start[d] = o[d] * I(g.stride[d]) - I(g.padding[d]);
      end[d] = std::min(start[d] + I(g.kernel[d]), I(g.input[d]) + I(g.padding[d]));
      pool_size *= end[d] - start[d];
      start[d] = std::max<int64_t>(start[d], 0);
      end[d] = std::min(end[d], I(g.input[d]));
      size *= end[d] - start[d];
    }
    int32_t sum = 0;
    for (int64_t d = start[0]; d < end[0]; ++d)
      for (int64_t h = start[1]; h < end[1]; ++h)
        for (int64_t w = start[2]; w < end[2]; ++w) sum += x[Offset(layout, g.channels, g.input, n, c, d, h, w)];
    sum -= static_cast<int32_t>(size) * options.zero_point;
    const int64_t divisor =
        options.divisor_override ? options.divisor_override : (options.count_include_pad ? pool_size : size);
    const float zp = static_cast<float>(options.zero_point);
    if (layout == PoolLayout::kChannelsFirst) {
      const float m = static_cast<float>(1.0 / static_cast<double>(divisor));
      y[out] = Clamp<T>(std::nearbyint(static_cast<float>(sum) * m + zp));
    } else {
      const float m = 1.0f / static_cast<float>(divisor);
      const bool vector_part = c < g.channels / 8 * 8;
      const float factor = vector_part ? m : 1.0f / (1.0f / m);
      y[out] = Clamp<T>(std::nearbyint(static_cast<float>(sum) * factor) + zp);
    }
  });
}

template <typename T>
void AdaptiveAvgPoolRef(const PoolGeometry& g, PoolLayout layout, int32_t zero_point, const T* x, T* y) {
  ForEachOutput(g, layout, [&](size_t n, size_t c, int64_t od, int64_t oh, int64_t ow, size_t out) {
    const int64_t o[3] = {od, oh, ow};
    int64_t start[3], end[3];
    for (int d = 0; d < 3; ++d) {
      start[d] = AdaptiveAvgStart(o[d], I(g.output[d]), I(g.input[d]));
      end[d] = AdaptiveAvgEnd(o[d], I(g.output[d]), I(g.input[d]));
    }
    int64_t sum = 0;
    for (int64_t d = start[0]; d < end[0]; ++d)
      for (int64_t h = start[1]; h < end[1]; ++h)
        for (int64_t w = start[2]; w < end[2]; ++w) sum += x[Offset(layout, g.channels, g.input, n, c, d, h, w)];
    const int64_t kd = end[0] - start[0], kh = end[1] - start[1], kw = end[2] - start[2];
    if (layout == PoolLayout::kChannelsFirst) {
      const float r = (static_cast<float>(1.0 / static_cast<double>(kd)) / static_cast<float>(kh)) / static_cast<float>(kw);
      y[out] = Clamp<T>(std::nearbyint(static_cast<float>(sum) * r));
    } else {
      const int64_t k = kd * kh * kw;
      const float inv = 1.0f / (1.0f / (1.0f / static_cast<float>(k)));
      y[out] = Clamp<T>(std::nearbyint(static_cast<float>(sum - k * zero_point) * inv) + static_cast<float>(zero_point));
    }
  });
}

template <typename T>
void BatchNormRef(const BatchNormArgs& args, const T* x, T* y) {
  std::vector<float> alpha(args.channels), beta(args.channels);
  for (size_t c = 0; c < args.channels; ++c) FusedParams(args, c, &alpha[c], &beta[c]);
  const int32_t lo = args.relu ? args.y_zero_point : std::numeric_limits<T>::min();
  for (size_t n = 0; n < args.batch; ++n)
    for (size_t s = 0; s < args.spatial; ++s)
      for (size_t c = 0; c < args.channels; ++c) {
        const size_t in = args.channels_last_input ? (n * args.spatial + s) * args.channels + c
                                                   : (n * args.channels + c) * args.spatial + s;
        const float t = std::fma(alpha[c], static_cast<float>(x[in] - args.x_zero_point), beta[c]);
        const float bounded = std::isnan(t) ? -1073741824.0f : std::min(std::max(t, -1073741824.0f), 1073741824.0f);
        int64_t q = static_cast<int64_t>(std::nearbyint(bounded)) + args.y_zero_point;
        q = std::min<int64_t>(std::max<int64_t>(q, lo), std::numeric_limits<T>::max());
        y[(n * args.spatial + s) * args.channels + c] = static_cast<T>(q);
      }
}

#define QK_POOL_NORM_REF(T)                                                                          \
  template void MaxPoolRef<T>(const PoolGeometry&, PoolLayout, bool, const T*, T*);                  \
  template void AvgPoolRef<T>(const PoolGeometry&, PoolLayout, const AvgPoolOptions&, const T*, T*); \
  template void AdaptiveAvgPoolRef<T>(const PoolGeometry&, PoolLayout, int32_t, const T*, T*);       \
  template void BatchNormRef<T>(const BatchNormArgs&, const T*, T*);
QK_POOL_NORM_REF(uint8_t)
QK_POOL_NORM_REF(int8_t)
#undef QK_POOL_NORM_REF

}  // namespace qk
