// Microkernel tests: every registered quantize/dequantize kernel the CPU can run, against the reference, exactly.
//
// The registry (ukernels/registry.inc) is expanded here, so a new kernel line is
// tested without touching this file. Each kernel gets the same cases: every n
// from 1 to two of the widest main-loop tiles plus 3, larger n, zero points at
// the range edges, special values, exact half-way cases, and a sweep of random
// bit patterns. Outputs sit between guard bytes filled with a sentinel; inputs
// are exactly sized heap blocks, so an over-read shows under AddressSanitizer.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "harness.h"
#include "reference/quantize-ref.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kGuardBytes = 64;
constexpr uint8_t kSentinel = 0xA5;
// The widest main loop is AVX-512's 64 elements; every n up to two tiles plus 3
// walks each kernel through all of its loop / tail combinations.
constexpr size_t kMaxSmallN = 2 * 64 + 3;
const size_t kLargeN[] = {256, 1000, 4099, 65543};

// An output block with guard bytes on both sides; `offset` (in elements, so the
// output stays aligned to its type) moves it off the vector-width alignment.
template <typename T>
class GuardedOutput {
 public:
  GuardedOutput(size_t n, size_t offset)
      : n_(n), offset_(offset * sizeof(T)), bytes_(2 * kGuardBytes + offset_ + n * sizeof(T), kSentinel) {}
  T* data() { return reinterpret_cast<T*>(bytes_.data() + kGuardBytes + offset_); }
  T at(size_t i) const {
    T v;
    std::memcpy(&v, bytes_.data() + kGuardBytes + offset_ + i * sizeof(T), sizeof(T));
    return v;
  }
  // Fails the case, naming the first clobbered guard byte, when the kernel wrote outside its output.
  bool CheckGuards(Context& ctx, const char* kernel_name) const {
    const size_t begin = kGuardBytes + offset_, end = begin + n_ * sizeof(T);
    for (size_t i = 0; i < bytes_.size(); ++i) {
      if ((i < begin || i >= end) && bytes_[i] != kSentinel) {
        const std::string where = i < begin ? "byte " + std::to_string(begin - i) + " before the output"
                                            : "byte " + std::to_string(i - end) + " after the end";
        ctx.Fail(std::string(kernel_name) + " n=" + std::to_string(n_) + " wrote outside its output: " + where);
        return false;
      }
    }
    return true;
  }

 private:
  size_t n_, offset_;
  std::vector<uint8_t> bytes_;
};

template <typename T>
using QuantizeKernel = void(size_t, const float*, T*, const QuantizeParams*);
template <typename T>
using DequantizeKernel = void(size_t, const T*, float*, const DequantizeParams*);

void QuantizeRef(size_t n, const float* x, uint8_t* y, const QuantizeParams* p) { QuantizeU8Ref(n, x, y, p); }
void QuantizeRef(size_t n, const float* x, int8_t* y, const QuantizeParams* p) { QuantizeS8Ref(n, x, y, p); }
void DequantizeRef(size_t n, const uint8_t* q, float* y, const DequantizeParams* p) { DequantizeU8Ref(n, q, y, p); }
void DequantizeRef(size_t n, const int8_t* q, float* y, const DequantizeParams* p) { DequantizeS8Ref(n, q, y, p); }

std::string DescribeParams(const QuantizeParams& p) {
  return "inv_scale=" + DescribeFloat(p.inv_scale) + " zero_point=" + std::to_string(p.zero_point) +
         " qmin=" + std::to_string(p.qmin) + " qmax=" + std::to_string(p.qmax);
}

std::string DescribeParams(const DequantizeParams& p) {
  return "scale=" + DescribeFloat(p.scale) + " zero_point=" + std::to_string(p.zero_point);
}

// Runs the kernel and the reference on x; reports the first mismatch ruy-style
// (kernel, n, parameters, index, input, expected, got). Returns false on failure.
template <typename T>
bool CheckQuantize(Context& ctx, const char* kernel_name, QuantizeKernel<T>* kernel, const std::vector<float>& x,
                   const QuantizeParams& params, size_t offset = 0) {
  const size_t n = x.size();
  std::vector<T> expected(n);
  QuantizeRef(n, x.data(), expected.data(), &params);
  GuardedOutput<T> out(n, offset);
  kernel(n, x.data(), out.data(), &params);
  for (size_t i = 0; i < n; ++i) {
    if (out.at(i) != expected[i]) {
      ctx.Fail(std::string(kernel_name) + " n=" + std::to_string(n) + " " + DescribeParams(params) + ": index " +
               std::to_string(i) + ", input " + DescribeFloat(x[i]) + ", expected " + std::to_string(expected[i]) +
               ", got " + std::to_string(out.at(i)));
      return false;
    }
  }
  return out.CheckGuards(ctx, kernel_name);
}

