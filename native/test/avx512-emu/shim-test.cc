// Tests of the AVX-512 emulation itself: lane by lane against real AVX2 instructions, and against hand-worked values.
//
// Compiled, like the kernels, with native/test/avx512-emu first on the include
// path: <immintrin.h> below is the emulation. The real instructions are in
// avx2-hardware.cc, which is compiled without it. Where an intrinsic has no
// AVX2 counterpart (VPMOVDB, VPDPBUSD, byte-masked loads), the values its
// Intel pseudocode gives are written out here by hand.
#include <immintrin.h>

#include <algorithm>
#include <cfenv>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "avx2-hardware.h"
#include "base/cpu.h"
#include "emu-support.h"
#include "harness.h"

namespace qk {
namespace test {
namespace {

constexpr int kRoundingModes[] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};

const char* RoundingModeName(int mode) {
  switch (mode) {
    case FE_DOWNWARD: return "downward";
    case FE_UPWARD: return "upward";
    case FE_TOWARDZERO: return "toward zero";
    default: return "to nearest";
  }
}

// Sets a rounding mode (MXCSR.RC on x86) for one scope, and restores round-to-nearest.
class RoundingModeScope {
 public:
  explicit RoundingModeScope(int mode) { std::fesetround(mode); }
  ~RoundingModeScope() { std::fesetround(FE_TONEAREST); }
};

// A cross-check case: skipped, not passed, on a CPU without AVX2.
void RegisterHardwareTest(const std::string& name, const std::function<void(Context&, Random&)>& body) {
  const std::string full_name = "avx512-emu/vs-avx2/" + name;
  RegisterEmulatedTest(full_name, [=](Context& ctx) {
    if (!CpuSupports(GetCpuFeatures(), Isa::kAvx2)) {
      ctx.Skip("this CPU has no AVX2 to check the emulation against");
      return;
    }
    Random rng(SeedFromName(full_name));
    body(ctx, rng);
  });
}

void RegisterSelfTest(const std::string& name, const std::function<void(Context&)>& body) {
  RegisterEmulatedTest("avx512-emu/self/" + name, body);
}

std::string Hex(uint64_t v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%llx", static_cast<unsigned long long>(v));
  return buffer;
}

// ---- input pools --------------------------------------------------------------------

// The harness's special floats (NaNs, infinities, zeros, denormals, extremes,
// ties), plus int32 conversion limits and NaNs with other payloads and signs.
std::vector<float> EdgeFloats() {
  std::vector<float> edges = SpecialFloats();
  for (float v : {2147483520.0f, -2147483648.0f, -2147483904.0f, 0x1p23f, 0x1p23f - 0.5f, 0x1p22f + 0.5f,
                  FloatFromBits(0x7FA00001u), FloatFromBits(0xFF800002u), FloatFromBits(0xFFC00000u)}) {
    edges.push_back(v);
  }
  return edges;
}

// The edges, every integer and tie in [-300, 300], and random floats of every
// class; a multiple of 16 long.
std::vector<float> FloatPool(Random& rng) {
  std::vector<float> pool = EdgeFloats();
  for (int k = -600; k <= 600; ++k) pool.push_back(0.5f * static_cast<float>(k));
  for (int i = 0; i < 256; ++i) pool.push_back(i % 2 == 0 ? FloatFromBits(rng.Bits32()) : rng.AnyFloat());
  while (pool.size() % 16 != 0) pool.push_back(rng.AnyFloat());
  return pool;
}

// The pairs every float binary operation is checked on, as two lists a and b:
// every ordered pair of edges, then random pairs from the pool; a multiple of 16 long.
void FloatPairs(Random& rng, std::vector<float>* a, std::vector<float>* b) {
  const std::vector<float> edges = EdgeFloats(), pool = FloatPool(rng);
  for (float x : edges) {
    for (float y : edges) {
      a->push_back(x);
      b->push_back(y);
    }
  }
  while (a->size() % 16 != 0) {
    a->push_back(pool[rng.Next() % pool.size()]);
    b->push_back(pool[rng.Next() % pool.size()]);
  }
  for (int i = 0; i < 16 * 256; ++i) {
    a->push_back(pool[rng.Next() % pool.size()]);
    b->push_back(pool[rng.Next() % pool.size()]);
  }
}

std::vector<int32_t> Int32Pool(Random& rng, size_t count) {
  std::vector<int32_t> pool = {0, 1, -1, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 0x01000000, 0x00FFFFFF,
                               16777217, -16777217, 2147483584, 2147483520, -2147483584, 0x40000001, 127, -128};
  while (pool.size() < count) pool.push_back(static_cast<int32_t>(rng.Bits32()) >> (rng.Next() % 32));
  return pool;
}

// ---- lane-by-lane comparison ----------------------------------------------------------

std::string Describe(float v) { return DescribeFloat(v); }
std::string Describe(int32_t v) { return std::to_string(v) + " (" + Hex(static_cast<uint32_t>(v)) + ")"; }
std::string Describe(uint8_t v) { return std::to_string(v); }
std::string Describe(int8_t v) { return std::to_string(v); }

// Equal bits, lane by lane; the first mismatch is reported with its inputs (b may be null).
template <typename Out, typename In>
bool SameLanes(Context& ctx, const std::string& what, const Out* emulated, const Out* hardware, size_t lanes,
               const In* a, const In* b, const char* a_name = "a") {
  for (size_t j = 0; j < lanes; ++j) {
    if (std::memcmp(&emulated[j], &hardware[j], sizeof(Out)) == 0) continue;
    std::string inputs = std::string(a_name) + "=" + Describe(a[j]);
    if (b != nullptr) inputs += " b=" + Describe(b[j]);
    ctx.Fail(what + " lane " + std::to_string(j % 16) + ": " + inputs + ", hardware " + Describe(hardware[j]) +
             ", emulated " + Describe(emulated[j]));
    return false;
  }
  return true;
}

// A lane-wise conversion over all of x: the emulated intrinsic 16 lanes at a
// time, the hardware 8 at a time, in the current rounding mode.
template <typename In, typename Out, typename InVector, typename OutVector>
bool CheckConversion(Context& ctx, const std::string& what, const std::vector<In>& x, OutVector (*emulated)(InVector),
                     void (*hardware)(const In*, Out*)) {
  std::vector<Out> got(x.size()), want(x.size());
  for (size_t i = 0; i < x.size(); i += 16) {
    InVector lanes;
    std::memcpy(&lanes, &x[i], 16 * sizeof(In));
    const OutVector result = emulated(lanes);
    std::memcpy(&got[i], &result, 16 * sizeof(Out));
    hardware(&x[i], &want[i]);
    hardware(&x[i + 8], &want[i + 8]);
  }
  return SameLanes<Out, In>(ctx, what, got.data(), want.data(), x.size(), x.data(), nullptr);
}

template <typename In, typename Out, typename InVector, typename OutVector>
void CheckConversionInEveryRoundingMode(Context& ctx, const std::string& what, const std::vector<In>& x,
                                        OutVector (*emulated)(InVector), void (*hardware)(const In*, Out*)) {
  for (int mode : kRoundingModes) {
    const RoundingModeScope scope(mode);
    if (!CheckConversion(ctx, what + " rounding " + RoundingModeName(mode), x, emulated, hardware)) return;
  }
}

using EmulatedBinaryPs = __m512 (*)(__m512, __m512);
using HardwareBinaryPs = void (*)(const float*, const float*, float*);

bool CheckBinaryPs(Context& ctx, const std::string& what, EmulatedBinaryPs emulated, HardwareBinaryPs hardware,
                   const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> got(a.size()), want(a.size());
  for (size_t i = 0; i < a.size(); i += 16) {
    _mm512_storeu_ps(&got[i], emulated(_mm512_loadu_ps(&a[i]), _mm512_loadu_ps(&b[i])));
    hardware(&a[i], &b[i], &want[i]);
    hardware(&a[i + 8], &b[i + 8], &want[i + 8]);
  }
  return SameLanes(ctx, what, got.data(), want.data(), a.size(), a.data(), b.data());
}

// ---- against AVX2 ---------------------------------------------------------------------

const bool kHardwareRegistered = [] {
  RegisterHardwareTest("_mm512_cvtps_epi32", [](Context& ctx, Random& rng) {
    CheckConversionInEveryRoundingMode(ctx, "_mm512_cvtps_epi32", FloatPool(rng), _mm512_cvtps_epi32,
                                       HardwareCvtpsEpi32);
  });

  RegisterHardwareTest("_mm512_cvtepi32_ps", [](Context& ctx, Random& rng) {
    CheckConversionInEveryRoundingMode(ctx, "_mm512_cvtepi32_ps", Int32Pool(rng, 16 * 64), _mm512_cvtepi32_ps,
                                       HardwareCvtepi32Ps);
  });

  RegisterHardwareTest("_mm512_mul_ps", [](Context& ctx, Random& rng) {
    std::vector<float> a, b;
    FloatPairs(rng, &a, &b);
    CheckBinaryPs(ctx, "_mm512_mul_ps", _mm512_mul_ps, HardwareMulPs, a, b);
  });

  RegisterHardwareTest("_mm512_min_ps", [](Context& ctx, Random& rng) {
    std::vector<float> a, b;
    FloatPairs(rng, &a, &b);
    CheckBinaryPs(ctx, "_mm512_min_ps", _mm512_min_ps, HardwareMinPs, a, b);
  });

  RegisterHardwareTest("_mm512_max_ps+mask_max_ps", [](Context& ctx, Random& rng) {
    std::vector<float> a, b;
    FloatPairs(rng, &a, &b);
    if (!CheckBinaryPs(ctx, "_mm512_max_ps", _mm512_max_ps, HardwareMaxPs, a, b)) return;
    // The masked form: the hardware maximum in selected lanes, src (here b reversed) elsewhere.
    std::vector<float> src(b.rbegin(), b.rend()), got(a.size()), want(a.size());
    for (size_t i = 0; i < a.size(); i += 16) {
      const __mmask16 k = static_cast<__mmask16>(rng.Next());
      const __m512 merged = _mm512_loadu_ps(&src[i]);
      _mm512_storeu_ps(&got[i], _mm512_mask_max_ps(merged, k, _mm512_loadu_ps(&a[i]), _mm512_loadu_ps(&b[i])));
      HardwareMaxPs(&a[i], &b[i], &want[i]);
      HardwareMaxPs(&a[i + 8], &b[i + 8], &want[i + 8]);
      for (int j = 0; j < 16; ++j) {
        if (((k >> j) & 1) == 0) want[i + j] = src[i + j];
      }
    }
    SameLanes(ctx, "_mm512_mask_max_ps", got.data(), want.data(), a.size(), a.data(), b.data());
  });

  RegisterHardwareTest("_mm512_cmp_ps_mask", [](Context& ctx, Random& rng) {
    std::vector<float> a, b;
    FloatPairs(rng, &a, &b);
    for (int predicate = 0; predicate < 32; ++predicate) {
      for (size_t i = 0; i < a.size(); i += 16) {
        const __mmask16 got = _mm512_cmp_ps_mask(_mm512_loadu_ps(&a[i]), _mm512_loadu_ps(&b[i]), predicate);
        const unsigned want = HardwareCmpPsMask(&a[i], &b[i], predicate) |
                              (unsigned{HardwareCmpPsMask(&a[i + 8], &b[i + 8], predicate)} << 8);
        if (got == want) continue;
        int j = 0;
        while (((got ^ want) >> j & 1) == 0) ++j;
        ctx.Fail("_mm512_cmp_ps_mask predicate " + std::to_string(predicate) + " lane " + std::to_string(j) + ": a=" +
                 DescribeFloat(a[i + j]) + " b=" + DescribeFloat(b[i + j]) + ", hardware " +
                 std::to_string(want >> j & 1) + ", emulated " + std::to_string(got >> j & 1));
        return;
      }
    }
  });

  RegisterHardwareTest("_mm512_add_epi32+sub_epi32", [](Context& ctx, Random& rng) {
    const std::vector<int32_t> pool = Int32Pool(rng, 64);
    std::vector<int32_t> a, b;
    for (int32_t x : pool) {
      for (int32_t y : pool) {
        a.push_back(x);
        b.push_back(y);
      }
    }
    using Emulated = __m512i (*)(__m512i, __m512i);
    using Hardware = void (*)(const int32_t*, const int32_t*, int32_t*);
    const struct {
      const char* name;
      Emulated emulated;
      Hardware hardware;
    } ops[] = {{"_mm512_add_epi32", _mm512_add_epi32, HardwareAddEpi32},
               {"_mm512_sub_epi32", _mm512_sub_epi32, HardwareSubEpi32}};
    for (const auto& op : ops) {
      std::vector<int32_t> got(a.size()), want(a.size());
      for (size_t i = 0; i < a.size(); i += 16) {
        _mm512_storeu_si512(&got[i], op.emulated(_mm512_loadu_si512(&a[i]), _mm512_loadu_si512(&b[i])));
        op.hardware(&a[i], &b[i], &want[i]);
        op.hardware(&a[i + 8], &b[i + 8], &want[i + 8]);
      }
      if (!SameLanes(ctx, op.name, got.data(), want.data(), a.size(), a.data(), b.data())) return;
    }
  });

  RegisterHardwareTest("_mm512_cvtepu8_epi32+cvtepi8_epi32", [](Context& ctx, Random&) {
    std::vector<uint8_t> unsigned_bytes(256);
    std::vector<int8_t> signed_bytes(256);
    for (int v = 0; v < 256; ++v) {
      unsigned_bytes[v] = static_cast<uint8_t>(v);
      signed_bytes[v] = static_cast<int8_t>(v - 128);
    }
    if (!CheckConversion(ctx, "_mm512_cvtepu8_epi32", unsigned_bytes, _mm512_cvtepu8_epi32, HardwareCvtepu8Epi32)) {
      return;
    }
    CheckConversion(ctx, "_mm512_cvtepi8_epi32", signed_bytes, _mm512_cvtepi8_epi32, HardwareCvtepi8Epi32);
  });

  // The 4-bit embedding kernel reads a row's fp16 scale and bias with F16C: every half,
  // subnormals and NaNs included, four at a time against VCVTPH2PS (8 lanes, the low 4 used).
  RegisterHardwareTest("_mm_cvtph_ps", [](Context& ctx, Random&) {
    for (uint32_t first = 0; first < 0x10000u; first += 4) {
      uint16_t halves[8] = {};
      for (uint32_t k = 0; k < 4; ++k) halves[k] = static_cast<uint16_t>(first + k);
      __m128i packed{};
      std::memcpy(&packed, halves, 8);
      float got[4], want[8];
      const __m128 converted = _mm_cvtph_ps(packed);
      std::memcpy(got, &converted, 16);
      HardwareCvtphPs(halves, want);
      for (int k = 0; k < 4; ++k) {
        if (BitsOfFloat(got[k]) != BitsOfFloat(want[k])) {
          ctx.Fail("_mm_cvtph_ps of " + Hex(halves[k]) + ": emulated " + DescribeFloat(got[k]) + ", hardware " +
                   DescribeFloat(want[k]));
          return;
        }
      }
    }
  });

  RegisterHardwareTest("_mm512_maskz_loadu_ps+mask_storeu_ps", [](Context& ctx, Random& rng) {
    std::vector<float> values(16);
    for (float& v : values) v = rng.AnyFloat();
    const PageEndArray<float> memory(values);
    for (int trial = 0; trial < 512; ++trial) {
      const __mmask16 k = static_cast<__mmask16>(trial < 17 ? (1u << trial) - 1u : rng.Next());
      float got[16], want[16];
      _mm512_storeu_ps(got, _mm512_maskz_loadu_ps(k, memory.data()));
      HardwareMaskLoadPs(memory.data(), static_cast<uint8_t>(k), want);
      HardwareMaskLoadPs(memory.data() + 8, static_cast<uint8_t>(k >> 8), want + 8);
      if (!SameLanes<float, float>(ctx, "_mm512_maskz_loadu_ps k=" + Hex(k), got, want, 16, values.data(), nullptr)) {
        return;
      }

      std::vector<float> stored_emulated(16, -1.0f), stored_hardware(16, -1.0f);
      _mm512_mask_storeu_ps(stored_emulated.data(), k, _mm512_loadu_ps(values.data()));
      HardwareMaskStorePs(stored_hardware.data(), static_cast<uint8_t>(k), values.data());
      HardwareMaskStorePs(stored_hardware.data() + 8, static_cast<uint8_t>(k >> 8), values.data() + 8);
      if (!SameLanes<float, float>(ctx, "_mm512_mask_storeu_ps k=" + Hex(k), stored_emulated.data(),
                                   stored_hardware.data(), 16, values.data(), nullptr)) {
        return;
      }
    }
  });

  RegisterHardwareTest("_mm512_dpbusd_epi32", [](Context& ctx, Random& rng) {
    const std::vector<int32_t> sources = Int32Pool(rng, 16 * 64);
    const uint8_t edge_bytes[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF};
    for (size_t i = 0; i < sources.size(); i += 16) {
      uint8_t a[64], b[64];
      for (int byte = 0; byte < 64; ++byte) {
        const bool edge = i % 32 == 0;  // every other block: only the extreme bytes, so sums reach their limits
        a[byte] = edge ? edge_bytes[rng.Next() % 6] : static_cast<uint8_t>(rng.Next());
        b[byte] = edge ? edge_bytes[rng.Next() % 6] : static_cast<uint8_t>(rng.Next());
      }
      int32_t got[16], want[16];
      _mm512_storeu_si512(got, _mm512_dpbusd_epi32(_mm512_loadu_si512(&sources[i]), _mm512_loadu_si512(a),
                                                   _mm512_loadu_si512(b)));
      for (int half = 0; half < 2; ++half) {
        const int8_t* b_half = reinterpret_cast<const int8_t*>(b + 32 * half);
        HardwareDotBytesUnsignedSigned(&sources[i + 8 * half], a + 32 * half, b_half, want + 8 * half);
      }
      if (!SameLanes<int32_t, int32_t>(ctx, "_mm512_dpbusd_epi32", got, want, 16, &sources[i], nullptr, "src")) return;
    }
  });
  return true;
}();

// ---- hand-worked values ---------------------------------------------------------------

// 16 lanes from a list (the rest 0).
__m512 FloatVector(const std::vector<float>& lanes) {
  float v[16] = {};
  std::memcpy(v, lanes.data(), std::min<size_t>(lanes.size(), 16) * sizeof(float));
  return _mm512_loadu_ps(v);
}

__m512i Int32Vector(const std::vector<int32_t>& lanes) {
  int32_t v[16] = {};
  std::memcpy(v, lanes.data(), std::min<size_t>(lanes.size(), 16) * sizeof(int32_t));
  return _mm512_loadu_si512(v);
}

// The first lanes of a result against what the pseudocode gives.
template <typename Lane, typename Vector>
void ExpectLanes(Context& ctx, const std::string& what, const Vector& result, const std::vector<Lane>& expected) {
  Lane got[sizeof(Vector) / sizeof(Lane)];
  std::memcpy(got, &result, sizeof(Vector));
  for (size_t j = 0; j < expected.size(); ++j) {
    if (std::memcmp(&got[j], &expected[j], sizeof(Lane)) != 0) {
      ctx.Fail(what + " lane " + std::to_string(j) + ": expected " + Describe(expected[j]) + ", got " +
               Describe(got[j]));
    }
  }
}

const float kInf = std::numeric_limits<float>::infinity();
const float kQuietNaN = FloatFromBits(0x7FC00000u);
const float kSignallingNaN = FloatFromBits(0x7F800001u);

const bool kSelfRegistered = [] {
  RegisterSelfTest("_mm512_cvtps_epi32", [](Context& ctx) {
    const std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, 8388607.5f,
                                  2147483520.0f, 0x1p31f, -0x1p31f, -2147483904.0f, kQuietNaN, kInf, -kInf, 1e20f};
    ExpectLanes<int32_t>(ctx, "_mm512_cvtps_epi32", _mm512_cvtps_epi32(FloatVector(x)),
                         {0, 2, 2, 0, -2, -2, 0, 8388608, 2147483520, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                          INT32_MIN, INT32_MIN, INT32_MIN});
    const std::vector<float> y = {0.5f, -0.5f, 1.5f, -1.5f, std::numeric_limits<float>::denorm_min()};
    const struct {
      int mode;
      std::vector<int32_t> expected;
    } modes[] = {{FE_UPWARD, {1, 0, 2, -1, 1}}, {FE_DOWNWARD, {0, -1, 1, -2, 0}}, {FE_TOWARDZERO, {0, 0, 1, -1, 0}}};
    for (const auto& m : modes) {
      const RoundingModeScope scope(m.mode);
      ExpectLanes<int32_t>(ctx, std::string("_mm512_cvtps_epi32 rounding ") + RoundingModeName(m.mode),
                           _mm512_cvtps_epi32(FloatVector(y)), m.expected);
    }
  });

