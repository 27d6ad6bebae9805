// qk_bench_conv: single-thread time and GOPS of the conv ops on the issue's shapes at every ISA level the CPU runs, with ratios to scalar.
//
//   build-native/qk_bench_conv [--min-seconds S] [--contiguous] [--filter TEXT]
//
// Each shape runs through ConvU8 (channels_last input and output by default, the layout the
// kernels work in; --contiguous adds the NC[D][H]W transposes) with dispatch capped at each
// level in turn. GOPS counts 2 operations per multiply-add of the direct definition (for a
// transposed conv: input pixels x in_channels x out_channels / groups x taps). The best of
// repeated runs (thread CPU time) counts; the scalar level of the same run is the ratio's base.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/isa.h"
#include "base/threadpool.h"
#include "ops/conv.h"
#include "ukernels/dispatch.h"

namespace {

// Thread CPU time: the machine may be shared, and with one thread every op runs on the calling
// thread, so time spent descheduled does not count.
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Shape {
  const char* name;
  qk::ConvGeometry g;
  size_t batch;
  size_t in_spatial[3];
};

Shape Make(const char* name, int dims, size_t batch, size_t in, size_t out, size_t groups, size_t kernel,
           size_t stride, size_t pad, const size_t* spatial, bool transposed = false) {
  Shape s{name, {}, batch, {1, 1, 1}};
  s.g.dims = dims;
  s.g.in_channels = in;
  s.g.out_channels = out;
  s.g.groups = groups;
  s.g.transposed = transposed;
  for (int d = 0; d < dims; ++d) {
    s.g.kernel[d] = kernel;
    s.g.stride[d] = stride;
    s.g.pad_before[d] = s.g.pad_after[d] = pad;
    s.in_spatial[d] = spatial[d];
  }
  return s;
}

std::vector<Shape> IssueShapes() {
  const size_t l1000[] = {1000}, l16000[] = {16000}, l4000[] = {4000}, s56[] = {56, 56}, s112[] = {112, 112};
  const size_t s3d[] = {16, 32, 32}, l500[] = {500}, s96[] = {96, 96};
  return {
      Make("conv1d N8 256->256 k3 L1000", 1, 8, 256, 256, 1, 3, 1, 1, l1000),
      Make("conv1d N1 64->64 k9 L16000", 1, 1, 64, 64, 1, 9, 1, 4, l16000),
      Make("dwconv1d 256ch k5 L4000", 1, 1, 256, 256, 256, 5, 1, 2, l4000),
      Make("conv2d 64->64 3x3 56x56", 2, 1, 64, 64, 1, 3, 1, 1, s56),
      Make("conv2d 1x1 256->64 56x56", 2, 1, 256, 64, 1, 1, 1, 0, s56),
      Make("dwconv2d 32ch 3x3 112x112", 2, 1, 32, 32, 32, 3, 1, 1, s112),
      Make("conv3d 16->32 3x3x3 16x32x32", 3, 1, 16, 32, 1, 3, 1, 1, s3d),
      Make("convT1d 256->128 k4 s2 L500", 1, 1, 256, 128, 1, 4, 2, 1, l500, true),
      Make("stem conv2d 3->64 7x7 s2 96", 2, 1, 3, 64, 1, 7, 2, 3, s96),
      Make("stem conv2d 3->16 3x3 s2 96", 2, 1, 3, 16, 1, 3, 2, 1, s96),
      Make("stem conv2d 3->32 3x3 s2 96", 2, 1, 3, 32, 1, 3, 2, 1, s96),
  };
}

double MultiplyAdds(const Shape& s, const size_t out_spatial[3]) {
  const qk::ConvGeometry& g = s.g;
  double taps = 1, pixels = 1;
  for (int d = 0; d < g.dims; ++d) {
    taps *= static_cast<double>(g.kernel[d]);
    pixels *= static_cast<double>(g.transposed ? s.in_spatial[d] : out_spatial[d]);
  }
  const double per_pixel = g.transposed ? static_cast<double>(g.in_channels) * (g.out_channels / g.groups)
                                        : static_cast<double>(g.out_channels) * (g.in_channels / g.groups);
  return static_cast<double>(s.batch) * pixels * per_pixel * taps;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.3;
  bool contiguous = false;
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--contiguous") == 0) {
      contiguous = true;
    } else if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else {
      std::fprintf(stderr, "usage: qk_bench_conv [--min-seconds S] [--contiguous] [--filter TEXT]\n");
      return 2;
    }
  }
  qk::SetNumThreads(1);
  std::vector<qk::Isa> levels;
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const qk::Isa isa = static_cast<qk::Isa>(i);
    if (qk::IsaIsNative(isa) && qk::CpuSupports(qk::GetCpuFeatures(), isa)) levels.push_back(isa);
  }
  std::vector<qk::ConvLayout> layouts = {qk::ConvLayout::kChannelsLast};
  if (contiguous) layouts.push_back(qk::ConvLayout::kContiguous);
  std::printf("qk_bench_conv: 1 thread, best of runs >= %.2f s of thread CPU time; GOPS = 2 * multiply-adds / time\n", min_seconds);
  std::printf("%-30s %-14s %-11s %12s %9s %9s\n", "shape", "layout", "isa", "us", "GOPS", "x scalar");
  for (const Shape& s : IssueShapes()) {
    if (!filter.empty() && std::string(s.name).find(filter) == std::string::npos) continue;
    size_t out_spatial[3];
    if (!qk::ConvOutputSize(s.g, s.in_spatial, out_spatial).ok()) return 1;
    size_t in_elems = s.batch * s.g.in_channels, out_elems = s.batch * s.g.out_channels, weight_count = 0;
    for (int d = 0; d < s.g.dims; ++d) {
      in_elems *= s.in_spatial[d];
      out_elems *= out_spatial[d];
    }
    qk::ConvWeightCount(s.g, &weight_count);
    std::vector<int8_t> w(weight_count);
    std::vector<uint8_t> x(in_elems), y(out_elems);
    uint32_t state = 12345;
    for (auto& v : w) v = static_cast<int8_t>((state = state * 1664525u + 1013904223u) >> 24);
    for (auto& v : x) v = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
    std::vector<float> bias(s.g.out_channels, 0.5f);
    const double scale = 0.002;
    const int32_t zp = 0;
    std::shared_ptr<const qk::ConvWeights> weights;
    if (!qk::CreateConvWeights(s.g, w.data(), &scale, &zp, 1, bias.data(), &weights).ok()) return 1;
    const double ops = 2 * MultiplyAdds(s, out_spatial);
    for (qk::ConvLayout layout : layouts) {
      double scalar_us = 0;
      for (qk::Isa isa : levels) {
        std::string error;
        qk::SetMaxIsa(isa, &error);
        auto run = [&] {
          const qk::Status st =
              qk::ConvU8(*weights, x.data(), s.batch, s.in_spatial, layout, 0.05f, 128, 0.5f, 100, false, y.data());
          if (!st.ok()) {
            std::fprintf(stderr, "%s: %s\n", s.name, st.message().c_str());
            std::exit(1);
          }
        };
        run();  // packs for this level, warms caches
        double best = 1e30, total = 0;
        for (int runs = 0; total < min_seconds || runs < 2; ++runs) {
          const double start = ThreadSeconds();
          run();
          const double seconds = ThreadSeconds() - start;
          best = std::min(best, seconds);
          total += seconds;
        }
        const double us = best * 1e6;
        if (isa == qk::Isa::kScalar) scalar_us = us;
        std::printf("%-30s %-14s %-11s %12.1f %9.2f %9.2f\n", s.name,
                    layout == qk::ConvLayout::kChannelsLast ? "channels_last" : "contiguous", qk::IsaName(isa), us,
                    ops / best * 1e-9, scalar_us / us);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
