// Pool-norm microkernels (pooling rows, batch norm, normalize) on every ISA, exactly: pooling rows against native/reference and the scalar kernel of their slot, batch norm, normalize and bilinear against their scalar kernels, normalize_rows against normalize per run, normalize's statistics against int64 sums.
//
// Channel counts 1..150 cover every vector tile and tail; pooling rows get random W geometries
// (stride, padding, dilation, ceil_mode, empty windows, windows above the int16 partial sums'
// limit), both average formulas, count_include_pad and divisor overrides; outputs carry guard
// bytes after the last value; batch norm sees extreme alphas (huge, NaN) and fused ReLU bounds. A kernel above the run's --isa level is excluded; one the CPU lacks is skipped.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/cpu.h"
#include "harness.h"
#include "ops/pool.h"
#include "reference/pool-norm-ref.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kMaxChannels = 150;
constexpr size_t kGuard = 32;

// The scalar kernel of a slot.
template <typename Fn>
Fn* ScalarOf(const std::string& slot) {
  Fn* found = nullptr;
#define QK_UKERNEL(kernel_slot, type, isa, function)                       \
  if constexpr (std::is_same<Fn, type>::value && Isa::isa == Isa::kScalar) { \
    if (slot == #kernel_slot) found = &function;                           \
  }
#include "ukernels/registry.inc"
#undef QK_UKERNEL
  return found;
}

template <typename T>
std::vector<std::vector<T>> RandomRows(Random& rng, size_t rows, size_t channels) {
  std::vector<std::vector<T>> data(rows);
  for (auto& row : data) row = RandomQuantized<T>(rng, channels);
  return data;
}

template <typename T>
std::vector<const T*> Pointers(const std::vector<std::vector<T>>& rows) {
  std::vector<const T*> p;
  for (const auto& row : rows) p.push_back(row.data());
  return p;
}

template <typename Out>
bool Compare(Context& ctx, const std::string& where, const std::vector<Out>& expected, const std::vector<Out>& got,
             size_t n) {
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::memcmp(&expected[i], &got[i], sizeof(Out)) != 0) {
      ctx.Fail(where + (i < n ? ": channel " : ": guard element ") + std::to_string(i) + ", expected " +
               std::to_string(expected[i]) + ", got " + std::to_string(got[i]));
      return false;
    }
  }
  return true;
}

// One pooling row as a whole problem for the reference: batch 1, depth 1, `lines` input rows that
// a window of kernel height `lines` covers at once (one output row), and a random W geometry.
struct RowCase {
  PoolGeometry g;
  std::vector<size_t> offset, count;  // the kernel's columns, from the W geometry (pool-norm.h)
};

RowCase RandomRow(Random& rng, size_t channels, bool dilation) {
  RowCase r;
  PoolGeometry& g = r.g;
  g.channels = channels;
  // Mostly small windows; one in eight above kPoolInt16Values elements (the int16 partial sums'
  // flush), up to 40 lines of 8 columns.
  const bool large = rng.Int(0, 7) == 0;
  g.input[1] = g.kernel[1] = static_cast<size_t>(large ? rng.Int(17, 40) : rng.Int(1, 4));
  g.kernel[2] = static_cast<size_t>(large ? rng.Int(5, 8) : rng.Int(1, 4));
  g.dilation[2] = dilation ? static_cast<size_t>(rng.Int(1, 3)) : 1;
  g.padding[2] = static_cast<size_t>(rng.Int(0, static_cast<int64_t>(g.kernel[2] / 2)));
  g.stride[2] = static_cast<size_t>(rng.Int(1, 3));
  const size_t span = g.dilation[2] * (g.kernel[2] - 1) + 1;
  g.input[2] = static_cast<size_t>(std::max<int64_t>(1, static_cast<int64_t>(span) - 2 * static_cast<int64_t>(g.padding[2]))) +
               static_cast<size_t>(rng.Int(0, 9));
  int64_t out = 0;
  if (!PoolOutputSize(static_cast<int64_t>(g.input[2]), static_cast<int64_t>(g.kernel[2]), static_cast<int64_t>(g.padding[2]),
                      static_cast<int64_t>(g.stride[2]), static_cast<int64_t>(g.dilation[2]), rng.Int(0, 1) == 1, &out)) {
    out = 1;  // cannot happen for the sizes above; a one-pixel row keeps the case valid
  }
  g.output[2] = static_cast<size_t>(out);
  for (size_t ow = 0; ow < g.output[2]; ++ow) {
    size_t first = 0, n = 0;
    for (size_t k = 0; k < g.kernel[2]; ++k) {
      const int64_t w = static_cast<int64_t>(ow * g.stride[2] + k * g.dilation[2]) - static_cast<int64_t>(g.padding[2]);
      if (w < 0 || w >= static_cast<int64_t>(g.input[2])) continue;
      if (n++ == 0) first = static_cast<size_t>(w);
    }
    r.offset.push_back(first * channels);
    r.count.push_back(n);
  }
  return r;
}

