// Quantized pooling operators: argument checks, the channels-last staging of NCHW tensors, windows, threads, requantization factors.
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

// A window of `kernel` positions `dilation` apart starting at o * stride - padding, clipped to [0, input).
Span ClippedSpan(int64_t o, int64_t input, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  int64_t begin = o * stride - padding;
  int64_t end = std::min(begin + (kernel - 1) * dilation + 1, input);
  if (begin < 0) begin += ((-begin + dilation - 1) / dilation) * dilation;
  return {begin, end, dilation};
}

int64_t I(size_t v) { return static_cast<int64_t>(v); }

// Runs fn(lines, params, od, oh, ow0, y_row) over the output rows of a channels-last problem
// (x and y channels last), each row of output_width pixels cut into pieces of at most a few
// thousand values' work, split over threads. span_of(dim, o) gives the in-bounds positions of
// output position o's window along dims 0 and 1; `columns` (prepared) those along W, whose
// columns are column_step positions apart. Each piece is computed the same way whoever runs it.
template <typename T, typename SpanFn, typename RowFn>
void ForEachRow(const PoolGeometry& g, const PoolOp::Columns& columns, const T* x, T* y, size_t column_step,
                size_t window, const SpanFn& span_of, const RowFn& fn) {
  const size_t C = g.channels, OD = g.output[0], OH = g.output[1], OW = g.output[2];
  const size_t rows = g.batch * OD * OH;
  if (C == 0 || rows == 0 || OW == 0) return;
  const size_t pixel_cost = C * std::max<size_t>(window, 1);
  const size_t piece = std::min(OW, std::max<size_t>(1, 16384 / pixel_cost));
  const size_t pieces = (OW + piece - 1) / piece;
  const size_t in0 = g.input[0], in1 = g.input[1], in2 = g.input[2];
  ParallelOverRange(rows * pieces, piece * pixel_cost + 64, [&](size_t begin, size_t end) {
    // One list per thread, kept between runs: a run allocates nothing once the list has grown
    // to the window's height (the traced steady state).
    thread_local std::vector<const T*> lines;
    for (size_t t = begin; t < end; ++t) {
      const size_t row = t / pieces, ow0 = (t % pieces) * piece, width = std::min(piece, OW - ow0);
      const size_t n = row / (OD * OH);
      const int64_t od = I(row / OH % OD), oh = I(row % OH);
      const Span sd = span_of(0, od), sh = span_of(1, oh);
      lines.clear();
      for (int64_t d = sd.begin; d < sd.end; d += sd.step) {
        for (int64_t h = sh.begin; h < sh.end; h += sh.step) {
          lines.push_back(x + ((n * in0 + static_cast<size_t>(d)) * in1 + static_cast<size_t>(h)) * in2 * C);
        }
      }
      const PoolRowParams params{lines.size(), C, width, column_step * C, columns.offset.data() + ow0,
                                 columns.count.data() + ow0};
      fn(lines.data(), params, od, oh, ow0, y + (row * OW + ow0) * C);
    }
  });
}

// Average pooling's window along one dim: the in-bounds span and the window clipped to the
// padded input (count_include_pad's factor).
struct AvgSpan {
  Span span;
  int64_t padded;
};
AvgSpan AvgWindow(const PoolGeometry& g, int d, int64_t o) {
  const int64_t start = o * I(g.stride[d]) - I(g.padding[d]);
  const int64_t end = std::min(start + I(g.kernel[d]), I(g.input[d]) + I(g.padding[d]));
  return {Span{std::max<int64_t>(start, 0), std::min(end, I(g.input[d])), 1}, end - start};
}

// The in-bounds input positions of output position o's window along dim d, for each kind of
// pool: what the runs read along D and H per row, and Prepare's column table along W.
Span WindowSpan(PoolKind kind, const PoolGeometry& g, int d, int64_t o) {
  switch (kind) {
    case PoolKind::kMax:
      return ClippedSpan(o, I(g.input[d]), I(g.kernel[d]), I(g.stride[d]), I(g.padding[d]), I(g.dilation[d]));
    case PoolKind::kAdaptiveMax:
      return Span{AdaptiveMaxStart(o, I(g.output[d]), I(g.input[d])), AdaptiveMaxEnd(o, I(g.output[d]), I(g.input[d])), 1};
    case PoolKind::kAdaptiveAvg:
      return Span{AdaptiveAvgStart(o, I(g.output[d]), I(g.input[d])), AdaptiveAvgEnd(o, I(g.output[d]), I(g.input[d])), 1};
    case PoolKind::kAvg:
      return AvgWindow(g, d, o).span;
  }
  return Span{0, 0, 1};
}

