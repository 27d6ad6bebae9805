// Tests of the native base: CPU detection, the dispatch tables and the ISA cap, the thread pool's split.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/cpu.h"
#include "base/threadpool.h"
#include "harness.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace test {
namespace {

const Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot};

// Puts the cap back to the run's level, whatever a case did to it.
struct RestoreCap {
  ~RestoreCap() {
    std::string error;
    SetMaxIsa(GetOptions().isa, &error);
  }
};

QK_TEST(kIsa, "cpu/best-isa-consistent") {
  const CpuFeatures& f = GetCpuFeatures();
  const Isa best = BestSupportedIsa(f);
  ctx.Check(BestIsa() == best, std::string("BestIsa() ") + IsaName(BestIsa()) + " but BestSupportedIsa " +
                                   IsaName(best));
  ctx.Check(CpuSupports(f, best), "the best level is not supported");
  ctx.Check(CpuSupports(f, Isa::kScalar), "scalar must always be supported");
  for (Isa isa : kAllIsas) {
    const bool supported = CpuSupports(f, isa);
    if (!IsaIsNative(isa)) {
      ctx.Check(!supported, std::string(IsaName(isa)) + " is of another architecture but reported supported");
    } else {
      // Levels of one architecture are ordered: exactly those up to the best are supported.
      ctx.Check(supported == (IsaRank(isa) <= IsaRank(best)),
                std::string(IsaName(isa)) + " support disagrees with best level " + IsaName(best));
    }
  }
  // A level implies the features its kernels are compiled for.
  if (CpuSupports(f, Isa::kAvx2)) ctx.Check(f.avx2 && f.fma, "avx2 level without avx2+fma");
  if (CpuSupports(f, Isa::kAvx512Vnni)) {
    ctx.Check(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni,
              "avx512vnni level without its features");
  }
  if (CpuSupports(f, Isa::kNeonDot)) ctx.Check(f.neon && f.dotprod, "neondot level without dotprod");
  if (f.avx512f) ctx.Check(f.avx2, "avx512f reported without avx2 (XCR0 / cpuid decoding)");
  std::printf("    cpu: best %s; avx2 %d fma %d avx512f %d bw %d vl %d dq %d vnni %d avxvnni %d neon %d "
              "dotprod %d i8mm %d\n",
              IsaName(best), f.avx2, f.fma, f.avx512f, f.avx512bw, f.avx512vl, f.avx512dq, f.avx512vnni, f.avxvnni,
              f.neon, f.dotprod, f.i8mm);
}

QK_TEST(kIsa, "dispatch/set-max-isa-caps") {
  RestoreCap restore;
  const Isa best = BestIsa();
  for (Isa isa : kAllIsas) {
    if (!IsaIsNative(isa)) continue;
    std::string error;
    if (!ctx.Check(SetMaxIsa(isa, &error), std::string("SetMaxIsa(") + IsaName(isa) + ") refused: " + error)) continue;
    const Isa expected = IsaRank(isa) < IsaRank(best) ? isa : best;
    ctx.Check(ActiveIsa() == expected, std::string("cap ") + IsaName(isa) + ": active " + IsaName(ActiveIsa()) +
                                           ", expected " + IsaName(expected));
    ctx.Check(Dispatch().isa == expected, std::string("cap ") + IsaName(isa) + ": Dispatch() table is for " +
                                              IsaName(Dispatch().isa));
  }
}

QK_TEST(kIsa, "dispatch/foreign-isa-refused") {
  RestoreCap restore;
  const Isa before = ActiveIsa();
  for (Isa isa : kAllIsas) {
    if (IsaIsNative(isa)) continue;
    std::string error;
    ctx.Check(!SetMaxIsa(isa, &error), std::string("SetMaxIsa(") + IsaName(isa) + ") accepted on this architecture");
    ctx.Check(error.find(IsaName(isa)) != std::string::npos, "refusal message does not name the level: " + error);
    ctx.Check(ActiveIsa() == before, "a refused cap changed the active level");
  }
}

