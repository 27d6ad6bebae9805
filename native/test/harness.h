// A small self-contained test harness: registered cases, pass/fail/skip counts, and ruy-style mismatch reports.
//
// A case is a function taking a Context. It records failures with Fail() (the
// case keeps running, so one run shows every broken size) or declares itself
// skipped with Skip() — a case that could not run is never counted as passed.
// Cases belong to a mode: the per-ISA run (`--isa <level>`, once per level) or
// the thread sweep (`--threads-sweep`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "base/isa.h"

namespace qk {
namespace test {

enum class Mode { kIsa, kThreadsSweep };

struct Options {
  Isa isa = Isa::kScalar;   // the level a --isa run forces (SetMaxIsa) and tests up to
  size_t sweep_count = 0;   // random floats per quantize kernel in the bit-pattern sweep
  std::string filter;       // run only cases whose name contains this
  bool verbose = false;
};
const Options& GetOptions();

class Context {
 public:
  explicit Context(std::string name) : name_(std::move(name)) {}

  // Records a failure; only the first few messages of a case are printed.
  void Fail(const std::string& message);
  // Marks the case skipped: it applies to this run but could not execute here.
  void Skip(const std::string& reason);
  // Marks the case as not part of this run at all (e.g. a kernel above the
  // --isa level): neither counted nor printed.
  void Exclude() { excluded_ = true; }
  // Shorthands: record a failure when the condition is false.
  bool Check(bool condition, const std::string& message) {
    if (!condition) Fail(message);
    return condition;
  }

  bool failed() const { return failures_ > 0; }
  bool skipped() const { return skipped_; }
  bool excluded() const { return excluded_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int failures_ = 0;
  bool skipped_ = false;
  bool excluded_ = false;
  std::string skip_reason_;
};

using TestFn = std::function<void(Context&)>;

// Adds a case; called from static initializers. Returns true so it can initialize a bool.
bool RegisterTest(Mode mode, std::string name, TestFn fn);

#define QK_TEST_CONCAT_INNER(a, b) a##b
#define QK_TEST_CONCAT(a, b) QK_TEST_CONCAT_INNER(a, b)
// QK_TEST(kIsa, "suite/name") { ... uses ctx ... }
#define QK_TEST(mode, name)                                                                               \
  static void QK_TEST_CONCAT(qk_test_fn_, __LINE__)(::qk::test::Context & ctx);                           \
  static const bool QK_TEST_CONCAT(qk_test_reg_, __LINE__) =                                              \
      ::qk::test::RegisterTest(::qk::test::Mode::mode, name, QK_TEST_CONCAT(qk_test_fn_, __LINE__));      \
  static void QK_TEST_CONCAT(qk_test_fn_, __LINE__)(::qk::test::Context & ctx)

// ---- helpers shared by the test files ---------------------------------------------

// Deterministic generator (splitmix64): the same values on every platform and
// standard library, unlike std::uniform_*_distribution.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t Bits32() { return static_cast<uint32_t>(Next() >> 32); }
  // Uniform integer in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % (static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform double in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Unit(); }
  // 10^u for u uniform in [lo_exp, hi_exp]: scales across many magnitudes.
  double LogUniform(double lo_exp, double hi_exp);
  // A float from every class: random bits, specials, half-way cases, huge, tiny.
  float AnyFloat();

 private:
  uint64_t state_;
};

float FloatFromBits(uint32_t bits);
uint32_t BitsOfFloat(float v);
// "0x7fc00000 (nan)", "0x3f000000 (0.5)": exact and readable.
std::string DescribeFloat(float v);
std::string DescribeDouble(double v);

// Floats every quantize test should see: NaNs, infinities, signed zeros,
// denormals, the largest finite values, 2^31 and 2^63 neighbourhoods.
std::vector<float> SpecialFloats();

// With a power-of-two scale, x = (k + 0.5) * scale makes x * (1 / scale) exactly
// k + 0.5, so round-half-to-even decides each one; their float neighbours check
// that nothing "nearly half" rounds the wrong way. k runs over [-k_max, k_max].
std::vector<float> HalfWayFloats(float scale, int k_max);

// For cases that test whatever Dispatch() selects: skips the case (and returns
// false) when the CPU cannot run the run's --isa level, since dispatch would
// then silently use a lower level that its own run already covers.
bool RequireIsaLevel(Context& ctx);

// FNV-1a of a case's name: a per-kernel seed that is the same on every platform.
uint64_t SeedFromName(const char* name);

// For a microkernel test: excludes kernels above the run's --isa level (and non-native
// ones), skips those this CPU cannot execute; true when the kernel should be tested.
bool Applies(Context& ctx, Isa kernel_isa);

// Thread counts the ops tests compare (the output must not depend on them).
extern const int kThreadCounts[4];

// The value range of an 8-bit storage type (uint8_t, int8_t) as int32.
template <typename T>
constexpr int32_t kTypeMin = std::numeric_limits<T>::min();
template <typename T>
constexpr int32_t kTypeMax = std::numeric_limits<T>::max();

// n uniformly random values over T's whole range.
template <typename T>
std::vector<T> RandomQuantized(Random& rng, size_t n) {
  std::vector<T> q(n);
  for (T& v : q) v = static_cast<T>(rng.Int(kTypeMin<T>, kTypeMax<T>));
  return q;
}

// [batch][a][b] -> [batch][b][a]: contiguous <-> channels_last for the layout tests of the ops.
std::vector<uint8_t> SwapLayout(const std::vector<uint8_t>& v, size_t batch, size_t a, size_t b);

}  // namespace test
}  // namespace qk