PoolRowParams RowParams(const RowCase& r) {
  return PoolRowParams{r.g.input[1], r.g.channels, r.g.output[2], r.g.dilation[2] * r.g.channels, r.offset.data(),
                       r.count.data()};
}

// NHWC <-> NCHW of one image of `spatial` pixels.
template <typename T>
std::vector<T> Transposed(const std::vector<T>& v, size_t rows, size_t cols) {
  std::vector<T> t(v.size());
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) t[j * rows + i] = v[i * cols + j];
  return t;
}

template <typename T>
void RegisterMaxPool(const char* slot, const char* name, Isa isa, void (*kernel)(const T* const*, T*, const PoolRowParams*)) {
  auto* scalar = ScalarOf<void(const T* const*, T*, const PoolRowParams*)>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(11);
    for (size_t channels = 1; channels <= kMaxChannels; ++channels) {
      for (int trial = 0; trial < 6; ++trial) {
        const RowCase r = RandomRow(rng, channels, true);
        const size_t width = r.g.input[2] * channels;
        const auto x = RandomQuantized<T>(rng, r.g.input[1] * width);
        std::vector<const T*> lines;
        for (size_t l = 0; l < r.g.input[1]; ++l) lines.push_back(x.data() + l * width);
        const size_t n = r.g.output[2] * channels;
        std::vector<T> expected(n + kGuard, static_cast<T>(0x5A)), got = expected, from_scalar = expected;
        MaxPoolRef(r.g, PoolLayout::kChannelsLast, false, x.data(), expected.data());
        const PoolRowParams p = RowParams(r);
        kernel(lines.data(), got.data(), &p);
        scalar(lines.data(), from_scalar.data(), &p);
        const std::string where = std::string(name) + " lines=" + std::to_string(p.lines) + " W=" +
                                  std::to_string(r.g.input[2]) + " k=" + std::to_string(r.g.kernel[2]) +
                                  " channels=" + std::to_string(channels);
        if (!Compare(ctx, where, expected, got, n) || !Compare(ctx, where + " (scalar slot)", from_scalar, got, n)) return;
      }
      // No lines (a window in the padding of an outer dim): every pixel the lowest value.
      const RowCase r = RandomRow(rng, channels, true);
      PoolRowParams p = RowParams(r);
      p.lines = 0;
      const size_t n = r.g.output[2] * channels;
      std::vector<T> expected(n + kGuard, static_cast<T>(0x5A)), got = expected;
      std::fill(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(n), std::numeric_limits<T>::lowest());
      kernel(nullptr, got.data(), &p);
      if (!Compare(ctx, std::string(name) + " lines=0 channels=" + std::to_string(channels), expected, got, n)) return;
    }
  });
}