  RegisterSelfTest("_mm512_min_ps+max_ps+mask_max_ps", [](Context& ctx) {
    // MAX/MIN(SRC1, SRC2) give SRC2 when either is NaN or both are zeros, untouched (a signalling NaN stays so).
    const __m512 a = FloatVector({kQuietNaN, 1.0f, 0.0f, -0.0f, kSignallingNaN, 1.0f, 2.0f, 1.0f});
    const __m512 b = FloatVector({1.0f, kQuietNaN, -0.0f, 0.0f, kQuietNaN, kSignallingNaN, 1.0f, 2.0f});
    ExpectLanes<float>(ctx, "_mm512_max_ps", _mm512_max_ps(a, b),
                       {1.0f, kQuietNaN, -0.0f, 0.0f, kQuietNaN, kSignallingNaN, 2.0f, 2.0f});
    ExpectLanes<float>(ctx, "_mm512_min_ps", _mm512_min_ps(a, b),
                       {1.0f, kQuietNaN, -0.0f, 0.0f, kQuietNaN, kSignallingNaN, 1.0f, 1.0f});
    const __m512 src = _mm512_set1_ps(-7.0f);
    ExpectLanes<float>(ctx, "_mm512_mask_max_ps", _mm512_mask_max_ps(src, 0x00C1, a, b),
                       {1.0f, -7.0f, -7.0f, -7.0f, -7.0f, -7.0f, 2.0f, 2.0f, -7.0f});
  });

