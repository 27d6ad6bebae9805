// Quantized pooling operators: argument checks, the channels-last staging of NCHW tensors, windows, threads, requantization.
#include "ops/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "ops/pool-norm-common.h"
#include "ukernels/dispatch.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// Windows larger than this are refused: int32 sums of 8-bit values stay exact in fp32.
constexpr int64_t kMaxWindowElements = int64_t{1} << 23;
const char* const kDimNames[3] = {"depth", "height", "width"};

// The in-bounds input positions of one window along one dim: begin, begin + step, ... < end.
struct Span {
  int64_t begin;
  int64_t end;
  int64_t step;
  int64_t Count() const { return end > begin ? (step == 1 ? end - begin : (end - begin + step - 1) / step) : 0; }
};

struct Window {
  Span span[3];
  int64_t divisor;  // average pooling's divisor (unused by max pooling)
};

// A window of `kernel` positions `dilation` apart starting at o * stride - padding, clipped to [0, input).
Span ClippedSpan(int64_t o, int64_t input, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  int64_t begin = o * stride - padding;
  int64_t end = std::min(begin + (kernel - 1) * dilation + 1, input);
  if (begin < 0) begin += ((-begin + dilation - 1) / dilation) * dilation;
  return {begin, end, dilation};
}

int64_t I(size_t v) { return static_cast<int64_t>(v); }

// out[c] = clamp(nearbyint(float(acc[c]) * m + pre) + post, T's range) for c < count, where
// |acc[c]| <= max_abs_acc. Where every |float(acc) * m + pre| stays below 2^22 (every real
// window), adding and subtracting 1.5 * 2^23 rounds to an integer in the current rounding mode
// exactly as nearbyint does, so the loop has no libm call (x86-64's baseline has no roundss)
// and vectorizes; a larger bound (a divisor override far below the window) takes nearbyint.
// pre or post 0 adds nothing but turns -0 into +0, which the clamp and the cast do not tell apart.
template <typename T>
void RoundClamp(const int32_t* acc, size_t count, float m, float pre, float post, double max_abs_acc, T* out) {
  const float qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  if (max_abs_acc * std::fabs(static_cast<double>(m)) + std::fabs(static_cast<double>(pre)) < 4194000.0) {
    constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
    for (size_t c = 0; c < count; ++c) {
      const float t = ((static_cast<float>(acc[c]) * m + pre) + kMagic) - kMagic + post;
      out[c] = static_cast<T>(std::min<float>(std::max<float>(t, qmin), qmax));
    }
    return;
  }
  for (size_t c = 0; c < count; ++c) {
    const float t = std::nearbyint(static_cast<float>(acc[c]) * m + pre) + post;
    out[c] = static_cast<T>(std::min<float>(std::max<float>(t, qmin), qmax));
  }
}

// The input pixels of one window, as the kernels take them.
template <typename T>
struct RowList {
  const T* const* ptr;
  size_t count;
  size_t size() const { return count; }
  const T* const* data() const { return ptr; }
  bool empty() const { return count == 0; }
};

