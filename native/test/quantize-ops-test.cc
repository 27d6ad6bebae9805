// Operator tests: quantize/dequantize through Dispatch(), for every dtype and qscheme, against the reference.
//
// Each case runs the operator at 1, 2, 3 and 4 threads (the --threads-sweep
// mode goes wider and larger) and demands the reference's exact bytes every
// time, on layouts with outer = 1, inner = 1, odd channel counts and empty
// tensors; outputs carry guard bytes. The error cases check that bad lengths and
// qparams come back as the documented Status and leave the output untouched.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "base/checked.h"
#include "base/threadpool.h"
#include "harness.h"
#include "ops/quantize.h"
#include "reference/quantize-ref.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kGuard = 16;
constexpr uint8_t kSentinel = 0x5A;
const QDType kAllDTypes[] = {QDType::kQUInt8, QDType::kQInt8, QDType::kQInt32, QDType::kQUInt4x2};
const QDType kFloatQParamsDTypes[] = {QDType::kQUInt8, QDType::kQUInt4x2};

size_t StorageBytes(QDType dtype, size_t n) {
  size_t bytes = 0;
  QDTypeStorageBytes(dtype, n, &bytes);
  return bytes;
}

// A buffer with `size` usable bytes followed by guard bytes.
struct Guarded {
  explicit Guarded(size_t size) : size(size), bytes(size + kGuard, kSentinel) {}
  uint8_t* data() { return bytes.data(); }
  bool GuardIntact() const {
    for (size_t i = size; i < bytes.size(); ++i) {
      if (bytes[i] != kSentinel) return false;
    }
    return true;
  }
  bool Untouched() const {
    for (uint8_t b : bytes) {
      if (b != kSentinel) return false;
    }
    return true;
  }
  size_t size;
  std::vector<uint8_t> bytes;
};

std::string Where(QDType dtype, size_t n, int threads) {
  return std::string(QDTypeName(dtype)) + " n=" + std::to_string(n) + " threads=" + std::to_string(threads);
}

std::string LayoutName(const ChannelLayout& l) {
  return "layout " + std::to_string(l.outer) + "x" + std::to_string(l.channels) + "x" + std::to_string(l.inner);
}

// First differing element of two quantized buffers, ruy-style; false when equal.
bool ReportQuantizedMismatch(Context& ctx, const std::string& where, QDType dtype, const uint8_t* expected,
                             const uint8_t* got, size_t n, const float* x) {
  for (size_t i = 0; i < n; ++i) {
    const int64_t e = LoadQuantizedRef(expected, dtype, i), g = LoadQuantizedRef(got, dtype, i);
    if (e != g) {
      ctx.Fail(where + ": index " + std::to_string(i) + (x ? ", input " + DescribeFloat(x[i]) : std::string()) +
               ", expected " + std::to_string(e) + ", got " + std::to_string(g));
      return true;
    }
  }
  // The padding nibble of an odd quint4x2 count must be 0 as well, as in PyTorch.
  const size_t bytes = StorageBytes(dtype, n);
  if (bytes > 0 && std::memcmp(expected, got, bytes) != 0) {
    ctx.Fail(where + ": storage bytes differ outside the elements (quint4x2 padding nibble)");
    return true;
  }
  return false;
}

bool ReportFloatMismatch(Context& ctx, const std::string& where, const float* expected, const float* got, size_t n,
                         QDType dtype, const void* q) {
  for (size_t i = 0; i < n; ++i) {
    if (BitsOfFloat(expected[i]) != BitsOfFloat(got[i])) {
      ctx.Fail(where + ": index " + std::to_string(i) + ", q " + std::to_string(LoadQuantizedRef(q, dtype, i)) +
               ", expected " + DescribeFloat(expected[i]) + ", got " + DescribeFloat(got[i]));
      return true;
    }
  }
  return false;
}

bool CheckOk(Context& ctx, const Status& status, const std::string& where) {
  return ctx.Check(status.ok(), where + ": unexpected error: " + status.message());
}

std::vector<float> AnyFloats(Random& rng, size_t n) {
  std::vector<float> x(n);
  for (float& v : x) v = rng.AnyFloat();
  return x;
}

std::vector<uint8_t> RandomStorage(Random& rng, QDType dtype, size_t n) {
  std::vector<uint8_t> q(StorageBytes(dtype, n));
  for (uint8_t& b : q) b = static_cast<uint8_t>(rng.Next());
  if (dtype == QDType::kQInt32) {
    // Make the extremes common: they are where PyTorch's int32 arithmetic wraps.
    for (size_t i = 0; i < n; i += 7) StoreQuantizedRef(q.data(), dtype, i, rng.Next() & 1 ? INT32_MIN : INT32_MAX);
  }
  if (dtype == QDType::kQUInt4x2 && n % 2 == 1) q.back() &= 0x0F;
  return q;
}

// Zero points at both ends of the dtype's range, the middle, and random ones.
std::vector<int64_t> ZeroPoints(Random& rng, QDType dtype) {
  const QRange r = QDTypeRange(dtype);
  std::vector<int64_t> zps = {r.qmin, r.qmax, r.qmin + 1, r.qmax - 1, (r.qmin + r.qmax) / 2, rng.Int(r.qmin, r.qmax)};
  if (dtype == QDType::kQInt32) zps.push_back(16777217);  // not a float: PyTorch's float addition rounds it
  return zps;
}