// Average rows in both of PyTorch's formulas (pool.h), against the reference in that layout.
template <typename T>
void RegisterAvgPool(const char* slot, const char* name, Isa isa, void (*kernel)(const T* const*, T*, const AvgPoolRowParams*)) {
  auto* scalar = ScalarOf<void(const T* const*, T*, const AvgPoolRowParams*)>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(12);
    for (size_t channels = 1; channels <= kMaxChannels; ++channels) {
      for (int trial = 0; trial < 8; ++trial) {
        const RowCase r = RandomRow(rng, channels, false);
        const PoolGeometry& g = r.g;
        const size_t width = g.input[2] * channels;
        const auto x = RandomQuantized<T>(rng, g.input[1] * width);
        std::vector<const T*> lines;
        for (size_t l = 0; l < g.input[1]; ++l) lines.push_back(x.data() + l * width);
        AvgPoolOptions options;
        options.count_include_pad = rng.Int(0, 1) == 1;
        options.divisor_override = rng.Int(0, 3) == 0 ? rng.Int(1, 300) : 0;
        options.zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        const bool last = trial % 2 == 0;
        std::vector<float> m(g.output[2]), tail_m(g.output[2]);
        for (size_t ow = 0; ow < g.output[2]; ++ow) {
          const int64_t start = static_cast<int64_t>(ow * g.stride[2]) - static_cast<int64_t>(g.padding[2]);
          const int64_t end = std::min(start + static_cast<int64_t>(g.kernel[2]), static_cast<int64_t>(g.input[2] + g.padding[2]));
          const int64_t divisor = options.divisor_override != 0 ? options.divisor_override
                                  : options.count_include_pad ? static_cast<int64_t>(g.input[1]) * (end - start)
                                                              : static_cast<int64_t>(g.input[1] * r.count[ow]);
          m[ow] = last ? 1.0f / static_cast<float>(divisor) : static_cast<float>(1.0 / static_cast<double>(divisor));
          tail_m[ow] = last ? 1.0f / (1.0f / m[ow]) : m[ow];
        }
        const AvgPoolRowParams p{RowParams(r), options.zero_point, last ? 0.0f : static_cast<float>(options.zero_point),
                                 last ? options.zero_point : 0, last ? channels / 8 * 8 : channels, m.data(), tail_m.data()};
        const size_t n = g.output[2] * channels;
        std::vector<T> expected(n + kGuard, static_cast<T>(0x5A)), got = expected, from_scalar = expected;
        if (last) {
          AvgPoolRef(g, PoolLayout::kChannelsLast, options, x.data(), expected.data());
        } else {
          const auto x_first = Transposed(x, g.input[1] * g.input[2], channels);
          std::vector<T> y_first(n);
          AvgPoolRef(g, PoolLayout::kChannelsFirst, options, x_first.data(), y_first.data());
          const auto y_last = Transposed(y_first, channels, g.output[2]);
          std::copy(y_last.begin(), y_last.end(), expected.begin());
        }
        kernel(lines.data(), got.data(), &p);
        scalar(lines.data(), from_scalar.data(), &p);
        const std::string where = std::string(name) + (last ? " NHWC" : " NCHW") + " lines=" + std::to_string(p.row.lines) +
                                  " W=" + std::to_string(g.input[2]) + " k=" + std::to_string(g.kernel[2]) +
                                  " channels=" + std::to_string(channels);
        if (!Compare(ctx, where, expected, got, n) || !Compare(ctx, where + " (scalar slot)", from_scalar, got, n)) return;
      }
    }
  });
}

template <typename T>
void RegisterBatchNorm(const char* slot, const char* name, Isa isa,
                       void (*kernel)(size_t, const T*, const float*, const float*, T*, const BatchNormParams*)) {
  auto* scalar = ScalarOf<void(size_t, const T*, const float*, const float*, T*, const BatchNormParams*)>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(13);
    for (size_t channels = 1; channels <= kMaxChannels; ++channels) {
      for (int trial = 0; trial < 4; ++trial) {
        const auto x = RandomQuantized<T>(rng, channels);
        std::vector<float> alpha(channels), beta(channels);
        for (size_t c = 0; c < channels; ++c) {
          alpha[c] = static_cast<float>(rng.Uniform(-3, 3));
          beta[c] = static_cast<float>(rng.Uniform(-200, 200));
          // Half-way values: alpha 0.5 and integer betas put t on .5 ties.
          if (rng.Int(0, 7) == 0) {
            alpha[c] = 0.5f;
            beta[c] = static_cast<float>(rng.Int(-100, 100));
          }
          if (rng.Int(0, 31) == 0) alpha[c] = rng.Int(0, 1) ? 3e38f : -3e38f;
          if (rng.Int(0, 63) == 0) beta[c] = std::numeric_limits<float>::quiet_NaN();
        }
        BatchNormParams p;
        p.x_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.y_zero_point = static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.qmin = trial % 2 ? p.y_zero_point : kTypeMin<T>;  // odd trials: fused ReLU
        p.qmax = kTypeMax<T>;
        std::vector<T> expected(channels + kGuard, static_cast<T>(0x5A)), got = expected;
        scalar(channels, x.data(), alpha.data(), beta.data(), expected.data(), &p);
        kernel(channels, x.data(), alpha.data(), beta.data(), got.data(), &p);
        if (!Compare(ctx, std::string(name) + " channels=" + std::to_string(channels) + " trial=" + std::to_string(trial),
                     expected, got, channels)) {
          return;
        }
      }
    }
  });
}

