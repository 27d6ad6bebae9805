// qk_bench_gemm: GOPS of every registered GEMM kernel (through the op, single thread by default) on the linear shapes, with ratios to scalar.
//
//   build-native/qk_bench_gemm [--threads N] [--min-seconds S] [--shape MxNxK]... [--f32] [--a7]
//
// Activations are random bytes, or with --a7 random 7-bit bytes (PyTorch's x86 reduce_range
// quantization), which proves the kPairProof kernels exact for any weights; without it they run
// their exact twin (random weights have unsafe pairs), shown as "(ran <kernel>)".
//
// Each kernel runs through QGemmU8Packed (or QGemmF32Packed with --f32) on its own pack, so the
// time includes the A panel and the requantizing epilogue, as a linear layer pays them.
// GOPS = 2 * m * n * k / seconds (best of repeated runs lasting at least min-seconds). With one
// thread the seconds are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other processes on a
// busy machine do not count; with more threads, wall time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/isa.h"
#include "base/threadpool.h"
#include "ops/qgemm.h"
#include "pack/gemm-pack.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  size_t m, n, k;
};

// Seconds of this thread's CPU time where the platform has it (single-threaded runs on a shared
// machine: time while descheduled does not count), else wall time.
double Now(bool cpu_time) {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  if (cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
#endif
  (void)cpu_time;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Each sample times enough calls to last about 20 ms (thread CPU clocks can tick coarsely),
// and the best sample counts.
template <typename Fn>
double BestSecondsPerCall(double min_seconds, bool cpu_time, const Fn& fn) {
  const double first_start = Now(false);
  fn();
  const double first = std::max(Now(false) - first_start, 1e-7);
  const int calls = static_cast<int>(std::min(1e6, std::max(1.0, 0.02 / first)));
  double best = 1e30, total = 0;
  int runs = 0;
  while (total < min_seconds || runs < 3) {
    const double start = Now(cpu_time);
    for (int c = 0; c < calls; ++c) fn();
    const double seconds = Now(cpu_time) - start;
    best = std::min(best, seconds / calls);
    total += seconds;
    ++runs;
  }
  return best;
}

volatile uint32_t g_sink;

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  double min_seconds = 0.3;
  bool f32 = false;
  bool a7 = false;
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
      Shape s{};
      if (std::sscanf(argv[++i], "%zux%zux%zu", &s.m, &s.n, &s.k) != 3) {
        std::fprintf(stderr, "bad --shape %s (want MxNxK)\n", argv[i]);
        return 2;
      }
      shapes.push_back(s);
    } else if (std::strcmp(argv[i], "--f32") == 0) {
      f32 = true;
    } else if (std::strcmp(argv[i], "--a7") == 0) {
      a7 = true;
    } else {
      std::fprintf(stderr, "usage: qk_bench_gemm [--threads N] [--min-seconds S] [--shape MxNxK]... [--f32] [--a7]\n");
      return 2;
    }
  }
  // The linear shapes: batch x out_features x in_features.
  if (shapes.empty()) shapes = {{256, 1024, 1024}, {1, 1024, 1024}, {64, 768, 768}, {128, 3072, 768}};
  qk::SetNumThreads(threads);
  const qk::CpuFeatures& cpu = qk::GetCpuFeatures();
  std::printf("qk_bench_gemm: %s output, %s activations, %d thread(s), best of >= %.2f s %s per kernel and shape, CPU best level %s\n",
              f32 ? "fp32" : "quint8", a7 ? "7-bit" : "8-bit", threads, min_seconds,
              threads == 1 ? "thread CPU time" : "wall time", qk::IsaName(qk::BestSupportedIsa(cpu)));
  std::printf("%-48s %-11s %-16s %9s %9s\n", "kernel", "isa", "m x n x k", "GOPS", "x scalar");
  for (const Shape& s : shapes) {
    std::vector<uint8_t> a(s.m * s.k);
    std::vector<int8_t> w(s.n * s.k);
    uint64_t state = 42;
    for (uint8_t& v : a) v = static_cast<uint8_t>((state = state * 6364136223846793005ull + 1442695040888963407ull) >> (a7 ? 57 : 56));
    for (int8_t& v : w) v = static_cast<int8_t>((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 56);
    std::vector<int32_t> w_zp(s.n, 0);
    std::vector<float> w_scales(s.n, 0.002f), bias(s.n, 0.1f);
    std::vector<uint8_t> y(s.m * s.n);
    std::vector<float> yf(s.m * s.n);
    qk::GemmRequant rq;
    rq.a_scale = 0.02f;
    rq.a_zero_point = a7 ? 64 : 128;
    rq.w_scales = w_scales.data();
    rq.bias = bias.data();
    rq.y_scale = 0.5f;
    rq.y_zero_point = 100;
    double scalar_gops = 0;
    for (size_t l = 0; l < qk::GemmLayoutCount(); ++l) {
      const qk::GemmLayout& layout = qk::GemmLayoutAt(l);
      const char* name = f32 ? layout.f32_name : layout.u8_name;
      char shape_text[64];
      std::snprintf(shape_text, sizeof(shape_text), "%zux%zux%zu", s.m, s.n, s.k);
      if (!qk::CpuSupports(cpu, layout.isa)) {
        std::printf("%-48s %-11s %-16s %9s %9s  (skipped: CPU lacks %s)\n", name, qk::IsaName(layout.isa), shape_text,
                    "-", "-", qk::IsaName(layout.isa));
        continue;
      }
      std::shared_ptr<const qk::PackedGemm> packed;
      if (!qk::PackedGemm::Create(layout, s.n, s.k, w.data(), w_zp.data(), &packed).ok()) return 1;
      const double seconds = BestSecondsPerCall(min_seconds, threads == 1, [&] {
        if (f32) {
          qk::QGemmF32Packed(*packed, s.m, a.data(), s.k, rq.a_scale, rq.a_zero_point, w_scales.data(), bias.data(),
                             false, yf.data(), s.n);
        } else {
          qk::QGemmU8Packed(*packed, s.m, a.data(), s.k, rq, y.data(), s.n);
        }
      });
      g_sink = y[y.size() / 2];
      const double gops = 2.0 * s.m * s.n * s.k / seconds * 1e-9;
      if (layout.isa == qk::Isa::kScalar) scalar_gops = gops;
      const qk::PackedGemm& ran = qk::GemmPackForCall(*packed, s.m, a.data(), s.k);
      std::printf("%-48s %-11s %-16s %9.2f %8.2fx%s%s%s\n", name, qk::IsaName(layout.isa), shape_text, gops,
                  scalar_gops > 0 ? gops / scalar_gops : 0.0, &ran != packed.get() ? "  (ran " : "",
                  &ran != packed.get() ? (f32 ? ran.layout().f32_name : ran.layout().u8_name) : "",
                  &ran != packed.get() ? ")" : "");
    }
  }
  return 0;
}