// Scales, including the ones whose float reciprocal is 0 or infinite.
std::vector<double> Scales(Random& rng) {
  return {0.1, 1.0 / 3.0, 0.3, 1.0, rng.LogUniform(-6, 3), rng.LogUniform(-3, 1), 1e-50, 1e300};
}

const size_t kSizes[] = {0, 1, 2, 3, 7, 17, 64, 65, 129, 1000, 3 * 16384 + 37};

const ChannelLayout kLayouts[] = {
    {1, 1, 1},   {1, 1, 100}, {1, 3, 1000}, {4, 3, 1},  {7, 5, 1},     {1, 7, 17}, {2, 5, 16},
    {2, 3, 15},  {3, 4, 33},  {0, 3, 5},    {2, 0, 4},  {2, 3, 20000}, {5000, 12, 1}};

// ---- per tensor ---------------------------------------------------------------------

// One quantize-per-tensor configuration with its reference bytes.
struct PerTensorCase {
  std::vector<float> x;
  double scale;
  int64_t zero_point;
  std::vector<uint8_t> expected;
};

void TestQuantizePerTensor(Context& ctx, QDType dtype, const size_t* sizes, size_t size_count, const int* threads,
                           size_t thread_count, uint64_t seed) {
  Random rng(seed);
  std::vector<PerTensorCase> cases;
  for (size_t s = 0; s < size_count; ++s) {
    const size_t n = sizes[s];
    const std::vector<float> x = AnyFloats(rng, n);
    const std::vector<int64_t> zps = ZeroPoints(rng, dtype);
    const std::vector<double> scales = Scales(rng);
    // Small sizes get every combination; large ones a few, to keep the run short.
    const size_t combos = n > 10000 ? 3 : zps.size() * scales.size();
    for (size_t k = 0; k < combos; ++k) {
      PerTensorCase c{x, 0, 0, std::vector<uint8_t>(StorageBytes(dtype, n) + 1)};
      c.zero_point = n > 10000 ? zps[rng.Next() % zps.size()] : zps[k % zps.size()];
      c.scale = n > 10000 ? scales[rng.Next() % 6] : scales[k / zps.size()];
      QuantizePerTensorRef(x.data(), n, c.scale, c.zero_point, dtype, c.expected.data());
      cases.push_back(std::move(c));
    }
  }
  // Thread count outermost: resizing the pool is the slow part.
  for (size_t t = 0; t < thread_count; ++t) {
    SetNumThreads(threads[t]);
    for (const PerTensorCase& c : cases) {
      const size_t n = c.x.size();
      Guarded out(StorageBytes(dtype, n));
      const std::string where = "QuantizePerTensor " + Where(dtype, n, threads[t]) + " scale=" +
                                DescribeDouble(c.scale) + " zero_point=" + std::to_string(c.zero_point);
      if (!CheckOk(ctx, QuantizePerTensor(c.x.data(), n, c.scale, c.zero_point, dtype, out.data(), out.size), where))
        return;
      if (ReportQuantizedMismatch(ctx, where, dtype, c.expected.data(), out.data(), n, c.x.data())) return;
      if (!ctx.Check(out.GuardIntact(), where + ": wrote past the end of the output")) return;
    }
  }
}

struct DequantizeCase {
  std::vector<uint8_t> q;
  size_t n;
  double scale;
  int64_t zero_point;
  std::vector<float> expected;
};

void TestDequantizePerTensor(Context& ctx, QDType dtype, const size_t* sizes, size_t size_count, const int* threads,
                             size_t thread_count, uint64_t seed) {
  Random rng(seed);
  std::vector<DequantizeCase> cases;
  for (size_t s = 0; s < size_count; ++s) {
    const size_t n = sizes[s];
    const std::vector<uint8_t> q = RandomStorage(rng, dtype, n);
    const std::vector<int64_t> zps = ZeroPoints(rng, dtype);
    for (size_t k = 0; k < (n > 10000 ? 3 : zps.size()); ++k) {
      DequantizeCase c{q, n, k % 2 ? rng.LogUniform(-6, 3) : 1.0 / 3.0, zps[k], std::vector<float>(n)};
      DequantizePerTensorRef(q.data(), dtype, n, c.scale, c.zero_point, c.expected.data());
      cases.push_back(std::move(c));
    }
  }
  for (size_t t = 0; t < thread_count; ++t) {
    SetNumThreads(threads[t]);
    for (const DequantizeCase& c : cases) {
      Guarded out(c.n * sizeof(float));
      float* y = reinterpret_cast<float*>(out.data());
      const std::string where = "DequantizePerTensor " + Where(dtype, c.n, threads[t]) + " scale=" +
                                DescribeDouble(c.scale) + " zero_point=" + std::to_string(c.zero_point);
      if (!CheckOk(ctx, DequantizePerTensor(c.q.data(), c.q.size(), dtype, c.n, c.scale, c.zero_point, y, c.n), where))
        return;
      if (ReportFloatMismatch(ctx, where, c.expected.data(), y, c.n, dtype, c.q.data())) return;
      if (!ctx.Check(out.GuardIntact(), where + ": wrote past the end of the output")) return;
    }
  }
}