QK_TEST(kIsa, "dispatch/tables-follow-registry") {
  const CpuFeatures& f = GetCpuFeatures();
  for (Isa level : kAllIsas) {
    if (!CpuSupports(f, level)) continue;
    const DispatchTable& table = DispatchFor(level);
    ctx.Check(table.isa == level, std::string("DispatchFor(") + IsaName(level) + ").isa is " + IsaName(table.isa));
    // The expected kernel of each slot: the last registry line this CPU runs at or below the level.
    DispatchTable expected;
#define QK_UKERNEL(slot, type, isa, function)                                                     \
  if (IsaIsNative(Isa::isa) && CpuSupports(f, Isa::isa) && IsaRank(Isa::isa) <= IsaRank(level)) \
    expected.slot = &function;
#include "ukernels/registry.inc"
#undef QK_UKERNEL
#define QK_SLOT(slot, type)                                                                                 \
  ctx.Check(table.slot != nullptr, std::string(IsaName(level)) + " table has no kernel for " #slot);      \
  ctx.Check(table.slot == expected.slot, std::string(IsaName(level)) + " table: unexpected kernel for " #slot);
#include "ukernels/registry.inc"
#undef QK_SLOT
  }
}

QK_TEST(kIsa, "isa/names-round-trip") {
  for (Isa isa : kAllIsas) {
    Isa parsed;
    ctx.Check(ParseIsa(IsaName(isa), &parsed) && parsed == isa, std::string("ParseIsa(") + IsaName(isa) + ")");
  }
  Isa parsed;
  ctx.Check(!ParseIsa("avx512", &parsed) && !ParseIsa("", &parsed) && !ParseIsa(nullptr, &parsed),
            "ParseIsa accepted a bad name");
  ctx.Check(EnvMaxIsaError().empty() || std::getenv("QKERNELS_MAX_ISA") != nullptr,
            "EnvMaxIsaError set without QKERNELS_MAX_ISA: " + EnvMaxIsaError());
}

QK_TEST(kIsa, "threadpool/split-range") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{64}, size_t{65}, size_t{1000}, size_t{100003}}) {
    for (size_t parts : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{7}, size_t{64}}) {
      for (size_t align : {size_t{1}, size_t{2}, size_t{64}}) {
        size_t begin, end;
        const size_t count = SplitRange(n, parts, align, 0, &begin, &end);
        size_t expected_begin = 0;
        bool ok = count >= 1 && count <= parts;
        for (size_t t = 0; t < count && ok; ++t) {
          SplitRange(n, parts, align, t, &begin, &end);
          ok = begin == expected_begin && end >= begin && end <= n && begin % align == 0 &&
               (end == n || end % align == 0);
          expected_begin = end;
        }
        ok = ok && expected_begin == n;
        ctx.Check(ok, "SplitRange(n=" + std::to_string(n) + ", parts=" + std::to_string(parts) + ", align=" +
                          std::to_string(align) + ") does not tile [0, n) in aligned, ordered ranges");
      }
    }
  }
}

QK_TEST(kIsa, "threadpool/parallel-for") {
  for (int threads : kThreadCounts) {
    SetNumThreads(threads);
    ctx.Check(GetNumThreads() == threads, "GetNumThreads() after SetNumThreads(" + std::to_string(threads) + ")");
    for (size_t count : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{17}, size_t{100}}) {
      std::vector<std::atomic<int>> runs(count);
      for (auto& r : runs) r = 0;
      std::atomic<int> nested{0};
      ParallelFor(count, [&](size_t task) {
        runs[task]++;
        // A region inside a region runs inline on this thread instead of deadlocking.
        ParallelFor(2, [&](size_t) { nested++; });
      });
      bool once = true;
      for (auto& r : runs) once = once && r == 1;
      ctx.Check(once, "ParallelFor(" + std::to_string(count) + ") with " + std::to_string(threads) +
                          " threads did not run every task exactly once");
      ctx.Check(nested == static_cast<int>(2 * count), "nested ParallelFor lost tasks");
    }
  }
  SetNumThreads(1);
}

// Regions back to back, as a traced plan runs them: the caller returns when the tasks are done,
// not when every worker has woken, so a worker that wakes late must never run a task of a region
// that has ended (the task would run twice, or on a dead closure). Each region counts its own
// tasks into its own slot, and the slots are checked after every region and at the end.
QK_TEST(kIsa, "threadpool/back-to-back-regions") {
  for (int threads : {2, 3, 4}) {
    SetNumThreads(threads);
    constexpr int kRegions = 20000;
    std::vector<std::atomic<int>> ran(kRegions);
    for (auto& r : ran) r = 0;
    bool ok = true;
    for (int region = 0; region < kRegions && ok; ++region) {
      const size_t count = 2 + static_cast<size_t>(region % 7);
      std::vector<std::atomic<int>> once(count);
      for (auto& o : once) o = 0;
      ParallelFor(count, [&, region](size_t task) {
        once[task]++;
        ran[region]++;
      });
      for (auto& o : once) ok = ok && o == 1;
      ok = ok && ran[region] == static_cast<int>(count);
    }
    ctx.Check(ok, "with " + std::to_string(threads) + " threads a task ran twice, not at all, or after its region returned");
    // Give a late worker time to act on a stale region, then look again.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    bool still = true;
    for (int region = 0; region < kRegions; ++region) still = still && ran[region] == 2 + region % 7;
    ctx.Check(still, "a region's task ran after ParallelFor returned (" + std::to_string(threads) + " threads)");
  }
  SetNumThreads(1);
}

}  // namespace
}  // namespace test
}  // namespace qk
