// The avx512vnni microkernels, run through the AVX-512 emulation, against the scalar kernel of their slot, bit for bit.
//
// qk_test_avx512emu compiles the kernel sources of native/sources.json's
// isa.avx512vnni unchanged, but with native/test/avx512-emu first on the include
// path and no -mavx512 flag: their <immintrin.h> is immintrin.h in this folder,
// plain C++ that follows Intel's pseudocode. So the real kernel code runs on
// any x86 CPU, and its output is compared with the scalar kernel's (tolerance 0)
// for every quantize/dequantize registry line of level kAvx512Vnni. The binary also
// runs every native/test/*-test.cc at --isa avx512vnni with CPU detection claiming
// AVX-512 (QK_TEST_EMULATED_AVX512), so every family's kernels and ops meet their
// usual tests through the emulated kernels.
//
// Each comparison runs both kernels twice, into outputs prefilled with two
// different sentinels and flanked by guard bytes: an output element the kernel
// leaves unwritten differs from the scalar result in one of the two runs, and
// any byte written outside the output shows. Inputs end at a guard page
// (emu-support.h), so reading past the last element faults.
//
// Run: ctest --test-dir build-native -L emulated, or
//      build-native/qk_test_avx512emu --isa avx512vnni [--filter TEXT] [-v]
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "emu-support.h"
#include "harness.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kGuardBytes = 64;
constexpr uint8_t kSentinels[] = {0xA5, 0x5A};
constexpr size_t kMaxSmallN = 200;  // every n from 0: three 64-element main-loop tiles and all the tails
const size_t kLargeN[] = {1000, 4099, 65543};

template <typename In, typename Out, typename Params>
using Kernel = void(size_t, const In*, Out*, const Params*);