// ---- per channel ----------------------------------------------------------------------

struct AffineChannelParams {
  std::vector<double> scales;
  std::vector<int64_t> zero_points;
};

AffineChannelParams RandomAffineParams(Random& rng, QDType dtype, size_t channels) {
  const QRange r = QDTypeRange(dtype);
  AffineChannelParams p;
  for (size_t c = 0; c < channels; ++c) {
    p.scales.push_back(c % 3 == 0 ? 0.1 : rng.LogUniform(-5, 2));
    p.zero_points.push_back(c % 4 == 0 ? r.qmin : c % 4 == 1 ? r.qmax : rng.Int(r.qmin, r.qmax));
  }
  return p;
}

struct FloatChannelParams {
  std::vector<float> scales;
  std::vector<float> zero_points;
};

FloatChannelParams RandomFloatParams(Random& rng, size_t channels) {
  FloatChannelParams p;
  // Zero points of every kind: negative, fractional, beyond the range, and past
  // 2^32, where PyTorch's int truncation of lrintf's result wraps.
  const float special_zps[] = {0.0f, -3.25f, 12.5f, 255.0f, 300.7f, 4294967296.0f + 512.0f, -1e9f, 7.0f};
  for (size_t c = 0; c < channels; ++c) {
    p.scales.push_back(c % 3 == 0 ? 0.05f : static_cast<float>(rng.LogUniform(-5, 2)));
    p.zero_points.push_back(c % 2 ? special_zps[rng.Next() % 8] : static_cast<float>(rng.Uniform(-20, 270)));
  }
  return p;
}

size_t Numel(const ChannelLayout& l) { return l.outer * l.channels * l.inner; }

void TestPerChannelAffine(Context& ctx, QDType dtype, const ChannelLayout* layouts, size_t layout_count,
                          const int* threads, size_t thread_count, uint64_t seed) {
  Random rng(seed);
  for (size_t li = 0; li < layout_count; ++li) {
    const ChannelLayout& layout = layouts[li];
    const size_t n = Numel(layout), bytes = StorageBytes(dtype, n);
    const AffineChannelParams p = RandomAffineParams(rng, dtype, layout.channels);
    const std::vector<float> x = AnyFloats(rng, n);
    std::vector<uint8_t> expected(bytes + 1);
    QuantizePerChannelRef(x.data(), layout, p.scales.data(), p.zero_points.data(), dtype, expected.data());
    const std::vector<uint8_t> q = RandomStorage(rng, dtype, n);
    std::vector<float> expected_y(n);
    DequantizePerChannelRef(q.data(), dtype, layout, p.scales.data(), p.zero_points.data(), expected_y.data());
    for (size_t t = 0; t < thread_count; ++t) {
      SetNumThreads(threads[t]);
      const std::string where = Where(dtype, n, threads[t]) + " " + LayoutName(layout);
      Guarded out(bytes);
      if (!CheckOk(ctx, QuantizePerChannel(x.data(), n, layout, p.scales.data(), p.zero_points.data(),
                                           layout.channels, dtype, out.data(), out.size),
                   "QuantizePerChannel " + where)) {
        return;
      }
      if (ReportQuantizedMismatch(ctx, "QuantizePerChannel " + where, dtype, expected.data(), out.data(), n, x.data()))
        return;
      if (!ctx.Check(out.GuardIntact(), "QuantizePerChannel " + where + ": wrote past the end")) return;
      Guarded yout(n * sizeof(float));
      float* y = reinterpret_cast<float*>(yout.data());
      if (!CheckOk(ctx, DequantizePerChannel(q.data(), q.size(), dtype, layout, p.scales.data(), p.zero_points.data(),
                                             layout.channels, y, n),
                   "DequantizePerChannel " + where)) {
        return;
      }
      if (ReportFloatMismatch(ctx, "DequantizePerChannel " + where, expected_y.data(), y, n, dtype, q.data())) return;
      if (!ctx.Check(yout.GuardIntact(), "DequantizePerChannel " + where + ": wrote past the end")) return;
    }
  }
}

