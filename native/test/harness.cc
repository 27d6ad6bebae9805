// The test harness: argument parsing, the case registry, running, and the summary line.
#include "harness.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "base/cpu.h"
#include "base/threadpool.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace test {
namespace {

struct Registered {
  Mode mode;
  std::string name;
  TestFn fn;
};

std::vector<Registered>& Registry() {
  static std::vector<Registered> tests;
  return tests;
}

Options& MutableOptions() {
  static Options options;
  return options;
}

constexpr int kMaxPrintedFailures = 8;

}  // namespace

const int kThreadCounts[4] = {1, 2, 3, 4};

const Options& GetOptions() { return MutableOptions(); }

bool RequireIsaLevel(Context& ctx) {
  const Isa level = GetOptions().isa;
  if (CpuSupports(GetCpuFeatures(), level)) return true;
  ctx.Skip(std::string("this CPU cannot run ") + IsaName(level) + " code, so dispatch cannot use that level");
  return false;
}

uint64_t SeedFromName(const char* name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (; *name != '\0'; ++name) h = (h ^ static_cast<uint8_t>(*name)) * 0x100000001B3ull;
  return h;
}

bool Applies(Context& ctx, Isa kernel_isa) {
  const Isa level = GetOptions().isa;
  if (!IsaIsNative(kernel_isa) || IsaRank(kernel_isa) > IsaRank(level)) {
    ctx.Exclude();
    return false;
  }
  if (!CpuSupports(GetCpuFeatures(), kernel_isa)) {
    ctx.Skip(std::string("this CPU cannot run ") + IsaName(kernel_isa) + " code");
    return false;
  }
  return true;
}

void Context::Fail(const std::string& message) {
  if (failures_ < kMaxPrintedFailures) std::printf("    FAIL %s: %s\n", name_.c_str(), message.c_str());
  if (failures_ == kMaxPrintedFailures) std::printf("    FAIL %s: (further failures not printed)\n", name_.c_str());
  ++failures_;
}

void Context::Skip(const std::string& reason) {
  skipped_ = true;
  skip_reason_ = reason;
}

bool RegisterTest(Mode mode, std::string name, TestFn fn) {
  Registry().push_back({mode, std::move(name), std::move(fn)});
  return true;
}

double Random::LogUniform(double lo_exp, double hi_exp) { return std::pow(10.0, Uniform(lo_exp, hi_exp)); }

float Random::AnyFloat() {
  switch (Next() % 8) {
    case 0: return FloatFromBits(Bits32());  // every class, weighted by bit patterns
    case 1: {
      const std::vector<float> specials = SpecialFloats();
      return specials[Next() % specials.size()];
    }
    case 2: return static_cast<float>(Int(-300, 300)) + 0.5f;  // exact half-way for inv_scale 1
    case 3: return static_cast<float>(Uniform(-300, 300));
    case 4: return static_cast<float>((Next() & 1 ? 1 : -1) * LogUniform(-45, 38.5));
    default: return static_cast<float>(Uniform(-3, 3) * LogUniform(0, 3));
  }
}

float FloatFromBits(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

uint32_t BitsOfFloat(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return bits;
}

std::string DescribeFloat(float v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "0x%08x (%.9g)", BitsOfFloat(v), static_cast<double>(v));
  return buffer;
}

std::string DescribeDouble(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  return buffer;
}

std::vector<float> HalfWayFloats(float scale, int k_max) {
  std::vector<float> x;
  for (int k = -k_max; k <= k_max; ++k) {
    const float half = (static_cast<float>(k) + 0.5f) * scale;
    x.push_back(half);
    x.push_back(std::nextafter(half, 1e30f));
    x.push_back(std::nextafter(half, -1e30f));
  }
  return x;
}

std::vector<float> SpecialFloats() {
  const float inf = std::numeric_limits<float>::infinity();
  const float max = std::numeric_limits<float>::max();
  const float denorm = std::numeric_limits<float>::denorm_min();
  std::vector<float> v = {
      std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
      // signalling and payload NaNs
      FloatFromBits(0x7F800001u), FloatFromBits(0xFFBFFFFFu), FloatFromBits(0x7FC12345u),
      inf, -inf, 0.0f, -0.0f, denorm, -denorm, FloatFromBits(0x007FFFFFu), -FloatFromBits(0x007FFFFFu),
      std::numeric_limits<float>::min(), -std::numeric_limits<float>::min(), max, -max,
      1e12f, -1e12f, 1e20f, -1e20f, 0x1p31f, -0x1p31f, 0x1p32f, -0x1p32f, 0x1p63f, -0x1p63f,
      std::nextafter(0x1p63f, 0.0f), -std::nextafter(0x1p63f, 0.0f), std::nextafter(0x1p63f, inf),
      std::nextafter(0x1p31f, 0.0f), 0x1p24f, 0x1p24f + 2.0f, 0x1p23f + 1.0f, 0x1p23f - 0.5f,
      0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, 0.50000006f, 126.5f, 127.5f, 128.5f, 254.5f, 255.5f,
      -127.5f, -128.5f, -129.5f, 15.5f, 16.5f, 7.5f, -7.5f};
  return v;
}

std::vector<uint8_t> SwapLayout(const std::vector<uint8_t>& v, size_t batch, size_t a, size_t b) {
  std::vector<uint8_t> out(v.size());
  for (size_t n = 0; n < batch; ++n) {
    for (size_t i = 0; i < a; ++i) {
      for (size_t j = 0; j < b; ++j) out[(n * b + j) * a + i] = v[(n * a + i) * b + j];
    }
  }
  return out;
}

}  // namespace test
}  // namespace qk