// normalize against its slot's scalar kernel: lengths 0..300 (every vector step and tail) and a
// long row, per-element (stride 1) and per-channel (stride 0) affines, ties, extreme and NaN
// scales and affines (the NaN-to-qmin clamp).
template <typename T>
void RegisterNormalize(const char* slot, const char* name, Isa isa,
                       void (*kernel)(size_t, const T*, const float*, const float*, size_t, T*, const NormalizeParams*)) {
  using Fn = void(size_t, const T*, const float*, const float*, size_t, T*, const NormalizeParams*);
  auto* scalar = ScalarOf<Fn>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(17);
    std::vector<size_t> lengths;
    for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
    lengths.push_back(4099);
    for (size_t n : lengths) {
      for (int trial = 0; trial < 3; ++trial) {
        const auto x = RandomQuantized<T>(rng, n);
        const size_t stride = trial == 1 ? 0 : 1;
        std::vector<float> gamma(std::max<size_t>(n, 1)), beta(gamma.size());
        NormalizeParams p;
        p.x_zero_point = static_cast<float>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.mean_centred = static_cast<float>(rng.Uniform(-100, 100));
        p.scale = static_cast<float>(rng.Uniform(0, 4));
        p.y_inv_scale = static_cast<float>(rng.Uniform(0.1, 40));
        p.y_zero_point = static_cast<float>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.qmin = static_cast<float>(kTypeMin<T>);
        p.qmax = static_cast<float>(kTypeMax<T>);
        for (size_t i = 0; i < gamma.size(); ++i) {
          gamma[i] = static_cast<float>(rng.Uniform(-3, 3));
          beta[i] = static_cast<float>(rng.Uniform(-5, 5));
          if (rng.Int(0, 63) == 0) gamma[i] = rng.Int(0, 1) ? 3e38f : -3e38f;
          if (rng.Int(0, 127) == 0) beta[i] = std::numeric_limits<float>::quiet_NaN();
        }
        if (trial == 2 && n % 3 == 0) {
          // Ties: integers plus halves land exactly on .5 before the rounding.
          p.mean_centred = 0.0f;
          p.x_zero_point = 0.0f;
          p.scale = 0.5f;
          p.y_inv_scale = 1.0f;
          std::fill(gamma.begin(), gamma.end(), 1.0f);
          for (float& b : beta) b = static_cast<float>(rng.Int(-20, 20));
        }
        if (rng.Int(0, 15) == 0) p.scale = std::numeric_limits<float>::infinity();  // eps 0 and a constant group
        if (rng.Int(0, 31) == 0) p.scale = std::numeric_limits<float>::quiet_NaN();
        std::vector<T> expected(n + kGuard, static_cast<T>(0x5A)), got = expected;
        scalar(n, x.data(), gamma.data(), beta.data(), stride, expected.data(), &p);
        kernel(n, x.data(), gamma.data(), beta.data(), stride, got.data(), &p);
        if (!Compare(ctx, std::string(name) + " n=" + std::to_string(n) + " trial=" + std::to_string(trial), expected, got, n)) {
          return;
        }
      }
    }
  });
}

