// qk_bench_quantize: throughput of every registered quantize/dequantize kernel on 1M elements, and its ratio to scalar.
//
//   build-native/qk_bench_quantize [--elements N] [--min-seconds S]
//
// Each kernel runs on the same 1M-element buffers (inputs in a realistic range,
// so most values land inside [qmin, qmax]); the best of several timed runs
// counts. GB/s counts bytes read plus bytes written (4 + 1 per element either
// way). The scalar kernel of the same slot is measured in the same run, so the
// ratio does not depend on the machine's mood on another day.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/isa.h"
#include "ukernels/ukernels.h"

namespace {

using qk::Isa;
using Clock = std::chrono::steady_clock;

struct Options {
  size_t elements = size_t{1} << 20;
  double min_seconds = 0.25;  // per kernel
};

// Best seconds per call of fn over repeated runs lasting at least min_seconds.
template <typename Fn>
double BestSecondsPerCall(const Options& options, const Fn& fn) {
  fn();  // warm caches and page in the buffers
  double best = 1e30, total = 0;
  int runs = 0;
  while (total < options.min_seconds || runs < 5) {
    const auto start = Clock::now();
    fn();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::min(best, seconds);
    total += seconds;
    ++runs;
  }
  return best;
}

// Keeps the optimizer from discarding a kernel's output.
volatile uint32_t g_sink;

struct Row {
  std::string slot;
  std::string kernel;
  Isa isa;
  double gbps;  // 0 when skipped
};

struct Buffers {
  std::vector<float> x, y;
  std::vector<uint8_t> qu8;
  std::vector<int8_t> qs8;
};

double Measure(const Options& o, Buffers& b, qk::QuantizeU8Fn* kernel) {
  const qk::QuantizeParams p{1.0f / 0.05f, 128, 0, 255};
  const double s = BestSecondsPerCall(o, [&] { kernel(o.elements, b.x.data(), b.qu8.data(), &p); });
  g_sink = b.qu8[o.elements / 2];
  return 5.0 * o.elements / s * 1e-9;
}

double Measure(const Options& o, Buffers& b, qk::QuantizeS8Fn* kernel) {
  const qk::QuantizeParams p{1.0f / 0.05f, 0, -128, 127};
  const double s = BestSecondsPerCall(o, [&] { kernel(o.elements, b.x.data(), b.qs8.data(), &p); });
  g_sink = static_cast<uint8_t>(b.qs8[o.elements / 2]);
  return 5.0 * o.elements / s * 1e-9;
}

double Measure(const Options& o, Buffers& b, qk::DequantizeU8Fn* kernel) {
  const qk::DequantizeParams p{0.05f, 128};
  const double s = BestSecondsPerCall(o, [&] { kernel(o.elements, b.qu8.data(), b.y.data(), &p); });
  uint32_t bits;
  std::memcpy(&bits, &b.y[o.elements / 2], 4);
  g_sink = bits;
  return 5.0 * o.elements / s * 1e-9;
}

double Measure(const Options& o, Buffers& b, qk::DequantizeS8Fn* kernel) {
  const qk::DequantizeParams p{0.05f, 0};
  const double s = BestSecondsPerCall(o, [&] { kernel(o.elements, b.qs8.data(), b.y.data(), &p); });
  uint32_t bits;
  std::memcpy(&bits, &b.y[o.elements / 2], 4);
  g_sink = bits;
  return 5.0 * o.elements / s * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--elements") == 0 && i + 1 < argc) {
      options.elements = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      options.min_seconds = std::strtod(argv[++i], nullptr);
    } else {
      std::printf("usage: qk_bench_quantize [--elements N] [--min-seconds S]\n");
      return 2;
    }
  }
  if (options.elements == 0) options.elements = 1;

  Buffers b;
  b.x.resize(options.elements);
  b.y.resize(options.elements);
  b.qu8.resize(options.elements);
  b.qs8.resize(options.elements);
  uint64_t state = 42;
  for (size_t i = 0; i < options.elements; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double unit = static_cast<double>(state >> 11) * 0x1p-53;
    b.x[i] = static_cast<float>(8.0 * unit - 4.0);  // +-4 at scale 0.05: mostly inside the int8 range
    b.qu8[i] = static_cast<uint8_t>(state >> 56);
    b.qs8[i] = static_cast<int8_t>(state >> 48);
  }

  const qk::CpuFeatures& cpu = qk::GetCpuFeatures();
  std::printf("qk_bench_quantize: %zu elements per call, best of >= %.2f s per kernel, CPU best level %s\n", options.elements,
              options.min_seconds, qk::IsaName(qk::BestSupportedIsa(cpu)));
  std::printf("%-46s %-11s %9s %9s\n", "kernel", "isa", "GB/s", "x scalar");

  std::vector<Row> rows;
#define QK_UKERNEL(slot, type, isa, function)                                                               \
  {                                                                                                         \
    const bool runs = qk::IsaIsNative(Isa::isa) && qk::CpuSupports(cpu, Isa::isa);                          \
    rows.push_back({#slot, #function, Isa::isa, runs ? Measure(options, b, &qk::function) : 0.0});          \
  }
#include "ukernels/quantize/registry.inc"  // the quantize lines only: other families bench their own kernels
#undef QK_UKERNEL

  for (const Row& row : rows) {
    double scalar = 0;
    for (const Row& other : rows) {
      if (other.slot == row.slot && other.isa == Isa::kScalar) scalar = other.gbps;
    }
    if (row.gbps == 0) {
      std::printf("%-46s %-11s %9s %9s  (skipped: CPU lacks %s)\n", row.kernel.c_str(), qk::IsaName(row.isa), "-", "-",
                  qk::IsaName(row.isa));
    } else {
      std::printf("%-46s %-11s %9.2f %8.2fx\n", row.kernel.c_str(), qk::IsaName(row.isa), row.gbps,
                  scalar > 0 ? row.gbps / scalar : 0.0);
    }
  }
  return 0;
}