// Runs fn(rows, window, y_pixel) for every output pixel (window_of(o) gives the window of output position o), split over threads; x and y
// are channels last. Each pixel is computed the same way whoever runs it.
template <typename T, typename WindowFn, typename PixelFn>
void ForEachPixel(const PoolGeometry& g, const T* x, T* y, const WindowFn& window_of, const PixelFn& fn) {
  const size_t out_volume = g.output[0] * g.output[1] * g.output[2];
  const size_t total = g.batch * out_volume;
  const size_t C = g.channels;
  // No channels: nothing to write, however many pixels the geometry claims (a 0-channel
  // geometry passes the buffer checks with empty buffers; its pixel count is unbounded).
  if (C == 0 || total == 0) return;
  const size_t in0 = g.input[0], in1 = g.input[1], in2 = g.input[2];
  ParallelOverRange(total, C * 8 + 1, [&](size_t begin, size_t end) {
    std::vector<const T*> rows;
    // The first pixel's position by division, the others by stepping it (divisions per pixel
    // cost more than a small pixel's max or sum).
    size_t n = begin / out_volume;
    const size_t first = begin - n * out_volume;
    int64_t o[3] = {I(first / (g.output[1] * g.output[2])), I(first % (g.output[1] * g.output[2]) / g.output[2]),
                    I(first % g.output[2])};
    for (size_t p = begin; p < end; ++p) {
      if (p != begin && ++o[2] == I(g.output[2])) {
        o[2] = 0;
        if (++o[1] == I(g.output[1])) {
          o[1] = 0;
          if (++o[0] == I(g.output[0])) {
            o[0] = 0;
            ++n;
          }
        }
      }
      const Window w = window_of(o);
      // The window's row pointers, written into a buffer grown to the largest window so far
      // (the sizes and strides held in locals: push_back's stores made the compiler reload them).
      const Span sd = w.span[0], sh = w.span[1], sw = w.span[2];
      const size_t needed = static_cast<size_t>(sd.Count() * sh.Count() * sw.Count());
      if (rows.size() < needed) rows.resize(needed);
      const T** out_rows = rows.data();
      size_t count = 0;
      for (int64_t d = sd.begin; d < sd.end; d += sd.step) {
        for (int64_t h = sh.begin; h < sh.end; h += sh.step) {
          const T* line = x + ((n * in0 + static_cast<size_t>(d)) * in1 + static_cast<size_t>(h)) * in2 * C;
          for (int64_t i = sw.begin; i < sw.end; i += sw.step) out_rows[count++] = line + static_cast<size_t>(i) * C;
        }
      }
      fn(RowList<T>{out_rows, count}, w, y + p * C);
    }
  });
}

// Stages an NCHW problem through channels-last buffers (or runs in place when already NHWC).
template <typename T, typename Body>
Status RunChannelsLast(const PoolGeometry& g, PoolLayout layout, const void* x, void* y, const Body& body) {
  const size_t in_spatial = g.input[0] * g.input[1] * g.input[2];
  const size_t out_spatial = g.output[0] * g.output[1] * g.output[2];
  if (layout == PoolLayout::kChannelsLast) {
    body(static_cast<const T*>(x), static_cast<T*>(y));
    return Status::Ok();
  }
  // Not value-initialized: the transpose writes every byte of x_last and the body every byte of y_last.
  std::unique_ptr<T[]> x_last(new T[g.batch * in_spatial * g.channels]);
  std::unique_ptr<T[]> y_last(new T[g.batch * out_spatial * g.channels]);
  TransposePlanes(static_cast<const T*>(x), x_last.get(), g.batch, g.channels, in_spatial);
  body(x_last.get(), y_last.get());
  TransposePlanes(y_last.get(), static_cast<T*>(y), g.batch, out_spatial, g.channels);
  return Status::Ok();
}

Status CheckBuffers(const PoolGeometry& g, QDType dtype, size_t x_bytes, size_t y_bytes, const void* x, void* y) {
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
  }
  size_t in = 0, out = 0;
  const int64_t in_dims[5] = {I(g.batch), I(g.channels), I(g.input[0]), I(g.input[1]), I(g.input[2])};
  const int64_t out_dims[5] = {I(g.batch), I(g.channels), I(g.output[0]), I(g.output[1]), I(g.output[2])};
  if (!CheckedShapeProduct(in_dims, 5, &in) || !CheckedShapeProduct(out_dims, 5, &out)) {
    return Status::RangeError(Expected("a shape whose element count fits in memory", "input", "an overflow"));
  }
  QK_RETURN_IF_ERROR(CheckByteBuffer(x, x_bytes, in, "input"));
  return CheckByteBuffer(y, y_bytes, out, "output");
}