template <typename T>
void RunMaxPool(const PoolGeometry& g, const PoolOp::Columns& columns, const T* x, T* y, bool adaptive) {
  auto* kernel = KernelsFor<T>::MaxPool(Dispatch());
  const PoolKind kind = adaptive ? PoolKind::kAdaptiveMax : PoolKind::kMax;
  const auto span_of = [&](int d, int64_t o) { return WindowSpan(kind, g, d, o); };
  // A dilated window can fall wholly in the padding (input 2, kernel 2, dilation 3, padding 1):
  // no element to take the max of; the kernel writes the max's start value, the lowest.
  ForEachRow(g, columns, x, y, adaptive ? 1 : g.dilation[2], g.kernel[0] * g.kernel[1] * g.kernel[2], span_of,
             [&](const T* const* lines, const PoolRowParams& p, int64_t, int64_t, size_t, T* out) { kernel(lines, out, &p); });
}

template <typename T>
void RunAvgPool(const PoolGeometry& g, PoolLayout layout, const AvgPoolOptions& options, const PoolOp::Columns& columns,
                const T* x, T* y) {
  auto* kernel = KernelsFor<T>::AvgPool(Dispatch());
  // QNNPACK's one multiplier for every pixel.
  const float scale = static_cast<float>(options.scale);
  const float qnnpack_m = scale / (scale * static_cast<float>(g.kernel[0] * g.kernel[1] * g.kernel[2]));
  const bool first = layout == PoolLayout::kChannelsFirst && !options.qnnpack;
  ForEachRow(
      g, columns, x, y, 1, g.kernel[0] * g.kernel[1] * g.kernel[2], [&](int d, int64_t o) { return WindowSpan(PoolKind::kAvg, g, d, o); },
      [&](const T* const* lines, const PoolRowParams& p, int64_t od, int64_t oh, size_t ow0, T* out) {
        thread_local std::vector<float> m, tail_m;
        m.resize(p.output_width);
        tail_m.resize(p.output_width);
        const AvgSpan sd = AvgWindow(g, 0, od), sh = AvgWindow(g, 1, oh);
        // Neighbouring pixels mostly share a divisor (all but the border ones): the factors are
        // computed again only when it changes.
        int64_t last_divisor = 0;
        float last_m = 0, last_tail_m = 0;
        for (size_t i = 0; i < p.output_width; ++i) {
          const size_t ow = ow0 + i;
          const int64_t divisor =
              options.divisor_override != 0 ? options.divisor_override
                                             : (options.count_include_pad
                                                    ? sd.padded * sh.padded * columns.padded[ow]
                                                    : sd.span.Count() * sh.span.Count() * I(columns.count[ow]));
          if (divisor != last_divisor) {
            last_divisor = divisor;
            if (options.qnnpack) {
              last_m = last_tail_m = qnnpack_m;
            } else if (first) {
              last_m = last_tail_m = static_cast<float>(1.0 / static_cast<double>(divisor));
            } else {
              last_m = 1.0f / static_cast<float>(divisor);
              last_tail_m = 1.0f / (1.0f / last_m);
            }
          }
          m[i] = last_m;
          tail_m[i] = last_tail_m;
        }
        // pool.h's formulas: channels first adds the zero point before rounding; channels last
        // (and QNNPACK) after, channels last with another factor past C rounded down to 8.
        AvgPoolRowParams params{p, options.zero_point, first ? static_cast<float>(options.zero_point) : 0.0f,
                                first ? 0 : options.zero_point,
                                layout == PoolLayout::kChannelsLast && !options.qnnpack ? g.channels / 8 * 8 : g.channels,
                                m.data(), tail_m.data()};
        kernel(lines, out, &params);
      });
}