void TestPerChannelFloatQParams(Context& ctx, QDType dtype, const ChannelLayout* layouts, size_t layout_count,
                                const int* threads, size_t thread_count, uint64_t seed) {
  Random rng(seed);
  for (size_t li = 0; li < layout_count; ++li) {
    const ChannelLayout& layout = layouts[li];
    const size_t n = Numel(layout), bytes = StorageBytes(dtype, n);
    const FloatChannelParams p = RandomFloatParams(rng, layout.channels);
    const std::vector<float> x = AnyFloats(rng, n);
    std::vector<uint8_t> expected(bytes + 1);
    QuantizePerChannelFloatQParamsRef(x.data(), layout, p.scales.data(), p.zero_points.data(), dtype, expected.data());
    const std::vector<uint8_t> q = RandomStorage(rng, dtype, n);
    std::vector<float> expected_y(n);
    DequantizePerChannelFloatQParamsRef(q.data(), dtype, layout, p.scales.data(), p.zero_points.data(),
                                        expected_y.data());
    for (size_t t = 0; t < thread_count; ++t) {
      SetNumThreads(threads[t]);
      const std::string where = Where(dtype, n, threads[t]) + " " + LayoutName(layout);
      Guarded out(bytes);
      if (!CheckOk(ctx, QuantizePerChannelFloatQParams(x.data(), n, layout, p.scales.data(), p.zero_points.data(),
                                                       layout.channels, dtype, out.data(), out.size),
                   "QuantizePerChannelFloatQParams " + where)) {
        return;
      }
      if (ReportQuantizedMismatch(ctx, "QuantizePerChannelFloatQParams " + where, dtype, expected.data(), out.data(),
                                  n, x.data()))
        return;
      if (!ctx.Check(out.GuardIntact(), "QuantizePerChannelFloatQParams " + where + ": wrote past the end")) return;
      Guarded yout(n * sizeof(float));
      float* y = reinterpret_cast<float*>(yout.data());
      if (!CheckOk(ctx, DequantizePerChannelFloatQParams(q.data(), q.size(), dtype, layout, p.scales.data(),
                                                         p.zero_points.data(), layout.channels, y, n),
                   "DequantizePerChannelFloatQParams " + where)) {
        return;
      }
      if (ReportFloatMismatch(ctx, "DequantizePerChannelFloatQParams " + where, expected_y.data(), y, n, dtype,
                              q.data()))
        return;
    }
  }
}

// ---- registration: per ISA run ------------------------------------------------------------

bool RegisterOpsTests() {
  for (QDType dtype : kAllDTypes) {
    const std::string name = QDTypeName(dtype);
    RegisterTest(Mode::kIsa, "ops/quantize-per-tensor/" + name, [dtype](Context& ctx) {
      if (!RequireIsaLevel(ctx)) return;
      TestQuantizePerTensor(ctx, dtype, kSizes, sizeof(kSizes) / sizeof(kSizes[0]), kThreadCounts, 4,
                            100 + static_cast<int>(dtype));
    });
    RegisterTest(Mode::kIsa, "ops/dequantize-per-tensor/" + name, [dtype](Context& ctx) {
      if (!RequireIsaLevel(ctx)) return;
      TestDequantizePerTensor(ctx, dtype, kSizes, sizeof(kSizes) / sizeof(kSizes[0]), kThreadCounts, 4,
                              200 + static_cast<int>(dtype));
    });
    RegisterTest(Mode::kIsa, "ops/per-channel-affine/" + name, [dtype](Context& ctx) {
      if (!RequireIsaLevel(ctx)) return;
      TestPerChannelAffine(ctx, dtype, kLayouts, sizeof(kLayouts) / sizeof(kLayouts[0]), kThreadCounts, 4,
                           300 + static_cast<int>(dtype));
    });
  }
  for (QDType dtype : kFloatQParamsDTypes) {
    RegisterTest(Mode::kIsa, std::string("ops/per-channel-float-qparams/") + QDTypeName(dtype), [dtype](Context& ctx) {
      if (!RequireIsaLevel(ctx)) return;
      TestPerChannelFloatQParams(ctx, dtype, kLayouts, sizeof(kLayouts) / sizeof(kLayouts[0]), kThreadCounts, 4,
                                 400 + static_cast<int>(dtype));
    });
  }
  return true;
}

const bool kOpsRegistered = RegisterOpsTests();

// ---- MinMax and ChooseQuantizationParams -------------------------------------------------

// The sequential definition MinMax must equal, bit for bit (including which zero's sign wins).
void SequentialMinMax(const std::vector<float>& x, float* min, float* max) {
  float lo = x[0], hi = x[0];
  bool nan = false;
  for (float v : x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    nan |= std::isnan(v);
  }
  *min = nan ? NAN : lo;
  *max = nan ? NAN : hi;
}

void TestMinMax(Context& ctx, const int* threads, size_t thread_count, size_t max_n) {
  Random rng(500);
  for (size_t n : {size_t{1}, size_t{2}, size_t{63}, size_t{1000}, size_t{40000}, size_t{100003}, max_n}) {
    for (int pattern = 0; pattern < 4; ++pattern) {
      std::vector<float> x(n);
      for (float& v : x) v = static_cast<float>(rng.Uniform(-1, 1));
      if (pattern == 1) {  // only zeros of both signs: the result's sign depends on scan order
        for (size_t i = 0; i < n; ++i) x[i] = (rng.Next() & 1) ? 0.0f : -0.0f;
      } else if (pattern == 2) {
        x[rng.Next() % n] = NAN;
      } else if (pattern == 3) {
        x[n - 1] = -std::numeric_limits<float>::infinity();
      }
      float emin, emax;
      SequentialMinMax(x, &emin, &emax);
      for (size_t t = 0; t < thread_count; ++t) {
        SetNumThreads(threads[t]);
        float min = 0, max = 0;
        MinMax(x.data(), n, &min, &max);
        const bool same = BitsOfFloat(min) == BitsOfFloat(emin) && BitsOfFloat(max) == BitsOfFloat(emax);
        if (!ctx.Check(same, "MinMax n=" + std::to_string(n) + " pattern " + std::to_string(pattern) + " threads=" +
                                 std::to_string(threads[t]) + ": expected [" + DescribeFloat(emin) + ", " +
                                 DescribeFloat(emax) + "], got [" + DescribeFloat(min) + ", " + DescribeFloat(max) +
                                 "]")) {
          return;
        }
      }
    }
  }
}

