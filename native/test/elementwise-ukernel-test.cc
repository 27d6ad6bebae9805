// Microkernel tests of the elementwise family: every x8_lut and binary kernel the CPU can run, against the scalar formula, exactly.
//
// Only this family's registry lines are expanded. Each kernel sees every n from 1
// to two AVX-512 tiles plus 3 (all loop / tail combinations) and a few large n,
// outputs between guard bytes, inputs in exactly sized heap blocks (over-reads
// show under AddressSanitizer). Lookup tables are random; binary parameters are
// random qparams plus edge ones (zero points at the range ends, output scales so
// small or large that the int32 clip, INT32_MIN conversion and wraparound happen,
// and so small that x reaches 2^63 or infinity and a zero product times an infinite
// multiplier is NaN). The *_binary_tail slots are checked against PyTorch's scalar
// formula (BinaryScalarLoop), the others against its vectorized one.
#include <cstring>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "harness.h"
#include "ukernels/elementwise/elementwise-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kGuard = 64;
constexpr uint8_t kSentinel = 0xA5;
constexpr size_t kMaxSmallN = 2 * 64 + 3;
const size_t kLargeN[] = {256, 1000, 4099};

std::vector<size_t> Sizes() {
  std::vector<size_t> sizes;
  for (size_t n = 1; n <= kMaxSmallN; ++n) sizes.push_back(n);
  for (size_t n : kLargeN) sizes.push_back(n);
  return sizes;
}

// Output bytes with guards on both sides; true when the kernel wrote only its n bytes.
struct Guarded {
  explicit Guarded(size_t n) : n(n), bytes(n + 2 * kGuard, kSentinel) {}
  uint8_t* data() { return bytes.data() + kGuard; }
  bool GuardsIntact() const {
    for (size_t i = 0; i < bytes.size(); ++i) {
      if ((i < kGuard || i >= kGuard + n) && bytes[i] != kSentinel) return false;
    }
    return true;
  }
  size_t n;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> RandomBytes(Random& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng.Next() >> 56);
  return v;
}

void RegisterKernel(const char*, const char* name, Isa isa, LookupX8Fn* kernel) {
  RegisterTest(Mode::kIsa, std::string("elementwise/ukernel/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(SeedFromName(name));
    for (size_t n : Sizes()) {
      const std::vector<uint8_t> table = RandomBytes(rng, 256);
      // Every byte value at every lane position, then random bytes.
      std::vector<uint8_t> x(n);
      for (size_t i = 0; i < n; ++i) x[i] = static_cast<uint8_t>(n < 256 ? (i * 7 + n) : (rng.Next() >> 56));
      Guarded y(n);
      kernel(n, x.data(), table.data(), y.data());
      for (size_t i = 0; i < n; ++i) {
        if (y.data()[i] != table[x[i]]) {
          ctx.Fail(std::string(name) + " n=" + std::to_string(n) + ": index " + std::to_string(i) + ", input " +
                   std::to_string(x[i]) + ", expected " + std::to_string(table[x[i]]) + ", got " +
                   std::to_string(y.data()[i]));
          return;
        }
      }
      if (!ctx.Check(y.GuardsIntact(), std::string(name) + " n=" + std::to_string(n) + " wrote outside its output")) return;
    }
  });
}

std::string DescribeParams(const BinaryParams& p) {
  return std::string(p.multiply ? "mul" : "add") + (p.relu ? "_relu" : "") + " a_scale=" + DescribeFloat(p.a_scale) +
         " a_zp=" + std::to_string(p.a_zero_point) + " b_scale=" + DescribeFloat(p.b_scale) +
         " b_zp=" + std::to_string(p.b_zero_point) + " inv_out=" + DescribeFloat(p.inv_out_scale) +
         " out_zp=" + std::to_string(p.out_zero_point);
}