template <typename T>
void RunMaxPool(const PoolGeometry& g, const T* x, T* y, bool adaptive) {
  auto* kernel = KernelsFor<T>::MaxPool(Dispatch());
  ForEachPixel(
      g, x, y,
      [&](const int64_t o[3]) {
        Window w{};
        for (int d = 0; d < 3; ++d) {
          w.span[d] = adaptive ? Span{AdaptiveMaxStart(o[d], I(g.output[d]), I(g.input[d])),
                                      AdaptiveMaxEnd(o[d], I(g.output[d]), I(g.input[d])), 1}
                               : ClippedSpan(o[d], I(g.input[d]), I(g.kernel[d]), I(g.stride[d]), I(g.padding[d]),
                                             I(g.dilation[d]));
        }
        return w;
      },
      [&](const RowList<T>& rows, const Window&, T* out) {
        // A dilated window can fall wholly in the padding (input 2, kernel 2, dilation 3,
        // padding 1): no element to take the max of, so the max's start value, the lowest.
        if (rows.empty()) {
          std::fill(out, out + g.channels, std::numeric_limits<T>::lowest());
          return;
        }
        kernel(rows.size(), g.channels, rows.data(), out);
      });
}

// The requantization of average pooling, per layout (see pool.h); |acc| <= max_abs_acc.
template <typename T>
void RequantizeAverage(PoolLayout layout, size_t channels, const int32_t* acc, int64_t divisor, int32_t zero_point,
                       double max_abs_acc, T* out) {
  const float zp = static_cast<float>(zero_point);
  if (layout == PoolLayout::kChannelsFirst) {
    const float m = static_cast<float>(1.0 / static_cast<double>(divisor));
    RoundClamp(acc, channels, m, zp, 0.0f, max_abs_acc, out);
    return;
  }
  const float m = 1.0f / static_cast<float>(divisor);
  const float tail_m = 1.0f / (1.0f / m);
  const size_t vector_channels = channels / 8 * 8;
  RoundClamp(acc, vector_channels, m, 0.0f, zp, max_abs_acc, out);
  RoundClamp(acc + vector_channels, channels - vector_channels, tail_m, 0.0f, zp, max_abs_acc, out + vector_channels);
}

template <typename T>
void RunAvgPool(const PoolGeometry& g, PoolLayout layout, const AvgPoolOptions& options, const T* x, T* y) {
  auto* kernel = KernelsFor<T>::SumPool(Dispatch());
  ForEachPixel(
      g, x, y,
      [&](const int64_t o[3]) {
        Window w{};
        int64_t pool_size = 1, size = 1;
        for (int d = 0; d < 3; ++d) {
          const int64_t start = o[d] * I(g.stride[d]) - I(g.padding[d]);
          const int64_t end = std::min(start + I(g.kernel[d]), I(g.input[d]) + I(g.padding[d]));
          pool_size *= end - start;
          w.span[d] = Span{std::max<int64_t>(start, 0), std::min(end, I(g.input[d])), 1};
          size *= w.span[d].Count();
        }
        w.divisor = options.divisor_override != 0 ? options.divisor_override
                                                  : (options.count_include_pad ? pool_size : size);
        return w;
      },
      [&](const RowList<T>& rows, const Window& w, T* out) {
        thread_local std::vector<int32_t> acc;
        acc.resize(g.channels);
        const int32_t init = -static_cast<int32_t>(rows.size()) * options.zero_point;
        kernel(rows.size(), g.channels, rows.data(), init, acc.data());
        if (options.qnnpack) {
          const float scale = static_cast<float>(options.scale);
          const float kernel_size = static_cast<float>(g.kernel[0] * g.kernel[1] * g.kernel[2]);
          const float multiplier = scale / (scale * kernel_size);
          for (size_t c = 0; c < g.channels; ++c) {
            const int64_t q = static_cast<int64_t>(std::lrintf(static_cast<float>(acc[c]) * multiplier)) + options.zero_point;
            out[c] = static_cast<T>(std::min<int64_t>(std::max<int64_t>(q, std::numeric_limits<T>::min()),
                                                      std::numeric_limits<T>::max()));
          }
          return;
        }
        RequantizeAverage(layout, g.channels, acc.data(), w.divisor, options.zero_point, 256.0 * static_cast<double>(rows.size()), out);
      });
}