  RegisterSelfTest("_mm512_mul_ps+abs_ps", [](Context& ctx) {
    const float denorm = std::numeric_limits<float>::denorm_min();
    const float normal_min = std::numeric_limits<float>::min();
    const float payload_a = FloatFromBits(0x7F800123u), payload_b = FloatFromBits(0xFFC00456u);
    // First source NaN wins, returned quiet; 0 * inf is the default NaN; no flush to zero; ties to even.
    const __m512 a = FloatVector({payload_a, 1.0f, 0.0f, denorm, normal_min, 3.0f, -0.0f, payload_b});
    const __m512 b = FloatVector({payload_b, payload_a, kInf, 0.5f, 0.5f, -2.0f, 5.0f, payload_a});
    ExpectLanes<float>(ctx, "_mm512_mul_ps", _mm512_mul_ps(a, b),
                       {FloatFromBits(0x7FC00123u), FloatFromBits(0x7FC00123u), FloatFromBits(0xFFC00000u), 0.0f,
                        FloatFromBits(0x00400000u), -6.0f, -0.0f, payload_b});
    const __m512 signed_values = FloatVector({-0.0f, -kInf, FloatFromBits(0xFFC00456u), -1.5f, 2.0f});
    ExpectLanes<float>(ctx, "_mm512_abs_ps", _mm512_abs_ps(signed_values),
                       {0.0f, kInf, FloatFromBits(0x7FC00456u), 1.5f, 2.0f});
  });

