// qk_bench_embedding: every registered embedding bag kernel, and the plain gather loop, on cache-resident and 1M-row tables.
//
//   build-native/qk_bench_embedding [--min-seconds S]
//
// Per call: 64 bags of 100 random rows (fresh indices from a pool of 256 batches, so
// large tables are read from memory), dims 64 and 128, 8-bit and 4-bit rows, one
// thread. Kernels are called directly (no op-level checks); the gather loop is
// EmbeddingGatherRowBytes, the bound bench/embedding.js also uses. Times are the
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID where available), best of several runs.
// Then the op's per-call cost outside the kernel, at the best level: the kernel alone on
// rows resolved beforehand, the whole op (EmbeddingBagLookup: index checks, bag resolution,
// zeroing the output, the kernel; one thread), and the difference.
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
#include "ops/embedding.h"
#include "ukernels/dispatch.h"
#include "ukernels/ukernels.h"

namespace {

using qk::Isa;

constexpr size_t kBags = 64;
constexpr size_t kBagSize = 100;
constexpr size_t kPool = 256;

double ThreadSeconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
#else
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
#endif
}

uint64_t g_state = 12345;
uint32_t Next() {
  g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<uint32_t>(g_state >> 32);
}

volatile float g_sink_float;
volatile uint64_t g_sink;