QK_TEST(kIsa, "ops/minmax") { TestMinMax(ctx, kThreadCounts, 4, 70001); }

// ScaleShiftChannels (GoogLeNet's transform_input): the reference's bits on every layout,
// including NaN / infinite / subnormal inputs and constants, at 1-4 threads, nothing written
// past the output.
QK_TEST(kIsa, "ops/scale-shift-channels") {
  Random rng(70101);
  for (const ChannelLayout& layout : kLayouts) {
    const size_t n = Numel(layout);
    const std::vector<float> x = AnyFloats(rng, n);
    std::vector<float> a(layout.channels), b(layout.channels);
    for (size_t c = 0; c < layout.channels; ++c) {
      a[c] = c % 4 == 3 ? rng.AnyFloat() : static_cast<float>(rng.LogUniform(-3, 1));
      b[c] = c % 5 == 4 ? rng.AnyFloat() : static_cast<float>(rng.LogUniform(-3, 0)) * (rng.Next() & 1 ? -1.0f : 1.0f);
    }
    std::vector<float> expected(n);
    ScaleShiftChannelsRef(x.data(), layout, a.data(), b.data(), expected.data());
    for (int threads : kThreadCounts) {
      SetNumThreads(threads);
      const std::string where = "ScaleShiftChannels n=" + std::to_string(n) + " threads=" + std::to_string(threads) + " " + LayoutName(layout);
      Guarded out(n * sizeof(float));
      float* y = reinterpret_cast<float*>(out.data());
      if (!CheckOk(ctx, ScaleShiftChannels(x.data(), n, layout, a.data(), b.data(), layout.channels, y, n), where)) return;
      for (size_t i = 0; i < n; ++i) {
        if (!ctx.Check(BitsOfFloat(expected[i]) == BitsOfFloat(y[i]), where + ": index " + std::to_string(i) + ", x " +
                                                                          DescribeFloat(x[i]) + ", expected " +
                                                                          DescribeFloat(expected[i]) + ", got " + DescribeFloat(y[i]))) {
          return;
        }
      }
      if (!ctx.Check(out.GuardIntact(), where + ": wrote past the end")) return;
    }
  }
  // Errors leave the output untouched.
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const float a[2] = {1, 2}, b[2] = {0, 1};
  float y[6] = {};
  ctx.Check(!ScaleShiftChannels(x, 6, {1, 2, 3}, a, b, 1, y, 6).ok(), "one multiplier for two channels is refused");
  ctx.Check(!ScaleShiftChannels(x, 5, {1, 2, 3}, a, b, 2, y, 6).ok(), "an input shorter than the layout is refused");
  ctx.Check(!ScaleShiftChannels(x, 6, {1, 2, 3}, a, b, 2, y, 5).ok(), "an output shorter than the layout is refused");
  ctx.Check(!ScaleShiftChannels(x, 6, {1, 2, 3}, nullptr, b, 2, y, 6).ok(), "null multipliers are refused");
  ctx.Check(y[0] == 0 && y[5] == 0, "a refused call writes nothing");
}

// ---- errors ------------------------------------------------------------------------------

bool ExpectError(Context& ctx, const Status& status, ErrorKind kind, const std::string& message,
                 const std::string& call) {
  if (status.ok()) return ctx.Check(false, call + ": expected an error, got OK");
  if (!ctx.Check(status.kind() == kind, call + ": wrong error kind for: " + status.message())) return false;
  return ctx.Check(message.empty() || status.message() == message,
                   call + ": message\n        got      '" + status.message() + "'\n        expected '" + message + "'");
}