  RegisterSelfTest("_mm512_cmp_ps_mask", [](Context& ctx) {
    const __m512 a = FloatVector({1.0f, 2.0f, kQuietNaN, 0.0f, 1.0f});
    const __m512 b = FloatVector({2.0f, 2.0f, 1.0f, -0.0f, kQuietNaN});
    // Lanes 5..15 are 0 vs 0: equal.
    const struct {
      int predicate;
      unsigned expected;
    } cases[] = {{_CMP_LT_OQ, 0x0001}, {_CMP_LE_OS, 0xFFEB}, {_CMP_EQ_OQ, 0xFFEA}, {_CMP_NLT_US, 0xFFFE},
                 {_CMP_UNORD_Q, 0x0014}, {_CMP_NEQ_UQ, 0x0015}, {_CMP_NEQ_OQ, 0x0001}, {_CMP_GT_OQ, 0x0000},
                 {_CMP_TRUE_US, 0xFFFF}, {_CMP_FALSE_OQ, 0x0000}};
    for (const auto& c : cases) {
      const unsigned got = _mm512_cmp_ps_mask(a, b, c.predicate);
      ctx.Check(got == c.expected, "_mm512_cmp_ps_mask predicate " + std::to_string(c.predicate) + ": expected " +
                                       Hex(c.expected) + ", got " + Hex(got));
    }
  });