// normalize_rows against the scalar normalize kernel called once per run (the formula it must
// reproduce bit for bit): run lengths 1..20 (the permuted vector steps at 1, 2, 4, 8 and the
// per-run fallback), 32 and 33, 0..37 runs (full steps and every tail), both affine strides,
// per-run infinite and NaN scales, ties.
template <typename T>
void RegisterNormalizeRows(const char* name, Isa isa,
                           void (*kernel)(size_t, size_t, const T*, const float*, const float*, const float*, const float*,
                                          size_t, T*, const NormalizeParams*)) {
  using Fn = void(size_t, const T*, const float*, const float*, size_t, T*, const NormalizeParams*);
  auto* scalar = ScalarOf<Fn>(std::is_same<T, uint8_t>::value ? "qu8_normalize" : "qs8_normalize");
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(29);
    std::vector<size_t> lengths;
    for (size_t n = 1; n <= 20; ++n) lengths.push_back(n);
    lengths.push_back(32);
    lengths.push_back(33);
    for (size_t n : lengths) {
      for (size_t rows = 0; rows <= 37; ++rows) {
        const int trial = static_cast<int>(rows % 3);
        const auto x = RandomQuantized<T>(rng, rows * n);
        const size_t stride = trial == 1 ? 0 : 1;
        std::vector<float> gamma(n), beta(n), mean_centred(rows), scale(rows);
        NormalizeParams p;
        p.x_zero_point = static_cast<float>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.mean_centred = 0.0f;
        p.scale = 1.0f;
        p.y_inv_scale = static_cast<float>(rng.Uniform(0.1, 40));
        p.y_zero_point = static_cast<float>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.qmin = static_cast<float>(kTypeMin<T>);
        p.qmax = static_cast<float>(kTypeMax<T>);
        for (size_t i = 0; i < n; ++i) {
          gamma[i] = static_cast<float>(rng.Uniform(-3, 3));
          beta[i] = static_cast<float>(rng.Uniform(-5, 5));
        }
        for (size_t r = 0; r < rows; ++r) {
          mean_centred[r] = static_cast<float>(rng.Uniform(-100, 100));
          scale[r] = static_cast<float>(rng.Uniform(0, 4));
          if (rng.Int(0, 15) == 0) scale[r] = std::numeric_limits<float>::infinity();
          if (rng.Int(0, 31) == 0) scale[r] = std::numeric_limits<float>::quiet_NaN();
          if (trial == 2) {
            // Ties: integers plus halves land exactly on .5 before the rounding.
            p.x_zero_point = 0.0f;
            p.y_inv_scale = 1.0f;
            mean_centred[r] = 0.0f;
            scale[r] = 0.5f;
          }
        }
        std::vector<T> expected(rows * n + kGuard, static_cast<T>(0x5A)), got = expected;
        NormalizeParams run = p;
        for (size_t r = 0; r < rows; ++r) {
          run.mean_centred = mean_centred[r];
          run.scale = scale[r];
          scalar(n, x.data() + r * n, gamma.data(), beta.data(), stride, expected.data() + r * n, &run);
        }
        kernel(rows, n, x.data(), mean_centred.data(), scale.data(), gamma.data(), beta.data(), stride, got.data(), &p);
        if (!Compare(ctx, std::string(name) + " n=" + std::to_string(n) + " rows=" + std::to_string(rows), expected, got,
                     rows * n)) {
          return;
        }
      }
    }
  });
}

// normalize_stats against int64 sums computed here: lengths 0..300 and rows long enough to
// cross the SIMD kernels' int32 flush (4096 vector steps), all at the extreme value too.
template <typename T>
void RegisterNormalizeStats(const char* name, Isa isa, void (*kernel)(size_t, const T*, int64_t*, int64_t*)) {
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(19);
    std::vector<size_t> lengths;
    for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
    for (size_t n : {size_t{131071}, size_t{131072 * 2 + 77}, size_t{262144 * 2 + 5}}) lengths.push_back(n);
    for (size_t n : lengths) {
      for (int extreme = 0; extreme < 2; ++extreme) {
        std::vector<T> x = RandomQuantized<T>(rng, n);
        if (extreme) std::fill(x.begin(), x.end(), static_cast<T>(std::is_signed<T>::value ? kTypeMin<T> : kTypeMax<T>));
        int64_t want = 0, want_sq = 0;
        for (T v : x) {
          want += v;
          want_sq += int64_t{v} * v;
        }
        int64_t sum = -1, sum_sq = -1;  // the kernel writes both, whatever was there
        kernel(n, x.data(), &sum, &sum_sq);
        if (sum != want || sum_sq != want_sq) {
          ctx.Fail(std::string(name) + " n=" + std::to_string(n) + (extreme ? " (extreme values)" : "") + ": expected " +
                   std::to_string(want) + " / " + std::to_string(want_sq) + ", got " + std::to_string(sum) + " / " +
                   std::to_string(sum_sq));
          return;
        }
      }
    }
  });
}