template <typename T>
bool CheckDequantize(Context& ctx, const char* kernel_name, DequantizeKernel<T>* kernel, const std::vector<T>& q,
                     const DequantizeParams& params, size_t offset = 0) {
  const size_t n = q.size();
  std::vector<float> expected(n);
  DequantizeRef(n, q.data(), expected.data(), &params);
  GuardedOutput<float> out(n, offset);
  kernel(n, q.data(), out.data(), &params);
  for (size_t i = 0; i < n; ++i) {
    if (BitsOfFloat(out.at(i)) != BitsOfFloat(expected[i])) {
      ctx.Fail(std::string(kernel_name) + " n=" + std::to_string(n) + " " + DescribeParams(params) + ": index " +
               std::to_string(i) + ", input " + std::to_string(q[i]) + ", expected " + DescribeFloat(expected[i]) +
               ", got " + DescribeFloat(out.at(i)));
      return false;
    }
  }
  return out.CheckGuards(ctx, kernel_name);
}

// A random valid parameter set for an output type T (sometimes the quint4x2
// range [0, 15], which the quint8 kernel also serves).
template <typename T>
QuantizeParams RandomQuantizeParams(Random& rng) {
  QuantizeParams p;
  p.qmin = kTypeMin<T>;
  p.qmax = kTypeMax<T>;
  if (std::is_same<T, uint8_t>::value && rng.Next() % 4 == 0) p.qmax = 15;
  p.zero_point = static_cast<int32_t>(rng.Int(p.qmin, p.qmax));
  p.inv_scale = 1.0f / static_cast<float>(rng.LogUniform(-6, 3));
  return p;
}

std::vector<float> RandomFloats(Random& rng, size_t n) {
  std::vector<float> x(n);
  for (float& v : x) v = rng.AnyFloat();
  return x;
}

// Zero points at and next to both ends of the range, the middle, and a few random ones.
std::vector<int32_t> EdgeZeroPoints(int32_t qmin, int32_t qmax, Random& rng) {
  std::vector<int32_t> zps = {qmin, qmin + 1, (qmin + qmax) / 2, (qmin + qmax + 1) / 2, qmax - 1, qmax};
  for (int i = 0; i < 3; ++i) zps.push_back(static_cast<int32_t>(rng.Int(qmin, qmax)));
  return zps;
}

// Reciprocal scales from every corner: exact powers of two, the usual decimals,
// and the degenerate ones the ops can produce (0, inf, denormal reciprocals).
std::vector<float> InvScales(Random& rng) {
  std::vector<float> v = {1.0f, 2.0f, 0.5f, 1.0f / 0.1f, 1.0f / 0.3f, 3.0f, 1.0f / 0.05f, 1e-10f, 1e10f, 0.0f,
                          std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()};
  for (int i = 0; i < 4; ++i) v.push_back(1.0f / static_cast<float>(rng.LogUniform(-8, 4)));
  return v;
}

// Registers "<kernel>/n=1..131": check(ctx, rng, n) three times for every n, up
// to the first failure.
void RegisterSmallNTest(const char* name, Isa isa, const std::function<bool(Context&, Random&, size_t)>& check) {
  const uint64_t seed = SeedFromName(name);
  RegisterTest(Mode::kIsa, std::string(name) + "/n=1.." + std::to_string(kMaxSmallN), [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 1);
    for (size_t n = 1; n <= kMaxSmallN; ++n) {
      for (int trial = 0; trial < 3; ++trial) {
        if (!check(ctx, rng, n)) return;
      }
    }
  });
}