QK_TEST(kIsa, "ops/errors/quantize-per-tensor") {
  const float x[5] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
  Guarded out(32);
  auto q = [&](double scale, int64_t zp, QDType dtype, size_t out_bytes) {
    return QuantizePerTensor(x, 5, scale, zp, dtype, out.data(), out_bytes);
  };
  const ErrorKind range = ErrorKind::kRangeError, type = ErrorKind::kTypeError;
  ExpectError(ctx, q(-1, 0, QDType::kQUInt8, 5), range, "Expected positive finite number for scale but received -1",
              "scale -1");
  ExpectError(ctx, q(0, 0, QDType::kQUInt8, 5), range, "Expected positive finite number for scale but received 0",
              "scale 0");
  ExpectError(ctx, q(NAN, 0, QDType::kQUInt8, 5), range,
              "Expected positive finite number for scale but received NaN", "scale NaN");
  ExpectError(ctx, q(INFINITY, 0, QDType::kQUInt8, 5), range,
              "Expected positive finite number for scale but received Infinity", "scale Inf");
  ExpectError(ctx, q(0.1, 256, QDType::kQUInt8, 5), range,
              "Expected integer in [0, 255] for zeroPoint but received 256", "zp 256 quint8");
  ExpectError(ctx, q(0.1, -1, QDType::kQUInt8, 5), range, "Expected integer in [0, 255] for zeroPoint but received -1",
              "zp -1 quint8");
  ExpectError(ctx, q(0.1, 128, QDType::kQInt8, 5), range,
              "Expected integer in [-128, 127] for zeroPoint but received 128", "zp 128 qint8");
  ExpectError(ctx, q(0.1, 16, QDType::kQUInt4x2, 3), range,
              "Expected integer in [0, 15] for zeroPoint but received 16", "zp 16 quint4x2");
  ExpectError(ctx, q(0.1, int64_t{1} << 31, QDType::kQInt32, 20), range,
              "Expected integer in [-2147483648, 2147483647] for zeroPoint but received 2147483648", "zp 2^31 qint32");
  ExpectError(ctx, q(0.1, 0, QDType::kQUInt8, 4), range, "Expected at least 5 bytes for output but received 4 bytes",
              "short output quint8");
  ExpectError(ctx, q(0.1, 0, QDType::kQInt32, 19), range, "Expected at least 20 bytes for output but received 19 bytes",
              "short output qint32");
  ExpectError(ctx, q(0.1, 0, QDType::kQUInt4x2, 2), range, "Expected at least 3 bytes for output but received 2 bytes",
              "short output quint4x2 (5 elements need 3 bytes)");
  ExpectError(ctx, QuantizePerTensor(nullptr, 5, 0.1, 0, QDType::kQUInt8, out.data(), 5), type,
              "Expected a buffer for input but received null",
              "null input");
  ExpectError(ctx, QuantizePerTensor(x, 5, 0.1, 0, QDType::kQUInt8, nullptr, 5), type,
              "Expected a buffer for output but received null", "null output");
  ExpectError(ctx, q(0.1, 0, static_cast<QDType>(7), 5), range,
              "Expected one of quint8, qint8, qint32, quint4x2 for dtype but received 7", "dtype 7");
  // qint32 storage of SIZE_MAX / 2 elements overflows size_t: refused before any access.
  ExpectError(ctx, QuantizePerTensor(x, SIZE_MAX / 2, 0.1, 0, QDType::kQInt32, out.data(), 32), range, "",
              "qint32 byte count overflow");
  ctx.Check(out.Untouched(), "an erroring call wrote to its output");
  // Empty tensors are fine, even without buffers.
  ctx.Check(QuantizePerTensor(nullptr, 0, 0.1, 0, QDType::kQUInt8, nullptr, 0).ok(), "empty tensor refused");
}

QK_TEST(kIsa, "ops/errors/dequantize-per-tensor") {
  const uint8_t q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  Guarded out(64);
  float* y = reinterpret_cast<float*>(out.data());
  const ErrorKind range = ErrorKind::kRangeError, type = ErrorKind::kTypeError;
  ExpectError(ctx, DequantizePerTensor(q, 7, QDType::kQUInt8, 8, 0.1, 0, y, 8), range,
              "Expected at least 8 bytes for input but received 7 bytes", "short input");
  ExpectError(ctx, DequantizePerTensor(q, 8, QDType::kQInt32, 3, 0.1, 0, y, 3), range,
              "Expected at least 12 bytes for input but received 8 bytes", "short qint32 input");
  ExpectError(ctx, DequantizePerTensor(q, 8, QDType::kQUInt8, 8, 0.1, 0, y, 7), range,
              "Expected at least 8 elements for output but received 7 elements", "short output");
  ExpectError(ctx, DequantizePerTensor(q, 8, QDType::kQUInt8, 8, -0.5, 0, y, 8), range,
              "Expected positive finite number for scale but received -0.5", "negative scale");
  ExpectError(ctx, DequantizePerTensor(q, 8, QDType::kQInt8, 8, 0.1, -129, y, 8), range,
              "Expected integer in [-128, 127] for zeroPoint but received -129", "zp -129");
  ExpectError(ctx, DequantizePerTensor(nullptr, 8, QDType::kQUInt8, 8, 0.1, 0, y, 8), type,
              "Expected a buffer for input but received null", "null input");
  ExpectError(ctx, DequantizePerTensor(q, 8, QDType::kQUInt8, 8, 0.1, 0, nullptr, 8), type,
              "Expected a buffer for output but received null", "null output");
  ctx.Check(out.Untouched(), "an erroring call wrote to its output");
}