template <typename T>
void RunAdaptiveAvgPool(const PoolGeometry& g, PoolLayout layout, int32_t zero_point, const PoolOp::Columns& columns,
                        const T* x, T* y) {
  auto* kernel = KernelsFor<T>::AvgPool(Dispatch());
  const auto span_of = [&](int d, int64_t o) { return WindowSpan(PoolKind::kAdaptiveAvg, g, d, o); };
  size_t window = 1;
  for (int d = 0; d < 3; ++d) window *= g.input[d] / g.output[d] + 1;
  const bool first = layout == PoolLayout::kChannelsFirst;
  ForEachRow(g, columns, x, y, 1, window, span_of,
             [&](const T* const* lines, const PoolRowParams& p, int64_t od, int64_t oh, size_t ow0, T* out) {
               thread_local std::vector<float> m;
               m.resize(p.output_width);
               const int64_t kd = span_of(0, od).Count(), kh = span_of(1, oh).Count();
               for (size_t i = 0; i < p.output_width; ++i) {
                 const int64_t kw = static_cast<int64_t>(p.column_count[i]);
                 m[i] = first ? ((static_cast<float>(1.0 / static_cast<double>(kd)) / static_cast<float>(kh)) /
                                 static_cast<float>(kw))
                              : 1.0f / (1.0f / (1.0f / static_cast<float>(kd * kh * kw)));
               }
               // pool.h: channels first sums without the zero point (it cancels), channels last
               // subtracts it per element and adds it back after rounding.
               AvgPoolRowParams params{p, first ? 0 : zero_point, 0.0f, first ? 0 : zero_point, g.channels, m.data(), m.data()};
               kernel(lines, out, &params);
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

Status PoolOp::Prepare(PoolKind kind, const PoolGeometry& g, QDType dtype, PoolLayout layout,
                       const AvgPoolOptions& options, std::shared_ptr<const PoolOp>* out) {
  const bool adaptive = kind == PoolKind::kAdaptiveAvg || kind == PoolKind::kAdaptiveMax;
  QK_RETURN_IF_ERROR(adaptive ? CheckAdaptive(g) : CheckPoolGeometry(g, kind == PoolKind::kMax));
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
  }
  size_t x_count = 0, y_count = 0;
  const int64_t in_dims[5] = {I(g.batch), I(g.channels), I(g.input[0]), I(g.input[1]), I(g.input[2])};
  const int64_t out_dims[5] = {I(g.batch), I(g.channels), I(g.output[0]), I(g.output[1]), I(g.output[2])};
  if (!CheckedShapeProduct(in_dims, 5, &x_count) || !CheckedShapeProduct(out_dims, 5, &y_count)) {
    return Status::RangeError(Expected("a shape whose element count fits in memory", "input", "an overflow"));
  }
  if (kind == PoolKind::kAvg && (options.divisor_override < 0 || options.divisor_override > kMaxWindowElements)) {
    return Status::RangeError(Expected("positive integer below 2^23", "divisorOverride",
                                       std::to_string(options.divisor_override)));
  }
  if (kind == PoolKind::kAvg || kind == PoolKind::kAdaptiveAvg) {
    QK_RETURN_IF_ERROR(CheckInputZeroPoint(options.zero_point, dtype));
  }
  std::shared_ptr<PoolOp> op(new PoolOp());
  op->kind_ = kind;
  op->g_ = g;
  op->dtype_ = dtype;
  op->layout_ = layout;
  op->options_ = options;
  op->x_bytes_ = x_count;  // one byte per element: quint8 / qint8
  op->y_bytes_ = y_count;
  // An empty output runs nothing (a 0-channel geometry may claim any number of pixels, so its
  // tables are not built); a non-empty one bounds W's output size, so the table is small.
  if (y_count > 0) {
    const size_t C = g.channels, OW = g.output[2];
    Columns& c = op->columns_;
    c.offset.resize(OW);
    c.count.resize(OW);
    if (kind == PoolKind::kAvg) c.padded.resize(OW);
    for (size_t ow = 0; ow < OW; ++ow) {
      const Span s = WindowSpan(kind, g, 2, I(ow));
      if (kind == PoolKind::kAvg) c.padded[ow] = AvgWindow(g, 2, I(ow)).padded;
      c.count[ow] = static_cast<size_t>(s.Count());
      c.offset[ow] = c.count[ow] > 0 ? static_cast<size_t>(s.begin) * C : 0;
    }
    // Channels first: the input and the output staged channels last, in one scratch block
    // (the output's part starts on a cache line).
    if (layout == PoolLayout::kChannelsFirst) {
      const size_t x_part = (x_count + 63) / 64 * 64;
      if (x_part < x_count || !CheckedAdd(x_part, y_count, &op->scratch_bytes_)) {
        return Status::RangeError(Expected("a shape whose element count fits in memory", "input", "an overflow"));
      }
    }
  }
  *out = std::move(op);
  return Status::Ok();
}

const char* PoolOp::name() const {
  switch (kind_) {
    case PoolKind::kMax: return "max_pool";
    case PoolKind::kAvg: return "avg_pool";
    case PoolKind::kAdaptiveAvg: return "adaptive_avg_pool";
    case PoolKind::kAdaptiveMax: return "adaptive_max_pool";
  }
  return "pool";
}

template <typename T>
void PoolOp::RunChannelsLast(const T* x, T* y) const {
  switch (kind_) {
    case PoolKind::kMax: RunMaxPool(g_, columns_, x, y, false); break;
    case PoolKind::kAdaptiveMax: RunMaxPool(g_, columns_, x, y, true); break;
    case PoolKind::kAvg: RunAvgPool(g_, layout_, options_, columns_, x, y); break;
    case PoolKind::kAdaptiveAvg: RunAdaptiveAvgPool(g_, layout_, options_.zero_point, columns_, x, y); break;
  }
}

Status PoolOp::Run(const void* const* inputs, void* output, void* scratch) const {
  if (y_bytes_ == 0) return Status::Ok();
  return WithInt8Type(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(inputs[0]);
    T* y = static_cast<T*>(output);
    if (layout_ == PoolLayout::kChannelsLast) {
      RunChannelsLast(x, y);
      return Status::Ok();
    }
    // Staged through channels-last copies in the scratch: the transpose writes every byte of
    // x_last and the pool every byte of y_last.
    T* x_last = static_cast<T*>(scratch);
    T* y_last = x_last + (x_bytes_ + 63) / 64 * 64;
    const size_t in_spatial = g_.input[0] * g_.input[1] * g_.input[2];
    const size_t out_spatial = g_.output[0] * g_.output[1] * g_.output[2];
    TransposePlanes(x, x_last, g_.batch, g_.channels, in_spatial);
    RunChannelsLast(static_cast<const T*>(x_last), y_last);
    TransposePlanes(static_cast<const T*>(y_last), y, g_.batch, out_spatial, g_.channels);
    return Status::Ok();
  });
}

namespace {

// The one-call form: prepare, check the caller's buffers, run with scratch of its own.
Status PrepareAndRun(PoolKind kind, const PoolGeometry& g, QDType dtype, PoolLayout layout, const AvgPoolOptions& options,
                     const void* x, size_t x_bytes, void* y, size_t y_bytes) {
  std::shared_ptr<const PoolOp> op;
  QK_RETURN_IF_ERROR(PoolOp::Prepare(kind, g, dtype, layout, options, &op));
  return RunOnBuffers(*op, x, x_bytes, y, y_bytes);
}

}  // namespace

Status MaxPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes, void* y,
               size_t y_bytes) {
  return PrepareAndRun(PoolKind::kMax, g, dtype, layout, AvgPoolOptions{}, x, x_bytes, y, y_bytes);
}

Status AvgPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const AvgPoolOptions& options, const void* x,
               size_t x_bytes, void* y, size_t y_bytes) {
  return PrepareAndRun(PoolKind::kAvg, g, dtype, layout, options, x, x_bytes, y, y_bytes);
}

Status AdaptiveAvgPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, int32_t zero_point, const void* x,
                       size_t x_bytes, void* y, size_t y_bytes) {
  AvgPoolOptions options;
  options.zero_point = zero_point;
  return PrepareAndRun(PoolKind::kAdaptiveAvg, g, dtype, layout, options, x, x_bytes, y, y_bytes);
}

Status AdaptiveMaxPool(const PoolGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes, void* y,
                       size_t y_bytes) {
  return PrepareAndRun(PoolKind::kAdaptiveMax, g, dtype, layout, AvgPoolOptions{}, x, x_bytes, y, y_bytes);
}

}  // namespace qk