// bilinear against its slot's scalar kernel: channel counts 1..150 (the vector part, C rounded
// down to 8, and the scalar tail; vector_channels also above and below that), random weights
// (edge taps with a weight of 0 or 1 among them), both dtypes' ranges, guard bytes after the pixel.
template <typename T>
void RegisterBilinear(const char* slot, const char* name, Isa isa,
                      void (*kernel)(size_t, const T*, const T*, const T*, const T*, T*, const BilinearParams*)) {
  using Fn = void(size_t, const T*, const T*, const T*, const T*, T*, const BilinearParams*);
  auto* scalar = ScalarOf<Fn>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(23);
    for (size_t channels = 1; channels <= kMaxChannels; ++channels) {
      for (int trial = 0; trial < 4; ++trial) {
        const auto q00 = RandomQuantized<T>(rng, channels), q01 = RandomQuantized<T>(rng, channels);
        const auto q10 = RandomQuantized<T>(rng, channels), q11 = RandomQuantized<T>(rng, channels);
        BilinearParams p;
        p.r1 = trial == 0 ? 0.0f : static_cast<float>(rng.Uniform(0, 1));
        p.r0 = 1.0f - p.r1;
        p.c1 = trial == 1 ? 1.0f : static_cast<float>(rng.Uniform(0, 1));
        p.c0 = 1.0f - p.c1;
        p.zero_point = static_cast<float>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        p.qmin = static_cast<float>(kTypeMin<T>);
        p.qmax = static_cast<float>(kTypeMax<T>);
        p.vector_channels = trial == 3 ? static_cast<size_t>(rng.Int(0, 160)) / 8 * 8 : channels / 8 * 8;
        std::vector<T> expected(channels + kGuard, static_cast<T>(0x5A)), got = expected;
        scalar(channels, q00.data(), q01.data(), q10.data(), q11.data(), expected.data(), &p);
        kernel(channels, q00.data(), q01.data(), q10.data(), q11.data(), got.data(), &p);
        if (!Compare(ctx, std::string(name) + " channels=" + std::to_string(channels) + " trial=" + std::to_string(trial),
                     expected, got, channels)) {
          return;
        }
      }
    }
  });
}

void Register(const char* slot, const char* name, Isa isa, MaxPoolU8Fn* k) { RegisterMaxPool<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, MaxPoolS8Fn* k) { RegisterMaxPool<int8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, AvgPoolU8Fn* k) { RegisterAvgPool<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, AvgPoolS8Fn* k) { RegisterAvgPool<int8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, BatchNormU8Fn* k) { RegisterBatchNorm<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, BatchNormS8Fn* k) { RegisterBatchNorm<int8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, NormalizeU8Fn* k) { RegisterNormalize<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, NormalizeS8Fn* k) { RegisterNormalize<int8_t>(slot, name, isa, k); }
void Register(const char*, const char* name, Isa isa, NormalizeRowsU8Fn* k) { RegisterNormalizeRows<uint8_t>(name, isa, k); }
void Register(const char*, const char* name, Isa isa, NormalizeRowsS8Fn* k) { RegisterNormalizeRows<int8_t>(name, isa, k); }
void Register(const char*, const char* name, Isa isa, NormalizeStatsU8Fn* k) { RegisterNormalizeStats<uint8_t>(name, isa, k); }
void Register(const char*, const char* name, Isa isa, NormalizeStatsS8Fn* k) { RegisterNormalizeStats<int8_t>(name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, BilinearU8Fn* k) { RegisterBilinear<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, BilinearS8Fn* k) { RegisterBilinear<int8_t>(slot, name, isa, k); }
// Other families' kernels: tested by their own files.
template <typename Fn>
void Register(const char*, const char*, Isa, Fn*) {}

const bool kRegistered = [] {
#define QK_UKERNEL(slot, type, isa, function) Register(#slot, #function, Isa::isa, &function);
#include "ukernels/registry.inc"
#undef QK_UKERNEL
  return true;
}();

}  // namespace
}  // namespace test
}  // namespace qk