template <typename T>
void RunAdaptiveAvgPool(const PoolGeometry& g, PoolLayout layout, int32_t zero_point, const T* x, T* y) {
  auto* kernel = KernelsFor<T>::SumPool(Dispatch());
  ForEachPixel(
      g, x, y,
      [&](const int64_t o[3]) {
        Window w{};
        for (int d = 0; d < 3; ++d) {
          w.span[d] = Span{AdaptiveAvgStart(o[d], I(g.output[d]), I(g.input[d])),
                           AdaptiveAvgEnd(o[d], I(g.output[d]), I(g.input[d])), 1};
        }
        return w;
      },
      [&](const RowList<T>& rows, const Window& w, T* out) {
        thread_local std::vector<int32_t> acc;
        acc.resize(g.channels);
        const int32_t k = static_cast<int32_t>(rows.size());
        if (layout == PoolLayout::kChannelsFirst) {
          kernel(rows.size(), g.channels, rows.data(), 0, acc.data());
          const float r = ((static_cast<float>(1.0 / static_cast<double>(w.span[0].Count())) /
                            static_cast<float>(w.span[1].Count())) /
                           static_cast<float>(w.span[2].Count()));
          RoundClamp(acc.data(), g.channels, r, 0.0f, 0.0f, 256.0 * k, out);
        } else {
          kernel(rows.size(), g.channels, rows.data(), -k * zero_point, acc.data());
          const float inv = 1.0f / (1.0f / (1.0f / static_cast<float>(k)));
          RoundClamp(acc.data(), g.channels, inv, 0.0f, static_cast<float>(zero_point), 256.0 * k, out);
        }
      });
}

Status CheckWindowVolume(const size_t kernel[3], const char* what) {
  const int64_t dims[3] = {I(kernel[0]), I(kernel[1]), I(kernel[2])};
  size_t volume = 0;
  if (!CheckedShapeProduct(dims, 3, &volume) || volume > static_cast<size_t>(kMaxWindowElements)) {
    return Status::RangeError(Expected("a window of at most 8388608 elements", what, "a larger one"));
  }
  return Status::Ok();
}

// Adaptive windows are at most ceil(in / out) + 1 wide per dim.
Status CheckAdaptive(const PoolGeometry& g) {
  size_t widest[3];
  for (int d = 0; d < 3; ++d) {
    if (g.output[d] == 0 || g.input[d] == 0) {
      return Status::RangeError(Expected("positive sizes", std::string("outputSize and input ") + kDimNames[d], "0"));
    }
    widest[d] = g.input[d] / g.output[d] + 2;
  }
  return CheckWindowVolume(widest, "the adaptive pooling window (input size / output size)");
}

}  // namespace

bool PoolOutputSize(int64_t input, int64_t kernel, int64_t padding, int64_t stride, int64_t dilation, bool ceil_mode,
                    int64_t* output) {
  if (kernel < 1 || stride < 1 || dilation < 1 || padding < 0 || input < 0) return false;
  const int64_t span = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // div_rtn: floor division for negative spans too.
  int64_t size = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  if (ceil_mode && (size - 1) * stride >= input + padding) --size;
  *output = size;
  return size >= 1;
}