  RegisterSelfTest("_mm512_cvtepi32_epi8+mask_cvtepi32_storeu_epi8", [](Context& ctx) {
    const __m512i a = Int32Vector({0x12345680, -1, 256, 255, -128, 127, INT32_MIN, INT32_MAX, 0x1FF, -129});
    const std::vector<uint8_t> truncated = {0x80, 0xFF, 0x00, 0xFF, 0x80, 0x7F, 0x00, 0xFF,
                                            0xFF, 0x7F, 0,    0,    0,    0,    0,    0};
    uint8_t got[16];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(got), _mm512_cvtepi32_epi8(a));
    ctx.Check(std::memcmp(got, truncated.data(), 16) == 0, "_mm512_cvtepi32_epi8: not the low byte of each dword");
    // A masked store writes the selected bytes only; the last selected one ends at a guard page.
    for (unsigned k : {0x0000u, 0x0001u, 0x00FFu, 0x7FFFu, 0xFFFFu, 0xA5A5u, 0x8001u}) {
      const size_t extent = k == 0 ? 0 : 32 - static_cast<size_t>(__builtin_clz(k));  // bytes up to the last selected
      PageEndArray<uint8_t> memory(std::vector<uint8_t>(extent, 0xEE));
      SetFaultLabel("_mm512_mask_cvtepi32_storeu_epi8 k=" + Hex(k));
      _mm512_mask_cvtepi32_storeu_epi8(memory.data(), static_cast<__mmask16>(k), a);
      for (size_t j = 0; j < extent; ++j) {
        const uint8_t want = (k >> j & 1) != 0 ? truncated[j] : 0xEE;
        if (!ctx.Check(memory.data()[j] == want, "_mm512_mask_cvtepi32_storeu_epi8 k=" + Hex(k) + " byte " +
                                                     std::to_string(j) + ": got " + Hex(memory.data()[j]))) {
          return;
        }
      }
    }
  });

  RegisterSelfTest("masked-loads-read-selected-lanes-only", [](Context& ctx) {
    // For every prefix mask, the data ends at a guard page right after the last
    // selected lane: reading any masked-off lane above it would fault.
    for (size_t m = 0; m <= 16; ++m) {
      const __mmask16 k = static_cast<__mmask16>((1u << m) - 1u);
      std::vector<float> floats(m);
      std::vector<uint8_t> bytes(m);
      for (size_t j = 0; j < m; ++j) {
        floats[j] = static_cast<float>(j) + 0.25f;
        bytes[j] = static_cast<uint8_t>(0xF0 + j);
      }
      const PageEndArray<float> float_memory(floats);
      const PageEndArray<uint8_t> byte_memory(bytes);
      SetFaultLabel("masked loads with the first " + std::to_string(m) + " lanes selected");
      floats.resize(16, 0.0f);
      bytes.resize(16, 0);
      ExpectLanes<float>(ctx, "_mm512_maskz_loadu_ps m=" + std::to_string(m),
                         _mm512_maskz_loadu_ps(k, float_memory.data()), floats);
      uint8_t got[16];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(got), _mm_maskz_loadu_epi8(k, byte_memory.data()));
      ctx.Check(std::memcmp(got, bytes.data(), 16) == 0,
                "_mm_maskz_loadu_epi8 m=" + std::to_string(m) + ": masked-off bytes not zero or selected ones wrong");

      // The store counterpart: selected lanes only, ending at the guard page.
      PageEndArray<float> store_memory(std::vector<float>(m, -3.0f));
      _mm512_mask_storeu_ps(store_memory.data(), k, _mm512_set1_ps(9.0f));
      for (size_t j = 0; j < m; ++j) ctx.Check(store_memory.data()[j] == 9.0f, "_mm512_mask_storeu_ps missed a lane");
    }
    // A sparse mask: only lanes 1 and 14 are read or written.
    const float values[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    ExpectLanes<float>(ctx, "_mm512_maskz_loadu_ps k=0x4002", _mm512_maskz_loadu_ps(0x4002, values),
                       {0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0});
    float stored[16];
    for (float& v : stored) v = -1.0f;
    _mm512_mask_storeu_ps(stored, 0x4002, _mm512_loadu_ps(values));
    for (int j = 0; j < 16; ++j) {
      const float want = j == 1 || j == 14 ? values[j] : -1.0f;
      ctx.Check(stored[j] == want, "_mm512_mask_storeu_ps k=0x4002 lane " + std::to_string(j));
    }
  });