QK_TEST(kIsa, "ops/errors/per-channel") {
  const float x[12] = {0};
  const uint8_t q[12] = {0};
  const double scales[3] = {0.1, 0.2, 0.3};
  const double bad_scales[3] = {0.1, 0.0, 0.3};
  const int64_t zps[3] = {0, 1, 2};
  const int64_t bad_zps[3] = {0, 1, 300};
  const float fscales[3] = {0.1f, 0.2f, 0.3f};
  const float fzps[3] = {0.5f, NAN, 2.0f};
  const float good_fzps[3] = {0.5f, -1.0f, 2.0f};
  const ChannelLayout layout{2, 3, 2};
  Guarded out(64);
  float* y = reinterpret_cast<float*>(out.data());
  const ErrorKind range = ErrorKind::kRangeError, type = ErrorKind::kTypeError;
  ExpectError(ctx, QuantizePerChannel(x, 12, layout, scales, zps, 2, QDType::kQUInt8, out.data(), 12), range,
              "Expected 3 values (one per channel) for scales but received 2 values", "channel count");
  ExpectError(ctx, QuantizePerChannel(x, 12, layout, bad_scales, zps, 3, QDType::kQUInt8, out.data(), 12), range,
              "Expected positive finite number for scales[1] but received 0", "scales[1] = 0");
  ExpectError(ctx, QuantizePerChannel(x, 12, layout, scales, bad_zps, 3, QDType::kQUInt8, out.data(), 12), range,
              "Expected integer in [0, 255] for zeroPoints[2] but received 300", "zeroPoints[2] = 300");
  ExpectError(ctx, QuantizePerChannel(x, 11, layout, scales, zps, 3, QDType::kQUInt8, out.data(), 12), range,
              "Expected at least 12 elements for input but received 11 elements", "short input");
  ExpectError(ctx, QuantizePerChannel(x, 12, layout, scales, zps, 3, QDType::kQInt8, out.data(), 11), range,
              "Expected at least 12 bytes for output but received 11 bytes", "short output");
  ExpectError(ctx, QuantizePerChannel(x, 12, layout, nullptr, zps, 3, QDType::kQUInt8, out.data(), 12), type,
              "Expected an array for scales but received null", "null scales");
  ExpectError(ctx, QuantizePerChannel(x, 12, ChannelLayout{SIZE_MAX / 2, 3, 1}, scales, zps, 3, QDType::kQUInt8,
                                      out.data(), 12),
              range, "", "layout overflow");
  ExpectError(ctx, QuantizePerChannelFloatQParams(x, 12, layout, fscales, good_fzps, 3, QDType::kQInt8, out.data(), 12),
              range, "Expected quint8 or quint4x2 (the dtypes with float zero points) for dtype but received qint8",
              "float qparams qint8");
  ExpectError(ctx, QuantizePerChannelFloatQParams(x, 12, layout, fscales, fzps, 3, QDType::kQUInt8, out.data(), 12),
              range, "Expected finite number for zeroPoints[1] but received NaN", "float zero point NaN");
  ExpectError(ctx, QuantizePerChannelFloatQParams(x, 12, layout, fscales, good_fzps, 3, QDType::kQUInt4x2,
                                                  out.data(), 5),
              range, "Expected at least 6 bytes for output but received 5 bytes", "short quint4x2 output");
  ExpectError(ctx, DequantizePerChannel(q, 12, QDType::kQUInt8, layout, scales, zps, 3, y, 11), range,
              "Expected at least 12 elements for output but received 11 elements", "dequantize short output");
  ExpectError(ctx, DequantizePerChannel(q, 12, QDType::kQInt32, layout, scales, zps, 3, y, 12), range,
              "Expected at least 48 bytes for input but received 12 bytes", "dequantize short qint32 input");
  ExpectError(ctx, DequantizePerChannelFloatQParams(q, 12, QDType::kQUInt8, layout, fscales, fzps, 3, y, 12), range,
              "Expected finite number for zeroPoints[1] but received NaN", "dequantize float zero point NaN");
  ExpectError(ctx, DequantizePerChannel(q, 12, QDType::kQUInt8, ChannelLayout{1, size_t{1} << 33, size_t{1} << 33},
                                        scales, zps, 3, y, 12),
              range, "", "dequantize layout overflow");
  ctx.Check(out.Untouched(), "an erroring call wrote to its output");
}

QK_TEST(kIsa, "ops/errors/choose-qparams") {
  ChosenQParams out{};
  const ErrorKind range = ErrorKind::kRangeError;
  ExpectError(ctx, ChooseQuantizationParams(NAN, 1.0f, QDType::kQUInt8, false, &out), range,
              "Expected finite number for min but received NaN", "min NaN");
  ExpectError(ctx, ChooseQuantizationParams(0.0f, INFINITY, QDType::kQUInt8, false, &out), range,
              "Expected finite number for max but received Infinity", "max Inf");
  ExpectError(ctx, ChooseQuantizationParams(2.0f, 1.0f, QDType::kQInt8, false, &out), range,
              "Expected number <= max (1) for min but received 2", "min > max");
  ExpectError(ctx, ChooseQuantizationParams(0.0f, 1.0f, QDType::kQInt32, false, &out), range,
              "Expected quint8 or qint8 for dtype but received qint32", "qint32");
  ExpectError(ctx, ChooseQuantizationParams(0.0f, 1.0f, QDType::kQUInt8, false, nullptr), ErrorKind::kTypeError, "",
              "null out");
}