Status CheckPoolGeometry(const PoolGeometry& g, bool dilation_allowed) {
  for (int d = 0; d < 3; ++d) {
    // An empty input dim still has padded windows (input 0, kernel 2, padding 1 gives one
    // output) whose element count, an average's divisor, is 0: refused, as torch refuses
    // empty pooling inputs.
    if (g.input[d] < 1) return Status::RangeError(std::string("Expected a non-empty input (size >= 1) in dim ") + kDimNames[d] + " but received 0");
    if (g.kernel[d] < 1) return Status::RangeError(Expected("positive integer", std::string("kernelSize ") + kDimNames[d], "0"));
    if (g.stride[d] < 1) return Status::RangeError(Expected("positive integer", std::string("stride ") + kDimNames[d], "0"));
    if (g.dilation[d] < 1 || (!dilation_allowed && g.dilation[d] != 1)) {
      return Status::RangeError(Expected(dilation_allowed ? "positive integer" : "1", std::string("dilation ") + kDimNames[d],
                                         std::to_string(g.dilation[d])));
    }
    if (g.padding[d] > g.kernel[d] / 2) {
      return Status::RangeError(Expected("at most half the kernel size", std::string("padding ") + kDimNames[d],
                                         std::to_string(g.padding[d])));
    }
    if (g.kernel[d] > static_cast<size_t>(kMaxWindowElements) || g.input[d] > (size_t{1} << 40) ||
        g.dilation[d] > static_cast<size_t>(kMaxWindowElements) || g.stride[d] > (size_t{1} << 40)) {
      return Status::RangeError(std::string("Expected sizes below 2^23 for kernelSize and dilation ") + kDimNames[d]);
    }
    int64_t floor_size = 0, ceil_size = 0;
    const bool floor_ok = PoolOutputSize(I(g.input[d]), I(g.kernel[d]), I(g.padding[d]), I(g.stride[d]),
                                         I(g.dilation[d]), false, &floor_size);
    const bool ceil_ok = PoolOutputSize(I(g.input[d]), I(g.kernel[d]), I(g.padding[d]), I(g.stride[d]),
                                        I(g.dilation[d]), true, &ceil_size);
    const int64_t out = I(g.output[d]);
    if (!((floor_ok && out == floor_size) || (ceil_ok && out == ceil_size))) {
      return Status::RangeError(Expected(std::string("an output ") + kDimNames[d] +
                                             " of at least 1 (the input is too small for the kernel)",
                                         "input", "output size " + std::to_string(out)));
    }
  }
  return CheckWindowVolume(g.kernel, "kernelSize");
}

Status MaxPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes, void* y,
               size_t y_bytes) {
  QK_RETURN_IF_ERROR(CheckPoolGeometry(g, true));
  QK_RETURN_IF_ERROR(CheckBuffers(g, dtype, x_bytes, y_bytes, x, y));
  return WithInt8Type(dtype, [&](auto tag) {
    using T = decltype(tag);
    return RunChannelsLast<T>(g, layout, x, y, [&](const T* xc, T* yc) { RunMaxPool(g, xc, yc, false); });
  });
}

Status AvgPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const AvgPoolOptions& options, const void* x,
               size_t x_bytes, void* y, size_t y_bytes) {
  QK_RETURN_IF_ERROR(CheckPoolGeometry(g, false));
  QK_RETURN_IF_ERROR(CheckBuffers(g, dtype, x_bytes, y_bytes, x, y));
  if (options.divisor_override < 0 || options.divisor_override > kMaxWindowElements) {
    return Status::RangeError(Expected("positive integer below 2^23", "divisorOverride",
                                       std::to_string(options.divisor_override)));
  }
  QK_RETURN_IF_ERROR(CheckInputZeroPoint(options.zero_point, dtype));
  return WithInt8Type(dtype, [&](auto tag) {
    using T = decltype(tag);
    return RunChannelsLast<T>(g, layout, x, y, [&](const T* xc, T* yc) { RunAvgPool(g, layout, options, xc, yc); });
  });
}

Status AdaptiveAvgPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, int32_t zero_point, const void* x,
                       size_t x_bytes, void* y, size_t y_bytes) {
  QK_RETURN_IF_ERROR(CheckAdaptive(g));
  QK_RETURN_IF_ERROR(CheckBuffers(g, dtype, x_bytes, y_bytes, x, y));
  QK_RETURN_IF_ERROR(CheckInputZeroPoint(zero_point, dtype));
  return WithInt8Type(dtype, [&](auto tag) {
    using T = decltype(tag);
    return RunChannelsLast<T>(g, layout, x, y,
                              [&](const T* xc, T* yc) { RunAdaptiveAvgPool(g, layout, zero_point, xc, yc); });
  });
}

Status AdaptiveMaxPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes, void* y,
                       size_t y_bytes) {
  QK_RETURN_IF_ERROR(CheckAdaptive(g));
  QK_RETURN_IF_ERROR(CheckBuffers(g, dtype, x_bytes, y_bytes, x, y));
  return WithInt8Type(dtype, [&](auto tag) {
    using T = decltype(tag);
    return RunChannelsLast<T>(g, layout, x, y, [&](const T* xc, T* yc) { RunMaxPool(g, xc, yc, true); });
  });
}

}  // namespace qk