// Best CPU seconds per call over runs of 16 calls, at least min_seconds in all.
template <typename Fn>
double SecondsPerCall(double min_seconds, const Fn& fn) {
  for (size_t b = 0; b < 8; ++b) fn(b);
  double best = 1e30, total = 0;
  size_t batch = 0;
  while (total < min_seconds) {
    const double start = ThreadSeconds();
    for (int i = 0; i < 16; ++i) fn(batch++ % kPool);
    const double seconds = (ThreadSeconds() - start) / 16;
    best = std::min(best, seconds);
    total += seconds * 16;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--min-seconds") == 0) min_seconds = std::atof(argv[i + 1]);
  }
  const qk::CpuFeatures& cpu = qk::GetCpuFeatures();
  qk::SetNumThreads(1);
  std::printf("qk_bench_embedding: %zu bags x %zu rows per call, 1 thread, CPU time, CPU best level %s\n", kBags,
              kBagSize, qk::IsaName(qk::BestSupportedIsa(cpu)));
  std::printf("%-10s %-4s %-44s %12s %8s %10s\n", "table", "bits", "kernel", "M lookups/s", "GB/s", "x gather");
  struct Config {
    size_t rows, dim;
    int bits;
  };
  const Config configs[] = {{1000000, 128, 8}, {1000000, 128, 4}, {100000, 64, 8}, {100000, 64, 4}, {1000, 64, 8}, {1000, 64, 4}};
  for (const Config& c : configs) {
    const size_t row_bytes = c.bits == 8 ? c.dim + 8 : c.dim / 2 + 4;
    std::vector<uint8_t> table(c.rows * row_bytes);
    for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<uint8_t>(Next());
    for (size_t r = 0; r < c.rows; ++r) {
      uint8_t* qp = table.data() + r * row_bytes + (c.bits == 8 ? c.dim : c.dim / 2);
      if (c.bits == 8) {
        const float sb[2] = {0.01f, -0.5f};
        std::memcpy(qp, sb, 8);
      } else {
        const uint16_t sb[2] = {0x2000, 0xB800};  // fp16 2^-7, -0.5
        std::memcpy(qp, sb, 4);
      }
    }
    std::vector<int32_t> indices(kPool * kBags * kBagSize);
    for (int32_t& v : indices) v = static_cast<int32_t>(Next() % c.rows);
    std::vector<const uint8_t*> rows(kBags * kBagSize);
    std::vector<float> out(kBags * c.dim);
    const double bytes = static_cast<double>(kBags * kBagSize * row_bytes);
    char name[32];
    std::snprintf(name, sizeof(name), "%zux%zu", c.rows, c.dim);

    const double gather = SecondsPerCall(min_seconds, [&](size_t b) {
      g_sink = qk::EmbeddingGatherRowBytes(table.data(), row_bytes, indices.data() + b * kBags * kBagSize, kBags * kBagSize);
    });
    auto report = [&](const char* what, double seconds) {
      std::printf("%-10s %-4d %-44s %12.1f %8.2f %10.2f\n", name, c.bits, what,
                  kBags * kBagSize / seconds * 1e-6, bytes / seconds * 1e-9, seconds / gather);
    };
#define QK_UKERNEL(slot, type, isa, function)                                                                        \
  if ((std::string(#slot) == "qu8_embedding_bag") == (c.bits == 8) && qk::IsaIsNative(Isa::isa) &&                \
      qk::CpuSupports(cpu, Isa::isa)) {                                                                              \
    report(#function, SecondsPerCall(min_seconds, [&](size_t b) {                                                    \
             const int32_t* idx = indices.data() + b * kBags * kBagSize;                                             \
             for (size_t i = 0; i < kBags * kBagSize; ++i) rows[i] = table.data() + static_cast<size_t>(idx[i]) * row_bytes; \
             std::fill(out.begin(), out.end(), 0.0f);                                                                \
             for (size_t bag = 0; bag < kBags; ++bag) {                                                              \
               qk::function(c.dim, kBagSize, (kBags - bag) * kBagSize, rows.data() + bag * kBagSize, nullptr,        \
                            out.data() + bag * c.dim);                                                               \
             }                                                                                                       \
             g_sink_float = out[0];                                                                                  \
           }));                                                                                                      \
  }
#include "ukernels/embedding/registry.inc"
#undef QK_UKERNEL
    report("gather loop (EmbeddingGatherRowBytes)", gather);

    // The op against its kernel (the dispatched one), on the same batches.
    const qk::DispatchTable& kernels = qk::Dispatch();
    qk::EmbeddingBagU8Fn* const kernel = c.bits == 8 ? kernels.qu8_embedding_bag : kernels.qu4_embedding_bag;
    std::vector<const uint8_t*> resolved(kPool * kBags * kBagSize);
    for (size_t i = 0; i < resolved.size(); ++i) resolved[i] = table.data() + static_cast<size_t>(indices[i]) * row_bytes;
    const double kernel_only = SecondsPerCall(min_seconds, [&](size_t b) {
      const uint8_t* const* batch = resolved.data() + b * kBags * kBagSize;
      for (size_t bag = 0; bag < kBags; ++bag) {
        std::fill(out.begin() + bag * c.dim, out.begin() + (bag + 1) * c.dim, 0.0f);
        kernel(c.dim, kBagSize, (kBags - bag) * kBagSize, batch + bag * kBagSize, nullptr, out.data() + bag * c.dim);
      }
      g_sink_float = out[0];
    });
    std::vector<int32_t> offsets(kBags);
    for (size_t b = 0; b < kBags; ++b) offsets[b] = static_cast<int32_t>(b * kBagSize);
    const double op = SecondsPerCall(min_seconds, [&](size_t b) {
      qk::EmbeddingBagArgs args;
      args.table = {table.data(), table.size(), c.rows, row_bytes, c.bits};
      args.indices = {indices.data() + b * kBags * kBagSize, kBags * kBagSize, false};
      args.offsets = {offsets.data(), kBags, false};
      const qk::Status status = qk::EmbeddingBagLookup(args, out.data(), out.size());
      if (!status.ok()) std::abort();
      g_sink_float = out[0];
    });
    report("kernel alone, rows resolved beforehand", kernel_only);
    report("op (EmbeddingBagLookup, 1 thread)", op);
    std::printf("%-10s %-4d %-44s %9.2f us per call (%.2f us kernel, %.2f us op)\n", name, c.bits,
                "op - kernel: checks, resolution, zeroing", (op - kernel_only) * 1e6, kernel_only * 1e6, op * 1e6);
  }
  return 0;
}