// The scalar kernel of a slot (nullptr when the registry has none).
template <typename Fn>
Fn* ScalarKernelOf(const std::string& slot) {
  Fn* found = nullptr;
#define QK_UKERNEL(kernel_slot, type, isa, function)                            \
  if constexpr (std::is_same<Fn, type>::value && Isa::isa == Isa::kScalar) {    \
    if (slot == #kernel_slot) found = &function;                                \
  }
#include "ukernels/registry.inc"
#undef QK_UKERNEL
  return found;
}

// An emulated kernel and the scalar kernel it must equal.
template <typename In, typename Out, typename Params>
struct KernelPair {
  std::string name;  // the avx512vnni kernel's registry name
  Kernel<In, Out, Params>* emulated;
  Kernel<In, Out, Params>* scalar;
};

std::string Describe(float v) { return DescribeFloat(v); }
std::string Describe(uint8_t v) { return std::to_string(v); }
std::string Describe(int8_t v) { return std::to_string(v); }

std::string Describe(const QuantizeParams& p) {
  return "inv_scale=" + DescribeFloat(p.inv_scale) + " zero_point=" + std::to_string(p.zero_point) + " [" +
         std::to_string(p.qmin) + ", " + std::to_string(p.qmax) + "]";
}

std::string Describe(const DequantizeParams& p) {
  return "scale=" + DescribeFloat(p.scale) + " zero_point=" + std::to_string(p.zero_point);
}

// The kernel's output bytes for x, with kGuardBytes of sentinel before and after;
// `offset` elements of sentinel more in front move the output off its usual alignment.
template <typename In, typename Out, typename Params>
std::vector<uint8_t> GuardedRun(Kernel<In, Out, Params>* kernel, const PageEndArray<In>& x, const Params& params,
                                size_t offset, uint8_t sentinel) {
  std::vector<uint8_t> bytes(2 * kGuardBytes + (offset + x.size()) * sizeof(Out), sentinel);
  kernel(x.size(), x.data(), reinterpret_cast<Out*>(bytes.data() + kGuardBytes + offset * sizeof(Out)), &params);
  return bytes;
}

// Runs both kernels on x; reports the first difference ruy-style (kernel, n,
// parameters, index, input, expected, got). Returns false on a failure.
template <typename In, typename Out, typename Params>
bool Agree(Context& ctx, const KernelPair<In, Out, Params>& pair, const std::vector<In>& x, const Params& params,
           size_t offset = 0) {
  const size_t n = x.size();
  const PageEndArray<In> input(x);
  const std::string where = pair.name + " n=" + std::to_string(n) + " " + Describe(params);
  for (uint8_t sentinel : kSentinels) {
    SetFaultLabel(where);
    const std::vector<uint8_t> expected = GuardedRun(pair.scalar, input, params, offset, sentinel);
    const std::vector<uint8_t> got = GuardedRun(pair.emulated, input, params, offset, sentinel);
    if (got == expected) continue;
    size_t byte = 0;
    while (got[byte] == expected[byte]) ++byte;
    const size_t begin = kGuardBytes + offset * sizeof(Out), end = begin + n * sizeof(Out);
    if (byte < begin || byte >= end) {
      const std::string side = byte < begin ? std::to_string(begin - byte) + " bytes before it"
                                            : "byte " + std::to_string(byte - end) + " after it";
      ctx.Fail(where + ": wrote outside its output, " + side);
      return false;
    }
    const size_t i = (byte - begin) / sizeof(Out);
    Out want, have;
    std::memcpy(&want, &expected[begin + i * sizeof(Out)], sizeof(Out));
    std::memcpy(&have, &got[begin + i * sizeof(Out)], sizeof(Out));
    ctx.Fail(where + ": index " + std::to_string(i) + ", input " + Describe(x[i]) + ", expected " + Describe(want) +
             ", got " + Describe(have) + " (outputs prefilled with byte " + std::to_string(sentinel) + ")");
    return false;
  }
  return true;
}

// Registers "emulated/<kernel>/<case>". A kernel whose slot has no scalar kernel fails every case.
template <typename In, typename Out, typename Params, typename Body>
void RegisterCase(const KernelPair<In, Out, Params>& pair, const std::string& case_name, Body body) {
  const std::string name = "emulated/" + pair.name + "/" + case_name;
  RegisterEmulatedTest(name, [=](Context& ctx) {
    if (pair.scalar == nullptr) {
      ctx.Fail(pair.name + ": its slot has no scalar kernel in ukernels/registry.inc to compare with");
      return;
    }
    Random rng(SeedFromName(name));
    body(ctx, pair, rng);
  });
}

// "n=0..200": every n, three times, each with random input and parameters and the
// output moved off its alignment by n % 4 elements; "large-n": a few long runs.
template <typename In, typename Out, typename Params>
void RegisterSizeCases(const KernelPair<In, Out, Params>& pair, std::vector<In> (*random_input)(Random&, size_t),
                       Params (*random_params)(Random&)) {
  using Pair = KernelPair<In, Out, Params>;
  RegisterCase(pair, "n=0.." + std::to_string(kMaxSmallN), [=](Context& ctx, const Pair& p, Random& rng) {
    for (size_t n = 0; n <= kMaxSmallN; ++n) {
      for (int trial = 0; trial < 3; ++trial) {
        if (!Agree(ctx, p, random_input(rng, n), random_params(rng), n % 4)) return;
      }
    }
  });
  RegisterCase(pair, "large-n", [=](Context& ctx, const Pair& p, Random& rng) {
    for (size_t n : kLargeN) Agree(ctx, p, random_input(rng, n), random_params(rng), 1);
  });
}

// Zero points at and next to both ends of [qmin, qmax], and the middle.
std::vector<int32_t> EdgeZeroPoints(int32_t qmin, int32_t qmax) {
  return {qmin, qmin + 1, qmin + 2, (qmin + qmax) / 2, (qmin + qmax + 1) / 2, qmax - 2, qmax - 1, qmax};
}

// ---- quantize ----------------------------------------------------------------------------

// Output ranges a quantize kernel of type T serves: its own, and for quint8 also
// quint4x2's [0, 15].
template <typename T>
std::vector<std::pair<int32_t, int32_t>> QuantizeRanges() {
  std::vector<std::pair<int32_t, int32_t>> ranges = {{kTypeMin<T>, kTypeMax<T>}};
  if (std::is_same<T, uint8_t>::value) ranges.push_back({0, 15});
  return ranges;
}

template <typename T>
QuantizeParams RandomQuantizeParams(Random& rng) {
  const std::vector<std::pair<int32_t, int32_t>> ranges = QuantizeRanges<T>();
  const auto& range = ranges[rng.Next() % ranges.size()];
  const int32_t zero_point = static_cast<int32_t>(rng.Int(range.first, range.second));
  return {1.0f / static_cast<float>(rng.LogUniform(-6, 3)), zero_point, range.first, range.second};
}

std::vector<float> AnyFloats(Random& rng, size_t n) {
  std::vector<float> x(n);
  for (float& v : x) v = rng.AnyFloat();
  return x;
}

// Reciprocal scales from every corner, the degenerate ones included (0, inf, denormal, max).
std::vector<float> InvScales(Random& rng) {
  std::vector<float> v = {1.0f, 0.5f, 4.0f, 1.0f / 0.3f, 1.0f / 0.007f, 1e-10f, 1e10f, 0.0f,
                          std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()};
  for (int i = 0; i < 3; ++i) v.push_back(1.0f / static_cast<float>(rng.LogUniform(-8, 4)));
  return v;
}

// The floats x whose products x * inv_scale land on and around `target`: the
// quotient and its 4 float neighbours on each side.
void AppendAround(float target, float inv_scale, std::vector<float>* x) {
  float v = target / inv_scale;
  for (int i = 0; i < 4; ++i) v = std::nextafter(v, -std::numeric_limits<float>::infinity());
  for (int i = 0; i < 9; ++i, v = std::nextafter(v, std::numeric_limits<float>::infinity())) x->push_back(v);
}

template <typename T>
void RegisterQuantizeCases(const KernelPair<float, T, QuantizeParams>& pair) {
  using Pair = KernelPair<float, T, QuantizeParams>;

  RegisterSizeCases(pair, AnyFloats, RandomQuantizeParams<T>);

  // Every zero point of every range, with values on, just inside and just outside both clamp bounds.
  RegisterCase(pair, "every-zero-point", [](Context& ctx, const Pair& p, Random&) {
    for (const auto& range : QuantizeRanges<T>()) {
      for (int32_t zp = range.first; zp <= range.second; ++zp) {
        for (float inv_scale : {1.0f, 0.5f, 10.0f, 1.0f / 0.3f}) {
          std::vector<float> x = SpecialFloats();
          const float lo = static_cast<float>(range.first - zp), hi = static_cast<float>(range.second - zp);
          for (float t = lo - 3.0f; t <= hi + 3.0f; t += 0.25f) x.push_back(t / inv_scale);
          if (!Agree(ctx, p, x, QuantizeParams{inv_scale, zp, range.first, range.second})) return;
        }
      }
    }
  });

  // Every special value in every lane position, for every corner of inv_scale and edge zero points.
  RegisterCase(pair, "special-values", [](Context& ctx, const Pair& p, Random& rng) {
    const std::vector<float> specials = SpecialFloats();
    std::vector<float> x;
    for (size_t rotation = 0; rotation < 17; ++rotation) {
      for (size_t i = 0; i < specials.size(); ++i) x.push_back(specials[(i + rotation) % specials.size()]);
    }
    for (float inv_scale : InvScales(rng)) {
      for (int32_t zp : EdgeZeroPoints(kTypeMin<T>, kTypeMax<T>)) {
        if (!Agree(ctx, p, x, QuantizeParams{inv_scale, zp, kTypeMin<T>, kTypeMax<T>})) return;
      }
    }
  });

  // x * inv_scale near 2^24 (where floats stop holding halves), 2^31 and 2^32
  // (int32 conversion limits), 2^63 and 2^64 (the invalid limit), both signs,
  // and near the clamp bounds +-0.5: after scaling, not only before.
  RegisterCase(pair, "scaled-limits", [](Context& ctx, const Pair& p, Random& rng) {
    for (float inv_scale : InvScales(rng)) {
      if (!(inv_scale > 0.0f) || std::isinf(inv_scale)) continue;
      for (int32_t zp : EdgeZeroPoints(kTypeMin<T>, kTypeMax<T>)) {
        std::vector<float> x;
        const float lo = static_cast<float>(kTypeMin<T> - zp), hi = static_cast<float>(kTypeMax<T> - zp);
        for (float target :
             {0x1p24f, 0x1p31f, 0x1p32f, 0x1p63f, 0x1p64f, 1e30f, lo - 0.5f, lo + 0.5f, hi - 0.5f, hi + 0.5f}) {
          AppendAround(target, inv_scale, &x);
          AppendAround(-target, inv_scale, &x);
        }
        if (!Agree(ctx, p, x, QuantizeParams{inv_scale, zp, kTypeMin<T>, kTypeMax<T>})) return;
      }
    }
  });

  // Ties to even decide every value (see HalfWayFloats).
  RegisterCase(pair, "half-way", [](Context& ctx, const Pair& p, Random&) {
    for (float scale : {1.0f, 0.25f, 4.0f, 0x1p-10f, 0x1p10f}) {
      for (int32_t zp : EdgeZeroPoints(kTypeMin<T>, kTypeMax<T>)) {
        const std::vector<float> x = HalfWayFloats(scale, 300);
        if (!Agree(ctx, p, x, QuantizeParams{1.0f / scale, zp, kTypeMin<T>, kTypeMax<T>})) return;
      }
    }
  });

  // Random bit patterns (every float class by its share of the encodings), and random floats of every kind.
  RegisterCase(pair, "bit-pattern-sweep", [](Context& ctx, const Pair& p, Random& rng) {
    const size_t count = GetOptions().sweep_count / 4, block = size_t{1} << 16;
    for (int trial = 0; trial < 4; ++trial) {
      const QuantizeParams params = RandomQuantizeParams<T>(rng);
      for (size_t done = 0; done < count; done += block) {
        std::vector<float> x(std::min(block, count - done));
        for (float& v : x) v = trial % 2 == 0 ? FloatFromBits(rng.Bits32()) : rng.AnyFloat();
        if (!Agree(ctx, p, x, params)) return;
      }
    }
  });
}

// ---- dequantize --------------------------------------------------------------------------

template <typename T>
DequantizeParams RandomDequantizeParams(Random& rng) {
  return {static_cast<float>(rng.LogUniform(-6, 3)), static_cast<int32_t>(rng.Int(kTypeMin<T>, kTypeMax<T>))};
}

template <typename T>
void RegisterDequantizeCases(const KernelPair<T, float, DequantizeParams>& pair) {
  using Pair = KernelPair<T, float, DequantizeParams>;

  RegisterSizeCases(pair, RandomQuantized<T>, RandomDequantizeParams<T>);

  // Every q in every lane position (257 values, so each rotation shifts them one
  // lane on), for every zero point and scales from every class: 0, -0, inf, NaNs, extremes.
  RegisterCase(pair, "every-value-and-zero-point", [](Context& ctx, const Pair& p, Random& rng) {
    std::vector<T> q;
    for (int rotation = 0; rotation < 3; ++rotation) {
      for (int32_t v = kTypeMin<T>; v <= kTypeMax<T>; ++v) q.push_back(static_cast<T>(v));
      q.push_back(static_cast<T>(rotation));
    }
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> scales = {1.0f, 0.1f, 1.0f / 3.0f, 0.0f, -0.0f, inf, -inf,
                                 std::numeric_limits<float>::quiet_NaN(), FloatFromBits(0x7F800001u),
                                 FloatFromBits(0xFFC12345u), std::numeric_limits<float>::max(),
                                 std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), -0.5f};
    for (int i = 0; i < 3; ++i) scales.push_back(static_cast<float>(rng.LogUniform(-8, 4)));
    for (float scale : scales) {
      for (int32_t zp = kTypeMin<T>; zp <= kTypeMax<T>; ++zp) {
        if (!Agree(ctx, p, q, DequantizeParams{scale, zp})) return;
      }
    }
  });
}