template <typename T>
void RegisterQuantizeKernelTests(const char* name, Isa isa, QuantizeKernel<T>* kernel) {
  const std::string prefix = std::string(name) + "/";
  const uint64_t seed = SeedFromName(name);

  RegisterSmallNTest(name, isa, [=](Context& ctx, Random& rng, size_t n) {
    return CheckQuantize<T>(ctx, name, kernel, RandomFloats(rng, n), RandomQuantizeParams<T>(rng), n % 4);
  });

  RegisterTest(Mode::kIsa, prefix + "large-n", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 2);
    for (size_t n : kLargeN) CheckQuantize<T>(ctx, name, kernel, RandomFloats(rng, n), RandomQuantizeParams<T>(rng), 1);
  });

  RegisterTest(Mode::kIsa, prefix + "zero-points", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 3);
    std::vector<std::pair<int32_t, int32_t>> ranges = {{kTypeMin<T>, kTypeMax<T>}};
    if (std::is_same<T, uint8_t>::value) ranges.push_back({0, 15});  // quint4x2 through the quint8 kernel
    for (const auto& range : ranges) {
      for (int32_t zp : EdgeZeroPoints(range.first, range.second, rng)) {
        for (float inv_scale : {1.0f, 0.5f, 10.0f, 1.0f / 0.3f}) {
          const QuantizeParams p{inv_scale, zp, range.first, range.second};
          // Values that land exactly on, just inside and just outside both clamp bounds.
          std::vector<float> x;
          for (float t = static_cast<float>(range.first - zp) - 3.0f; t <= static_cast<float>(range.second - zp) + 3.0f;
               t += 0.25f) {
            x.push_back(t / inv_scale);
          }
          for (float v : SpecialFloats()) x.push_back(v);
          if (!CheckQuantize<T>(ctx, name, kernel, x, p)) return;
        }
      }
    }
  });

  RegisterTest(Mode::kIsa, prefix + "special-values", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 4);
    for (float inv_scale : InvScales(rng)) {
      for (int32_t zp : EdgeZeroPoints(kTypeMin<T>, kTypeMax<T>, rng)) {
        // Every special value in every lane position: repeat the list at each rotation.
        const std::vector<float> specials = SpecialFloats();
        std::vector<float> x;
        for (size_t r = 0; r < 17; ++r) {
          for (size_t i = 0; i < specials.size(); ++i) x.push_back(specials[(i + r) % specials.size()]);
        }
        if (!CheckQuantize<T>(ctx, name, kernel, x, QuantizeParams{inv_scale, zp, kTypeMin<T>, kTypeMax<T>})) return;
      }
    }
  });

  RegisterTest(Mode::kIsa, prefix + "half-way", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 5);
    // Ties to even decide every value (see HalfWayFloats).
    for (float scale : {1.0f, 0.25f, 4.0f, 0x1p-10f, 0x1p10f}) {
      for (int32_t zp : EdgeZeroPoints(kTypeMin<T>, kTypeMax<T>, rng)) {
        const std::vector<float> x = HalfWayFloats(scale, 400);
        if (!CheckQuantize<T>(ctx, name, kernel, x, QuantizeParams{1.0f / scale, zp, kTypeMin<T>, kTypeMax<T>})) return;
      }
    }
  });

  RegisterTest(Mode::kIsa, prefix + "bit-pattern-sweep", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 6);
    const size_t count = GetOptions().sweep_count;
    const size_t block = 1 << 16;
    for (int trial = 0; trial < 4; ++trial) {
      const QuantizeParams p = RandomQuantizeParams<T>(rng);
      for (size_t done = 0; done < count; done += block) {
        std::vector<float> x(std::min(block, count - done));
        for (float& v : x) v = trial % 2 == 0 ? FloatFromBits(rng.Bits32()) : rng.AnyFloat();
        if (!CheckQuantize<T>(ctx, name, kernel, x, p)) return;
      }
    }
  });
}

template <typename T>
void RegisterDequantizeKernelTests(const char* name, Isa isa, DequantizeKernel<T>* kernel) {
  const std::string prefix = std::string(name) + "/";
  const uint64_t seed = SeedFromName(name);

  RegisterSmallNTest(name, isa, [=](Context& ctx, Random& rng, size_t n) {
    const DequantizeParams p{static_cast<float>(rng.LogUniform(-6, 3)),
                             static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>))};
    return CheckDequantize<T>(ctx, name, kernel, RandomQuantized<T>(rng, n), p, n % 4);
  });

  RegisterTest(Mode::kIsa, prefix + "large-n", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 2);
    for (size_t n : kLargeN) {
      const DequantizeParams p{static_cast<float>(rng.LogUniform(-6, 3)),
                               static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>))};
      CheckDequantize<T>(ctx, name, kernel, RandomQuantized<T>(rng, n), p, 2);
    }
  });

  RegisterTest(Mode::kIsa, prefix + "all-values", [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(seed + 3);
    // Every q at every lane position (257 is odd, so rotations shift each value
    // through all lanes), for edge zero points and scales including 0, inf, NaN.
    std::vector<T> q;
    for (int r = 0; r < 3; ++r) {
      for (int32_t v = kTypeMin<T>; v <= kTypeMax<T>; ++v) q.push_back(static_cast<T>(v));
      q.push_back(static_cast<T>(r));
    }
    std::vector<float> scales = {1.0f, 0.1f, 1.0f / 3.0f, 0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                                 std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::max(),
                                 std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()};
    for (int i = 0; i < 4; ++i) scales.push_back(static_cast<float>(rng.LogUniform(-8, 4)));
    for (float scale : scales) {
      for (int32_t zp : EdgeZeroPoints(kTypeMin<T>, kTypeMax<T>, rng)) {
        if (!CheckDequantize<T>(ctx, name, kernel, q, DequantizeParams{scale, zp})) return;
      }
    }
  });
}

// One registration per registry line; the overload picks the tester by signature.
template <typename T>
void RegisterKernel(const char* name, Isa isa, QuantizeKernel<T>* kernel) {
  RegisterQuantizeKernelTests<T>(name, isa, kernel);
}
template <typename T>
void RegisterKernel(const char* name, Isa isa, DequantizeKernel<T>* kernel) {
  RegisterDequantizeKernelTests<T>(name, isa, kernel);
}

bool RegisterAllKernels() {
#define QK_UKERNEL(slot, type, isa, function) RegisterKernel(#function, Isa::isa, &function);
#include "ukernels/quantize/registry.inc"  // the quantize lines only: other families test their own kernels
#undef QK_UKERNEL
  return true;
}

const bool kKernelsRegistered = RegisterAllKernels();

}  // namespace
}  // namespace test
}  // namespace qk