namespace {

using qk::Isa;
using qk::test::Mode;

void PrintUsage() {
  std::printf(
      "usage: qk_test [--isa scalar|avx2|avx512vnni|neon|neondot|all] [--threads-sweep] [--sweep N]\n"
      "               [--expect-best L] [--filter TEXT] [-v]\n"
      "  --isa L          run the per-ISA cases with dispatch capped at L, kernels up to L\n"
      "  --threads-sweep  run the thread-count sweep\n"
      "  (no mode)        every level this CPU's architecture has, then the sweep\n"
      "  --sweep N        random floats per quantize kernel in its bit-pattern sweep (default 1048576)\n"
      "  --expect-best L  fail unless CPU detection's best level is L (emulated CPUs: qemu -cpu ...)\n");
}

struct Counts {
  int passed = 0, failed = 0, skipped = 0;
};

void RunMode(Mode mode, const char* label, Counts* counts) {
  const qk::test::Options& options = qk::test::GetOptions();
  std::printf("== %s\n", label);
  for (const auto& test : qk::test::Registry()) {
    if (test.mode != mode) continue;
    if (!options.filter.empty() && test.name.find(options.filter) == std::string::npos) continue;
    qk::test::Context ctx(test.name);
    test.fn(ctx);
    if (ctx.excluded() && !ctx.failed()) continue;
    if (ctx.failed()) {
      ++counts->failed;
      std::printf("[FAIL] %s\n", test.name.c_str());
    } else if (ctx.skipped()) {
      ++counts->skipped;
      std::printf("[SKIP] %s: %s\n", test.name.c_str(), ctx.skip_reason().c_str());
    } else {
      ++counts->passed;
      if (options.verbose) std::printf("[ OK ] %s\n", test.name.c_str());
    }
  }
  qk::SetNumThreads(1);
}

bool RunIsa(Isa isa, Counts* counts) {
  qk::test::MutableOptions().isa = isa;
  std::string error;
  if (!qk::SetMaxIsa(isa, &error)) {
    std::printf("cannot cap dispatch at %s: %s\n", qk::IsaName(isa), error.c_str());
    return false;
  }
  const std::string label = std::string("--isa ") + qk::IsaName(isa) + " (CPU best: " + qk::IsaName(qk::BestIsa()) +
                            ", dispatch now: " + qk::IsaName(qk::ActiveIsa()) + ")";
  RunMode(Mode::kIsa, label.c_str(), counts);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  qk::test::Options& options = qk::test::MutableOptions();
  options.sweep_count = size_t{1} << 20;
  const char* isa_arg = nullptr;
  const char* expect_best = nullptr;
  bool threads_sweep = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strcmp(arg, "--isa") == 0 && i + 1 < argc) {
      isa_arg = argv[++i];
    } else if (std::strcmp(arg, "--threads-sweep") == 0) {
      threads_sweep = true;
    } else if (std::strcmp(arg, "--sweep") == 0 && i + 1 < argc) {
      options.sweep_count = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(arg, "--expect-best") == 0 && i + 1 < argc) {
      expect_best = argv[++i];
    } else if (std::strcmp(arg, "--filter") == 0 && i + 1 < argc) {
      options.filter = argv[++i];
    } else if (std::strcmp(arg, "-v") == 0) {
      options.verbose = true;
    } else {
      PrintUsage();
      return 2;
    }
  }

  // No arguments: every level of this architecture, then the sweep.
  const bool all_levels = isa_arg == nullptr ? !threads_sweep : std::strcmp(isa_arg, "all") == 0;
  if (isa_arg == nullptr && !threads_sweep) threads_sweep = true;
  Counts counts;
  if (all_levels) {
    for (int i = 0; i < qk::kIsaCount; ++i) {
      const Isa isa = static_cast<Isa>(i);
      if (qk::IsaIsNative(isa) && !RunIsa(isa, &counts)) return 1;
    }
  } else if (isa_arg != nullptr) {
    Isa isa;
    if (!qk::ParseIsa(isa_arg, &isa)) {
      std::printf("unknown ISA level '%s'\n", isa_arg);
      PrintUsage();
      return 2;
    }
    if (!qk::IsaIsNative(isa)) {
      // Not an error: the level exists, on the other architecture; nothing of it can run here.
      std::printf("SKIP: --isa %s is not a level of this build's architecture; nothing to run\n", isa_arg);
      std::printf("0 passed, 0 failed, 1 skipped\n");
      return 0;
    }
    if (!RunIsa(isa, &counts)) return 1;
  }
  if (expect_best != nullptr) {
    // Counted as a case of its own: it is what an emulated CPU run is there to prove.
    if (std::strcmp(qk::IsaName(qk::BestIsa()), expect_best) == 0) {
      ++counts.passed;
      std::printf("[ OK ] cpu/expect-best: detected %s\n", expect_best);
    } else {
      ++counts.failed;
      std::printf("[FAIL] cpu/expect-best: detected %s, expected %s\n", qk::IsaName(qk::BestIsa()), expect_best);
    }
  }
  if (threads_sweep) {
    std::string error;
    qk::SetMaxIsa(qk::BestIsa(), &error);
    qk::test::MutableOptions().isa = qk::BestIsa();
    RunMode(Mode::kThreadsSweep, "--threads-sweep", &counts);
  }
  std::printf("%d passed, %d failed, %d skipped\n", counts.passed, counts.failed, counts.skipped);
  return counts.failed == 0 ? 0 : 1;
}