// ---- one registration per avx512vnni registry line ----------------------------------------

template <typename T>
void RegisterEmulatedKernel(const char* slot, const char* name, Kernel<float, T, QuantizeParams>* kernel) {
  RegisterQuantizeCases<T>({name, kernel, ScalarKernelOf<Kernel<float, T, QuantizeParams>>(slot)});
}

template <typename T>
void RegisterEmulatedKernel(const char* slot, const char* name, Kernel<T, float, DequantizeParams>* kernel) {
  RegisterDequantizeCases<T>({name, kernel, ScalarKernelOf<Kernel<T, float, DequantizeParams>>(slot)});
}

// Other signatures (GEMM, embedding, ... kernels) are tested by their family's test file
// (native/test/<family>-test.cc), which this binary also runs at --isa avx512vnni.
template <typename Fn>
void RegisterEmulatedKernel(const char*, const char*, Fn*) {}

// Only the avx512vnni lines are compiled in: no other kernel is referenced, or needs a tester.
const bool kKernelsRegistered = [] {
#define QK_UKERNEL(slot, type, isa, function) \
  if constexpr (Isa::isa == Isa::kAvx512Vnni) RegisterEmulatedKernel(#slot, #function, &function);
#include "ukernels/registry.inc"
#undef QK_UKERNEL
  return true;
}();

}  // namespace
}  // namespace test
}  // namespace qk
