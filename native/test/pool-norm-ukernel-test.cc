// Pool-norm microkernels (max, window sum, batch norm) on every ISA against the scalar kernel of their slot, exactly.
//
// Channel counts 1..150 cover every vector tile and tail; row counts 1..5 (0 for sums); outputs
// carry guard bytes after the last channel; batch norm sees extreme alphas (huge, NaN) and fused
// ReLU bounds. A kernel above the run's --isa level is excluded; one the CPU lacks is skipped.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/cpu.h"
#include "harness.h"
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

template <typename T>
void RegisterMaxPool(const char* slot, const char* name, Isa isa, void (*kernel)(size_t, size_t, const T* const*, T*)) {
  auto* scalar = ScalarOf<void(size_t, size_t, const T* const*, T*)>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(11);
    for (size_t channels = 1; channels <= kMaxChannels; ++channels) {
      for (size_t rows = 1; rows <= 5; ++rows) {
        const auto data = RandomRows<T>(rng, rows, channels);
        const auto ptrs = Pointers(data);
        std::vector<T> expected(channels + kGuard, static_cast<T>(0x5A)), got = expected;
        scalar(rows, channels, ptrs.data(), expected.data());
        kernel(rows, channels, ptrs.data(), got.data());
        if (!Compare(ctx, std::string(name) + " rows=" + std::to_string(rows) + " channels=" + std::to_string(channels),
                     expected, got, channels)) {
          return;
        }
      }
    }
  });
}

template <typename T>
void RegisterSumPool(const char* slot, const char* name, Isa isa,
                     void (*kernel)(size_t, size_t, const T* const*, int32_t, int32_t*)) {
  auto* scalar = ScalarOf<void(size_t, size_t, const T* const*, int32_t, int32_t*)>(slot);
  RegisterTest(Mode::kIsa, std::string("pool-norm/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(12);
    for (size_t channels = 1; channels <= kMaxChannels; ++channels) {
      for (size_t rows = 0; rows <= 5; ++rows) {
        const auto data = RandomRows<T>(rng, rows, channels);
        const auto ptrs = Pointers(data);
        const int32_t init = static_cast<int32_t>(rng.Int(-1000, 1000));
        std::vector<int32_t> expected(channels + kGuard, 0x5A5A5A5A), got = expected;
        scalar(rows, channels, ptrs.data(), init, expected.data());
        kernel(rows, channels, ptrs.data(), init, got.data());
        if (!Compare(ctx, std::string(name) + " rows=" + std::to_string(rows) + " channels=" + std::to_string(channels),
                     expected, got, channels)) {
          return;
        }
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

void Register(const char* slot, const char* name, Isa isa, MaxPoolU8Fn* k) { RegisterMaxPool<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, MaxPoolS8Fn* k) { RegisterMaxPool<int8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, SumPoolU8Fn* k) { RegisterSumPool<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, SumPoolS8Fn* k) { RegisterSumPool<int8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, BatchNormU8Fn* k) { RegisterBatchNorm<uint8_t>(slot, name, isa, k); }
void Register(const char* slot, const char* name, Isa isa, BatchNormS8Fn* k) { RegisterBatchNorm<int8_t>(slot, name, isa, k); }
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