  RegisterSelfTest("_mm512_add_epi32+sub_epi32+cvtepu8_cvtepi8", [](Context& ctx) {
    const __m512i a = Int32Vector({INT32_MAX, INT32_MIN, -1, 5});
    const __m512i b = Int32Vector({1, 1, 1, -7});
    ExpectLanes<int32_t>(ctx, "_mm512_add_epi32", _mm512_add_epi32(a, b), {INT32_MIN, INT32_MIN + 1, 0, -2});
    ExpectLanes<int32_t>(ctx, "_mm512_sub_epi32", _mm512_sub_epi32(a, b), {INT32_MAX - 1, INT32_MAX, -2, 12});
    const uint8_t raw[16] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE};
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(raw));
    ExpectLanes<int32_t>(ctx, "_mm512_cvtepu8_epi32", _mm512_cvtepu8_epi32(bytes), {0, 1, 127, 128, 255, 254, 0});
    ExpectLanes<int32_t>(ctx, "_mm512_cvtepi8_epi32", _mm512_cvtepi8_epi32(bytes), {0, 1, 127, -128, -1, -2, 0});
  });

  RegisterSelfTest("_mm512_dpbusd_epi32+mask+maskz", [](Context& ctx) {
    // Per dword j: a's four bytes (unsigned) times b's four bytes (signed), plus src, wrapping.
    uint8_t a[64] = {}, b[64] = {};
    int32_t src[16] = {};
    auto set = [&](int j, int32_t s, std::vector<int> a_bytes, std::vector<int> b_bytes) {
      src[j] = s;
      for (int i = 0; i < 4; ++i) {
        a[4 * j + i] = static_cast<uint8_t>(a_bytes[i]);
        b[4 * j + i] = static_cast<uint8_t>(static_cast<int8_t>(b_bytes[i]));
      }
    };
    set(0, 0, {255, 255, 255, 255}, {127, 127, 127, 127});        // 4 * 32385
    set(1, 0, {255, 255, 255, 255}, {-128, -128, -128, -128});    // 4 * -32640
    set(2, 100, {1, 2, 3, 4}, {5, -6, 7, -8});                    // 100 + 5 - 12 + 21 - 32
    set(3, 0, {128, 128, 128, 128}, {-1, -1, -1, -1});            // a unsigned: 0x80 is 128, not -128
    set(4, INT32_MAX, {1, 0, 0, 0}, {1, 0, 0, 0});                // wraps to INT32_MIN
    set(5, INT32_MIN, {255, 0, 0, 0}, {-128, 0, 0, 0});           // INT32_MIN - 32640 wraps to 2^31 - 32640
    set(6, -7, {0, 0, 0, 0}, {0, 0, 0, 0});
    set(7, INT32_MAX, {255, 255, 255, 255}, {127, 127, 127, 127});  // INT32_MAX + 129540 wraps
    for (int j = 8; j < 16; ++j) set(j, -j, {j, j, 0, 1}, {1, -1, 100, j});  // -j + j - j + 0 + j = 0
    const std::vector<int32_t> expected = {129540, -130560, 82, -512, INT32_MIN, 2147451008, -7, -2147354109,
                                           0, 0, 0, 0, 0, 0, 0, 0};
    const __m512i s = _mm512_loadu_si512(src), x = _mm512_loadu_si512(a), y = _mm512_loadu_si512(b);
    ExpectLanes<int32_t>(ctx, "_mm512_dpbusd_epi32", _mm512_dpbusd_epi32(s, x, y), expected);
    std::vector<int32_t> merged(expected), zeroed(expected);
    for (int j = 1; j < 16; j += 2) {
      merged[j] = src[j];
      zeroed[j] = 0;
    }
    ExpectLanes<int32_t>(ctx, "_mm512_mask_dpbusd_epi32", _mm512_mask_dpbusd_epi32(s, 0x5555, x, y), merged);
    ExpectLanes<int32_t>(ctx, "_mm512_maskz_dpbusd_epi32", _mm512_maskz_dpbusd_epi32(0x5555, s, x, y), zeroed);
    ExpectLanes<int32_t>(ctx, "_mm512_setzero_si512", _mm512_setzero_si512(), std::vector<int32_t>(16, 0));
  });

  // The depthwise kernel's full-block path: byte unpacks per 128-bit lane, zero extension,
  // 128-bit lane selection, unsigned saturating packs per lane, dword permutation.
  RegisterSelfTest("_mm256_unpack{lo,hi}_epi8+_mm512_cvtepu8_epi16", [](Context& ctx) {
    uint8_t a[32], b[32];
    for (int i = 0; i < 32; ++i) {
      a[i] = static_cast<uint8_t>(i);
      b[i] = static_cast<uint8_t>(200 + i);
    }
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    std::vector<uint16_t> lo, hi;
    for (int lane = 0; lane < 2; ++lane) {
      for (int i = 0; i < 8; ++i) {
        lo.insert(lo.end(), {static_cast<uint16_t>(16 * lane + i), static_cast<uint16_t>(200 + 16 * lane + i)});
        hi.insert(hi.end(), {static_cast<uint16_t>(16 * lane + 8 + i), static_cast<uint16_t>(208 + 16 * lane + i)});
      }
    }
    ExpectLanes<uint16_t>(ctx, "_mm256_unpacklo_epi8", _mm512_cvtepu8_epi16(_mm256_unpacklo_epi8(x, y)), lo);
    ExpectLanes<uint16_t>(ctx, "_mm256_unpackhi_epi8", _mm512_cvtepu8_epi16(_mm256_unpackhi_epi8(x, y)), hi);
    uint8_t stored[32];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(stored), y);
    ctx.Check(std::memcmp(stored, b, 32) == 0, "_mm256_storeu_si256: not the 32 bytes loaded");
  });

  // The depthwise quad path's 256-bit forms: each equals the low 8 lanes (or two 128-bit lanes)
  // of its 512-bit counterpart on the same data, NaNs, signed zeros and saturation included.
  RegisterSelfTest("_mm256 forms of the depthwise quad path", [](Context& ctx) {
    const auto Bits256 = [](const __m256& v) {  // the emulation has no cast intrinsic for it
      __m256i bits;
      std::memcpy(&bits, &v, 32);
      return bits;
    };
    const std::vector<float> fa = {kQuietNaN, 1.5f, -0.0f, 3e38f, -2.5f, kSignallingNaN, 0.5f, -7.25f};
    const std::vector<float> fb = {2.0f, kQuietNaN, 0.0f, 1e10f, -2.5f, 1.0f, -0.5f, 1e-3f};
    const std::vector<int32_t> ia = {0, -1, 2147483647, -2147483647 - 1, 70000, -70000, 255, 256};
    const std::vector<int32_t> ib = {5, 1, 1, -1, 3, -3, -255, 65536};
    const auto ymm_ps = [](const std::vector<float>& v) { return _mm256_loadu2_m128(v.data() + 4, v.data()); };
    const auto ymm_i = [](const std::vector<int32_t>& v) {
      return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(v.data() + 4), reinterpret_cast<const __m128i*>(v.data()));
    };
    const auto low = [](const auto& wide) {
      std::vector<int32_t> lanes(8);
      std::memcpy(lanes.data(), &wide, 32);
      return lanes;
    };
    const __m256 a = ymm_ps(fa), b = ymm_ps(fb);
    const __m512 za = FloatVector(fa), zb = FloatVector(fb);
    ExpectLanes<int32_t>(ctx, "_mm256_add_ps", Bits256(_mm256_add_ps(a, b)), low(_mm512_add_ps(za, zb)));
    ExpectLanes<int32_t>(ctx, "_mm256_mul_ps", Bits256(_mm256_mul_ps(a, b)), low(_mm512_mul_ps(za, zb)));
    ExpectLanes<int32_t>(ctx, "_mm256_min_ps", Bits256(_mm256_min_ps(a, b)), low(_mm512_min_ps(za, zb)));
    ExpectLanes<int32_t>(ctx, "_mm256_max_ps", Bits256(_mm256_max_ps(a, b)), low(_mm512_max_ps(za, zb)));
    ExpectLanes<int32_t>(ctx, "_mm256_cvtps_epi32", _mm256_cvtps_epi32(a), low(_mm512_cvtps_epi32(za)));
    const __m256i x = ymm_i(ia), y = ymm_i(ib);
    const __m512i zx = Int32Vector(ia), zy = Int32Vector(ib);
    ExpectLanes<int32_t>(ctx, "_mm256_cvtepi32_ps", Bits256(_mm256_cvtepi32_ps(x)), low(_mm512_cvtepi32_ps(zx)));
    ExpectLanes<int32_t>(ctx, "_mm256_add_epi32", _mm256_add_epi32(x, y), low(_mm512_add_epi32(zx, zy)));
    ExpectLanes<int32_t>(ctx, "_mm256_sub_epi32", _mm256_sub_epi32(x, y), low(_mm512_sub_epi32(zx, zy)));
    ExpectLanes<int32_t>(ctx, "_mm256_packus_epi32", _mm256_packus_epi32(x, y), low(_mm512_packus_epi32(zx, zy)));
    ExpectLanes<int32_t>(ctx, "_mm256_packus_epi16", _mm256_packus_epi16(x, y), low(_mm512_packus_epi16(zx, zy)));
    ExpectLanes<int32_t>(ctx, "_mm256_dpbusd_epi32", _mm256_dpbusd_epi32(x, y, x), low(_mm512_dpbusd_epi32(zx, zy, zx)));
    ExpectLanes<int32_t>(ctx, "_mm256_set1_epi32", _mm256_set1_epi32(-9), std::vector<int32_t>(8, -9));
    ExpectLanes<int32_t>(ctx, "_mm256_set1_epi8", _mm256_set1_epi8(static_cast<char>(0x81)),
                         std::vector<int32_t>(8, static_cast<int32_t>(0x81818181u)));
    ExpectLanes<int32_t>(ctx, "_mm256_setzero_si256", _mm256_setzero_si256(), std::vector<int32_t>(8, 0));
    ExpectLanes<float>(ctx, "_mm256_set1_ps", _mm256_set1_ps(-0.0f), std::vector<float>(8, -0.0f));
    // Words interleaved per 128-bit lane: lo takes words 0-3 of each lane, hi words 4-7.
    ExpectLanes<int32_t>(ctx, "_mm256_unpacklo_epi16", _mm256_unpacklo_epi16(_mm256_set1_epi32(0x00020001), _mm256_set1_epi32(0x00040003)),
                         std::vector<int32_t>{0x00030001, 0x00040002, 0x00030001, 0x00040002, 0x00030001, 0x00040002, 0x00030001, 0x00040002});
    ExpectLanes<int32_t>(ctx, "_mm256_unpackhi_epi16", _mm256_unpackhi_epi16(x, y),
                         std::vector<int32_t>{static_cast<int32_t>(0x0001FFFFu), static_cast<int32_t>(0x00007FFFu), static_cast<int32_t>(0xFFFF0000u), static_cast<int32_t>(0xFFFF8000u), static_cast<int32_t>(0xFF0100FFu), static_cast<int32_t>(0xFFFF0000u), static_cast<int32_t>(0x00000100u), static_cast<int32_t>(0x00010000u)});
    ExpectLanes<int32_t>(ctx, "_mm256_load_si256", _mm256_load_si256(reinterpret_cast<const __m256i*>(ia.data())), ia);
  });

  RegisterSelfTest("_mm512_shuffle_{i64x2,f32x4}+permutexvar_epi32", [](Context& ctx) {
    std::vector<int32_t> first(16), second(16), lo, hi;
    for (int j = 0; j < 16; ++j) {
      first[j] = j;
      second[j] = 16 + j;
    }
    for (int j : {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}) lo.push_back(j);
    for (int j : {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}) hi.push_back(j);
    const __m512i a = Int32Vector(first), b = Int32Vector(second);
    ExpectLanes<int32_t>(ctx, "_mm512_shuffle_i64x2 0x44", _mm512_shuffle_i64x2(a, b, 0x44), lo);
    ExpectLanes<int32_t>(ctx, "_mm512_shuffle_i64x2 0xEE", _mm512_shuffle_i64x2(a, b, 0xEE), hi);
    ExpectLanes<int32_t>(ctx, "_mm512_shuffle_i64x2 0x1B", _mm512_shuffle_i64x2(a, b, 0x1B),
                         {12, 13, 14, 15, 8, 9, 10, 11, 20, 21, 22, 23, 16, 17, 18, 19});
    ExpectLanes<int32_t>(ctx, "_mm512_shuffle_f32x4 0xEE",
                         _mm512_castps_si512(_mm512_shuffle_f32x4(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), 0xEE)), hi);
    // Index bits above the low four are ignored.
    const __m512i idx = Int32Vector({15, 0, 17, -1, 4, 36, 2, 3, 8, 9, 10, 11, 12, 13, 14, 1});
    ExpectLanes<int32_t>(ctx, "_mm512_permutexvar_epi32", _mm512_permutexvar_epi32(idx, b),
                         {31, 16, 17, 31, 20, 20, 18, 19, 24, 25, 26, 27, 28, 29, 30, 17});
  });

  RegisterSelfTest("_mm512_packus_epi32+packus_epi16", [](Context& ctx) {
    const __m512i a = Int32Vector({-5, 70000, 65535, 3, 255, 256, INT32_MIN, INT32_MAX, 1, 2, 3, 4, 5, 6, 7, 8});
    const __m512i b = Int32Vector({10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 42, 43});
    const __m512i words = _mm512_packus_epi32(a, b);
    ExpectLanes<uint16_t>(ctx, "_mm512_packus_epi32", words,
                          {0, 65535, 65535, 3, 10, 11, 12, 13, 255, 256, 0, 65535, 20, 21, 22, 23,
                           1, 2, 3, 4, 30, 31, 32, 33, 5, 6, 7, 8, 40, 41, 42, 43});
    // Words read as signed: 65535 is -1 and saturates to 0, 256 to 255; a's words are the
    // halves of its dwords (70000 = 0x00011170: 4464 -> 255 and 1; INT32_MIN: 0 and -32768 -> 0).
    ExpectLanes<uint8_t>(ctx, "_mm512_packus_epi16", _mm512_packus_epi16(words, a),
                         {0, 0, 0, 3, 10, 11, 12, 13, 0, 0, 255, 1, 0, 0, 3, 0,
                          255, 255, 0, 0, 20, 21, 22, 23, 255, 0, 255, 0, 0, 0, 0, 255});
  });
  // The normalize kernels: VSUBPS, VRNDSCALEPS (nearest even), VPMADDWD, VPMOVSXBW, VPBROADCASTW.
  RegisterSelfTest("_mm512_sub_ps+roundscale_ps+madd_epi16+cvtepi8_epi16", [](Context& ctx) {
    std::vector<float> a(16), b(16, 0.25f);
    for (int j = 0; j < 16; ++j) a[j] = static_cast<float>(j) - 7.75f;  // j - 7.75 - 0.25 = j - 8
    const __m512 diff = _mm512_sub_ps(FloatVector(a), FloatVector(b));
    std::vector<float> expected(16);
    for (int j = 0; j < 16; ++j) expected[j] = static_cast<float>(j - 8);
    ExpectLanes<float>(ctx, "_mm512_sub_ps", diff, expected);
    // Ties go to the even neighbour, whatever MXCSR.RC says, with _MM_FROUND_TO_NEAREST_INT.
    const __m512 halves = FloatVector({-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.49f, -3.51f, 1e9f, -0.0f, 7.0f, 0.75f,
                                       -0.75f, 8388607.5f, 2.5f, 3.5f});
    const std::vector<float> nearest = {-2.0f, -2.0f, -0.0f, 0.0f, 2.0f, 2.0f, 3.0f, -4.0f, 1e9f, -0.0f, 7.0f, 1.0f,
                                        -1.0f, 8388608.0f, 2.0f, 4.0f};
    for (int mode : kRoundingModes) {
      RoundingModeScope scope(mode);
      ExpectLanes<float>(ctx, std::string("_mm512_roundscale_ps nearest under ") + RoundingModeName(mode),
                         _mm512_roundscale_ps(halves, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), nearest);
    }
    int8_t bytes[32];
    std::vector<int16_t> widened(32);
    for (int j = 0; j < 32; ++j) {
      bytes[j] = static_cast<int8_t>(j * 8 - 128);  // -128 .. 120: both signs, the extreme included
      widened[j] = static_cast<int16_t>(j * 8 - 128);
    }
    const __m512i words = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes)));
    ExpectLanes<int16_t>(ctx, "_mm512_cvtepi8_epi16", words, widened);
    std::vector<int32_t> squares(16), sums(16);
    for (int j = 0; j < 16; ++j) {
      squares[j] = widened[2 * j] * widened[2 * j] + widened[2 * j + 1] * widened[2 * j + 1];
      sums[j] = widened[2 * j] + widened[2 * j + 1];
    }
    ExpectLanes<int32_t>(ctx, "_mm512_madd_epi16 (squares)", _mm512_madd_epi16(words, words), squares);
    ExpectLanes<int32_t>(ctx, "_mm512_madd_epi16 (by _mm512_set1_epi16(1))", _mm512_madd_epi16(words, _mm512_set1_epi16(1)), sums);
    const __m512i extreme = _mm512_set1_epi16(-32768);
    ExpectLanes<int32_t>(ctx, "_mm512_madd_epi16 (-32768^2 twice wraps)", _mm512_madd_epi16(extreme, extreme),
                         std::vector<int32_t>(16, INT32_MIN));
    alignas(64) int32_t stored[16];
    _mm512_store_si512(stored, _mm512_madd_epi16(words, words));
    ctx.Check(std::equal(stored, stored + 16, squares.begin()), "_mm512_store_si512: not the lanes stored");
  });
  return true;
}();

}  // namespace
}  // namespace test
}  // namespace qk
