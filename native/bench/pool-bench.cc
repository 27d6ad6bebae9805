// qk_bench_pool: the pooling ops alone (no binding, no JS, a reused output buffer) on bench/strided-copy.js's channels-last shapes, per ISA.
//
//   build-native/qk_bench_pool [--min-seconds S]
//
// One thread, quint8. Each op runs through ops/pool.h as the binding calls it; the best of
// five timed runs counts. Beside the binding's and the JS plan's time (bench/strided-copy.js,
// doc/bench.md) this is the kernel share of a call.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/isa.h"
#include "base/threadpool.h"
#include "ops/pool.h"
#include "ukernels/dispatch.h"

namespace {

using Clock = std::chrono::steady_clock;

// Microseconds per call of fn: the best of five runs of at least min_seconds / 5 each.
double Time(const std::function<void()>& fn, double min_seconds) {
  double best = 1e30;
  for (int run = 0; run < 5; ++run) {
    size_t calls = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      for (int i = 0; i < 50; ++i) fn();
      calls += 50;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < min_seconds / 5);
    best = std::min(best, elapsed * 1e6 / static_cast<double>(calls));
  }
  return best;
}

qk::PoolGeometry Geometry(size_t channels, size_t in, size_t out, size_t kernel, size_t stride, size_t padding) {
  qk::PoolGeometry g;
  g.channels = channels;
  g.input[1] = g.input[2] = in;
  g.output[1] = g.output[2] = out;
  g.kernel[1] = g.kernel[2] = kernel;
  g.stride[1] = g.stride[2] = stride;
  g.padding[1] = g.padding[2] = padding;
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: qk_bench_pool [--min-seconds S]\n");
      return 2;
    }
  }
  qk::SetNumThreads(1);
  const qk::PoolGeometry pool = Geometry(64, 48, 24, 3, 2, 1);
  const qk::PoolGeometry adaptive = Geometry(1024, 7, 1, 1, 1, 0);
  std::vector<uint8_t> x(64 * 48 * 48), y(64 * 24 * 24), x7(1024 * 7 * 7), y1(1024);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>((i * 37) % 251);
  for (size_t i = 0; i < x7.size(); ++i) x7[i] = static_cast<uint8_t>((i * 37) % 251);
  qk::AvgPoolOptions options;
  options.zero_point = 128;
  const qk::PoolLayout nhwc = qk::PoolLayout::kChannelsLast;
  const qk::QDType u8 = qk::QDType::kQUInt8;
  std::printf("op (quint8, NHWC, one thread)                isa          us per call\n");
  for (qk::Isa isa : {qk::Isa::kScalar, qk::Isa::kAvx2, qk::Isa::kAvx512Vnni}) {
    if (!qk::IsaIsNative(isa)) continue;
    std::string error;
    if (!qk::SetMaxIsa(isa, &error)) continue;
    const struct {
      const char* name;
      std::function<void()> fn;
    } cases[] = {
        {"maxPool2d [1,64,48,48] 3x3 s2 p1", [&] { (void)qk::MaxPool(pool, u8, nhwc, x.data(), x.size(), y.data(), y.size()); }},
        {"avgPool2d [1,64,48,48] 3x3 s2 p1",
         [&] { (void)qk::AvgPool(pool, u8, nhwc, options, x.data(), x.size(), y.data(), y.size()); }},
        {"adaptiveAvgPool2d [1,1024,7,7] -> 1x1",
         [&] { (void)qk::AdaptiveAvgPool(adaptive, u8, nhwc, 128, x7.data(), x7.size(), y1.data(), y1.size()); }},
    };
    for (const auto& c : cases) std::printf("%-44s %-12s %8.2f\n", c.name, qk::IsaName(isa), Time(c.fn, min_seconds));
  }
  return 0;
}