template <typename T>
BinaryParams RandomBinaryParams(Random& rng, int which) {
  BinaryParams p;
  const int32_t qmin = kTypeMin<T>, qmax = kTypeMax<T>;
  p.a_scale = static_cast<float>(rng.LogUniform(-3, 0));
  p.b_scale = static_cast<float>(rng.LogUniform(-3, 0));
  p.a_zero_point = static_cast<int32_t>(which % 3 == 0 ? qmin : rng.Int(qmin, qmax));
  p.b_zero_point = static_cast<int32_t>(which % 3 == 1 ? qmax : rng.Int(qmin, qmax));
  p.out_zero_point = static_cast<int32_t>(which % 5 == 0 ? qmax : rng.Int(qmin, qmax));
  // Output scales from tiny (products far beyond int32: the clip, INT32_MIN, wraparound; beyond
  // 2^63; an infinite inverse) to huge.
  const double out_scale = which % 7 == 0    ? rng.LogUniform(-14, -10)
                           : which % 11 == 5 ? rng.LogUniform(-24, -17)
                           : which % 13 == 6 ? rng.LogUniform(-44, -39)
                                             : rng.LogUniform(-4, 1);
  p.inv_out_scale = 1.0f / static_cast<float>(out_scale);
  p.a_premul = p.a_scale * -static_cast<float>(p.a_zero_point);
  p.b_premul = p.b_scale * -static_cast<float>(p.b_zero_point);
  p.multiplier = p.a_scale * p.b_scale * p.inv_out_scale;
  p.qmin = qmin;
  p.qmax = qmax;
  p.multiply = which & 1;
  p.relu = (which >> 1) & 1;
  return p;
}

template <typename T>
void RegisterBinary(const char* name, Isa isa, bool tail, void (*kernel)(size_t, const T*, const T*, T*, const BinaryParams*)) {
  RegisterTest(Mode::kIsa, std::string("elementwise/ukernel/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(SeedFromName(name));
    int which = 0;
    for (size_t n : Sizes()) {
      for (int repeat = 0; repeat < 2; ++repeat, ++which) {
        const BinaryParams p = RandomBinaryParams<T>(rng, which);
        std::vector<T> a(n), b(n);
        for (size_t i = 0; i < n; ++i) {
          a[i] = static_cast<T>(rng.Int(kTypeMin<T>, kTypeMax<T>));
          b[i] = static_cast<T>(rng.Int(kTypeMin<T>, kTypeMax<T>));
        }
        std::vector<T> expected(n);
        if (tail) {
          BinaryScalarLoop(n, a.data(), b.data(), expected.data(), p);
        } else {
          BinaryVectorLoop(n, a.data(), b.data(), expected.data(), p);
        }
        Guarded y(n * sizeof(T));
        T* out = reinterpret_cast<T*>(y.data());
        kernel(n, a.data(), b.data(), out, &p);
        for (size_t i = 0; i < n; ++i) {
          if (out[i] != expected[i]) {
            ctx.Fail(std::string(name) + " n=" + std::to_string(n) + " " + DescribeParams(p) + ": index " +
                     std::to_string(i) + ", inputs " + std::to_string(a[i]) + ", " + std::to_string(b[i]) +
                     ", expected " + std::to_string(expected[i]) + ", got " + std::to_string(out[i]));
            return;
          }
        }
        if (!ctx.Check(y.GuardsIntact(), std::string(name) + " n=" + std::to_string(n) + " wrote outside its output")) return;
      }
    }
  });
}

// The tail slots share the function types of the vectorized ones: the slot's name tells the formula.
bool IsTailSlot(const char* slot) { return std::string(slot).find("_tail") != std::string::npos; }
void RegisterKernel(const char* slot, const char* name, Isa isa, BinaryU8Fn* kernel) {
  RegisterBinary<uint8_t>(name, isa, IsTailSlot(slot), kernel);
}
void RegisterKernel(const char* slot, const char* name, Isa isa, BinaryS8Fn* kernel) {
  RegisterBinary<int8_t>(name, isa, IsTailSlot(slot), kernel);
}

bool RegisterAllKernels() {
#define QK_UKERNEL(slot, type, isa, function) RegisterKernel(#slot, #function, Isa::isa, &function);
#include "ukernels/elementwise/registry.inc"  // this family's lines only
#undef QK_UKERNEL
  return true;
}

const bool kKernelsRegistered = RegisterAllKernels();

}  // namespace
}  // namespace test
}  // namespace qk