QK_TEST(kIsa, "base/checked-arithmetic") {
  size_t out = 0;
  ctx.Check(!CheckedMul(SIZE_MAX / 2 + 1, 2, &out), "CheckedMul overflow not detected");
  ctx.Check(CheckedMul(SIZE_MAX / 2, 2, &out) && out == SIZE_MAX - 1, "CheckedMul largest product");
  ctx.Check(!CheckedAdd(SIZE_MAX, 1, &out), "CheckedAdd overflow not detected");
  ctx.Check(!CheckedBytes(SIZE_MAX / 3, 4, &out), "CheckedBytes overflow not detected");
  const int64_t big[] = {int64_t{1} << 32, int64_t{1} << 32};
  ctx.Check(!CheckedShapeProduct(big, 2, &out), "CheckedShapeProduct 2^32 x 2^32 not refused");
  const int64_t negative[] = {3, -1};
  ctx.Check(!CheckedShapeProduct(negative, 2, &out), "CheckedShapeProduct negative dim not refused");
  const int64_t max_times_three[] = {INT64_MAX, 3};
  ctx.Check(!CheckedShapeProduct(max_times_three, 2, &out), "CheckedShapeProduct INT64_MAX x 3 not refused");
  ctx.Check(CheckedShapeProduct(nullptr, 0, &out) && out == 1, "CheckedShapeProduct of a scalar is 1");
  const int64_t with_zero[] = {0, INT64_MAX, INT64_MAX};
  ctx.Check(CheckedShapeProduct(with_zero, 3, &out) && out == 0, "a zero dim makes the product 0");
  const int64_t shape[] = {2, 3, 7};
  ctx.Check(CheckedShapeProduct(shape, 3, &out) && out == 42, "CheckedShapeProduct 2x3x7");
  size_t bytes = 0;
  ctx.Check(QDTypeStorageBytes(QDType::kQUInt4x2, 7, &bytes) && bytes == 4, "quint4x2 storage of 7 is 4 bytes");
  ctx.Check(!QDTypeStorageBytes(QDType::kQInt32, SIZE_MAX / 2, &bytes), "qint32 storage overflow not refused");
}

// ---- the thread sweep -------------------------------------------------------------------------

const int kSweepThreads[] = {1, 2, 3, 4, 5, 7, 8, 16};
constexpr size_t kSweepThreadCount = sizeof(kSweepThreads) / sizeof(kSweepThreads[0]);
const size_t kSweepSizes[] = {(size_t{1} << 18) + 3, 16384 * 5 + 1, 32768};
const ChannelLayout kSweepLayouts[] = {{3, 7, 12001}, {50003, 5, 1}, {1, 1, size_t{1} << 18}, {64, 33, 129}};

bool RegisterSweepTests() {
  for (QDType dtype : kAllDTypes) {
    const std::string name = QDTypeName(dtype);
    RegisterTest(Mode::kThreadsSweep, "sweep/quantize-per-tensor/" + name, [dtype](Context& ctx) {
      TestQuantizePerTensor(ctx, dtype, kSweepSizes, 3, kSweepThreads, kSweepThreadCount, 600);
    });
    RegisterTest(Mode::kThreadsSweep, "sweep/dequantize-per-tensor/" + name, [dtype](Context& ctx) {
      TestDequantizePerTensor(ctx, dtype, kSweepSizes, 3, kSweepThreads, kSweepThreadCount, 700);
    });
    RegisterTest(Mode::kThreadsSweep, "sweep/per-channel-affine/" + name, [dtype](Context& ctx) {
      TestPerChannelAffine(ctx, dtype, kSweepLayouts, 4, kSweepThreads, kSweepThreadCount, 800);
    });
  }
  for (QDType dtype : kFloatQParamsDTypes) {
    RegisterTest(Mode::kThreadsSweep, std::string("sweep/per-channel-float-qparams/") + QDTypeName(dtype),
                 [dtype](Context& ctx) {
                   TestPerChannelFloatQParams(ctx, dtype, kSweepLayouts, 4, kSweepThreads, kSweepThreadCount, 900);
                 });
  }
  return true;
}

const bool kSweepRegistered = RegisterSweepTests();

QK_TEST(kThreadsSweep, "sweep/minmax") { TestMinMax(ctx, kSweepThreads, kSweepThreadCount, size_t{1} << 18); }

// Two callers quantizing at once while the pool has workers: one gets the pool,
// the other runs inline; both must produce the reference's bytes, and neither may hang.
QK_TEST(kThreadsSweep, "sweep/concurrent-callers") {
  SetNumThreads(4);
  Random rng(1000);
  const size_t n = (size_t{1} << 17) + 5;
  const std::vector<float> x = AnyFloats(rng, n);
  std::vector<uint8_t> expected(n);
  QuantizePerTensorRef(x.data(), n, 0.05, 128, QDType::kQUInt8, expected.data());
  bool ok[2] = {true, true};
  auto caller = [&](int id) {
    std::vector<uint8_t> out(n);
    for (int round = 0; round < 6; ++round) {
      if (!QuantizePerTensor(x.data(), n, 0.05, 128, QDType::kQUInt8, out.data(), n).ok() || out != expected) {
        ok[id] = false;
      }
    }
  };
  std::thread a(caller, 0), b(caller, 1);
  a.join();
  b.join();
  ctx.Check(ok[0] && ok[1], "a concurrent caller got different bytes");
}

}  // namespace
}  // namespace test
}  // namespace qk
