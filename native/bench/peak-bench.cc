// qk_bench_peak: the machine's single-thread int8 multiply-accumulate peak per ISA level, measured with dependency-free instruction loops.
//
//   qk_bench_peak [--min-seconds S] [--clock wall|cpu] [--json]
//
// Each loop keeps several independent accumulators busy so that only the
// throughput of the multiply units limits it (never the latency of one chain):
//   avx2        vpmaddubsw (u8 x s8 -> s16 pairs) + vpmaddwd (pairs -> s32) + vpaddd,
//               the AVX2 int8 inner loop; one group = 32 multiply-adds = 64 ops.
//   avx512vnni  vpdpbusd zmm (u8 x s8 -> s32 quads, accumulating); 64 multiply-adds = 128 ops.
//   neon        smull + smlal2 (s8 x s8 -> s16) + sadalp (-> s32); 16 multiply-adds = 32 ops.
//   neondot     sdot (s8 x s8 -> s32 quads, accumulating); 16 multiply-adds = 32 ops.
// Ops count a multiply and an add separately (2 per multiply-add), as GOPS = 2*M*N*K/t
// does. The file needs no library and no ISA flags (asm, run-time CPU checks), so the
// bench can build it with a bare `c++ -O2` on a fresh machine; CMake also builds it as
// qk_bench_peak. Levels the CPU lacks print "unavailable".
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <string>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace {

// Seconds on the chosen clock: wall (steady_clock) or this process's CPU time (std::clock),
// which on a shared machine leaves out the time spent waiting for a core.
bool g_cpu_clock = false;
double Now() {
  if (g_cpu_clock) return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Result {
  const char* isa;
  const char* loop;
  bool available;
  const char* why;  // when unavailable
  double gops;
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QK_PEAK_X86 1

// 6 independent groups per step, 4 steps per call: ymm0 = a (u8), ymm1 = b (s8),
// ymm2 = int16 ones, ymm3..8 temporaries, ymm9..14 accumulators.
#define QK_AVX2_GROUP(t, acc)                \
  "vpmaddubsw %%ymm1, %%ymm0, %%ymm" t "\n\t" \
  "vpmaddwd %%ymm2, %%ymm" t ", %%ymm" t "\n\t" \
  "vpaddd %%ymm" t ", %%ymm" acc ", %%ymm" acc "\n\t"
#define QK_AVX2_STEP                                                                 \
  QK_AVX2_GROUP("3", "9") QK_AVX2_GROUP("4", "10") QK_AVX2_GROUP("5", "11")          \
  QK_AVX2_GROUP("6", "12") QK_AVX2_GROUP("7", "13") QK_AVX2_GROUP("8", "14")
constexpr double kAvx2OpsPerCall = 4 * 6 * 64.0;

__attribute__((target("avx2"))) void Avx2Loop(size_t calls) {
  asm volatile(
      "vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
      "vpabsb %%ymm0, %%ymm0\n\t"  // a = 1 (u8)
      "vmovdqa %%ymm0, %%ymm1\n\t"  // b = 1 (s8)
      "vpcmpeqd %%ymm2, %%ymm2, %%ymm2\n\t"
      "vpabsw %%ymm2, %%ymm2\n\t"  // int16 ones
      "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
      "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
      "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
      "vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
      "vpxor %%ymm13, %%ymm13, %%ymm13\n\t"
      "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
      ::: "xmm0", "xmm1", "xmm2", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");
  for (size_t i = 0; i < calls; ++i) {
    asm volatile(QK_AVX2_STEP QK_AVX2_STEP QK_AVX2_STEP QK_AVX2_STEP
                 ::: "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                     "xmm11", "xmm12", "xmm13", "xmm14");
  }
  asm volatile("vzeroupper" ::: "memory");
}

// 12 independent accumulators (vpdpbusd has a latency of up to 5 cycles at 2 per cycle).
#define QK_VNNI_ONE(acc) "vpdpbusd %%zmm1, %%zmm0, %%zmm" acc "\n\t"
#define QK_VNNI_STEP                                                                   \
  QK_VNNI_ONE("4") QK_VNNI_ONE("5") QK_VNNI_ONE("6") QK_VNNI_ONE("7") QK_VNNI_ONE("8")  \
  QK_VNNI_ONE("9") QK_VNNI_ONE("10") QK_VNNI_ONE("11") QK_VNNI_ONE("12")                \
  QK_VNNI_ONE("13") QK_VNNI_ONE("14") QK_VNNI_ONE("15")
constexpr double kVnniOpsPerCall = 4 * 12 * 128.0;

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void VnniLoop(size_t calls) {
  asm volatile(
      "vpternlogd $0xff, %%zmm0, %%zmm0, %%zmm0\n\t"
      "vpabsb %%zmm0, %%zmm0\n\t"
      "vmovdqa64 %%zmm0, %%zmm1\n\t"
      "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"
      "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"
      "vpxord %%zmm6, %%zmm6, %%zmm6\n\t"
      "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
      "vpxord %%zmm8, %%zmm8, %%zmm8\n\t"
      "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"
      "vpxord %%zmm10, %%zmm10, %%zmm10\n\t"
      "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"
      "vpxord %%zmm12, %%zmm12, %%zmm12\n\t"
      "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"
      "vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
      "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
      ::: "xmm0", "xmm1", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  for (size_t i = 0; i < calls; ++i) {
    asm volatile(QK_VNNI_STEP QK_VNNI_STEP QK_VNNI_STEP QK_VNNI_STEP
                 ::: "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                     "xmm12", "xmm13", "xmm14", "xmm15");
  }
  asm volatile("vzeroupper" ::: "memory");
}

#endif  // x86-64

#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define QK_PEAK_ARM64 1
// neon: the widening int8 inner loop, smull + smlal2 (16 s8 x s8 products into int16 pairs)
// then sadalp (pairwise add into int32): one group = 16 multiply-adds = 32 ops.
// 6 groups per step: v0/v1 = operands, v2..v7 int16 temporaries, v16..v21 int32 accumulators.
#define QK_NEON_GROUP(t, acc)                         \
  "smull v" t ".8h, v0.8b, v1.8b\n\t"                  \
  "smlal2 v" t ".8h, v0.16b, v1.16b\n\t"               \
  "sadalp v" acc ".4s, v" t ".8h\n\t"
#define QK_NEON_STEP                                                              \
  QK_NEON_GROUP("2", "16") QK_NEON_GROUP("3", "17") QK_NEON_GROUP("4", "18")      \
  QK_NEON_GROUP("5", "19") QK_NEON_GROUP("6", "20") QK_NEON_GROUP("7", "21")
constexpr double kNeonOpsPerCall = 4 * 6 * 32.0;

void NeonLoop(size_t calls) {
  for (size_t i = 0; i < calls; ++i) {
    asm volatile(QK_NEON_STEP QK_NEON_STEP QK_NEON_STEP QK_NEON_STEP
                 ::: "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21");
  }
}

// neondot: sdot (s8 x s8 quads into int32, accumulating), 12 accumulators; 16 multiply-adds = 32 ops.
#define QK_SDOT_ONE(acc) "sdot v" acc ".4s, v0.16b, v1.16b\n\t"
#define QK_SDOT_STEP                                                                  \
  QK_SDOT_ONE("16") QK_SDOT_ONE("17") QK_SDOT_ONE("18") QK_SDOT_ONE("19")              \
  QK_SDOT_ONE("20") QK_SDOT_ONE("21") QK_SDOT_ONE("22") QK_SDOT_ONE("23")              \
  QK_SDOT_ONE("24") QK_SDOT_ONE("25") QK_SDOT_ONE("26") QK_SDOT_ONE("27")
constexpr double kSdotOpsPerCall = 4 * 12 * 32.0;

__attribute__((target("arch=armv8.2-a+dotprod"))) void SdotLoop(size_t calls) {
  for (size_t i = 0; i < calls; ++i) {
    asm volatile(QK_SDOT_STEP QK_SDOT_STEP QK_SDOT_STEP QK_SDOT_STEP
                 ::: "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27");
  }
}

bool CpuHasDotprod() {
#if defined(__linux__)
  return (getauxval(AT_HWCAP) & (1UL << 20)) != 0;  // HWCAP_ASIMDDP
#elif defined(__APPLE__)
  return true;  // every Apple arm64 CPU has it
#else
  return false;
#endif
}
#endif  // aarch64

// Ops per second of loop(calls), best of several runs of at least min_seconds in all.
template <typename Loop>
double MeasureGops(Loop loop, double ops_per_call, double min_seconds) {
  size_t calls = 1 << 14;
  loop(calls);  // warm up (and let the clock ramp)
  // Grow the batch until one run takes about 20 ms, so the timer's resolution is irrelevant.
  for (;;) {
    const double start = Now();
    loop(calls);
    const double s = Now() - start;
    if (s > 0.02) break;
    calls *= 2;
  }
  double best = 0, total = 0;
  int runs = 0;
  while (total < min_seconds || runs < 5) {
    const double start = Now();
    loop(calls);
    const double s = Now() - start;
    total += s;
    ++runs;
    const double gops = ops_per_call * static_cast<double>(calls) / s / 1e9;
    if (gops > best) best = gops;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.3;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--clock") == 0 && i + 1 < argc &&
               (std::strcmp(argv[i + 1], "cpu") == 0 || std::strcmp(argv[i + 1], "wall") == 0)) {
      g_cpu_clock = std::strcmp(argv[++i], "cpu") == 0;
    } else if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      std::fprintf(stderr, "usage: %s [--min-seconds S] [--clock wall|cpu] [--json]\n", argv[0]);
      return 2;
    }
  }
  // The levels of this architecture, lowest first (scalar has no multiply-accumulate peak loop).
#if defined(QK_PEAK_ARM64)
  Result results[] = {
      {"neon", "smull+smlal2+sadalp, 6 accumulators", true, "", 0},
      {"neondot", "sdot, 12 accumulators", false, "", 0},
  };
  results[0].gops = MeasureGops(NeonLoop, kNeonOpsPerCall, min_seconds);
  if (CpuHasDotprod()) {
    results[1].available = true;
    results[1].gops = MeasureGops(SdotLoop, kSdotOpsPerCall, min_seconds);
  } else {
    results[1].why = "CPU has no dotprod";
  }
#else
  Result results[] = {
      {"avx2", "vpmaddubsw+vpmaddwd+vpaddd ymm, 6 accumulators", false, "", 0},
      {"avx512vnni", "vpdpbusd zmm, 12 accumulators", false, "", 0},
  };
#if defined(QK_PEAK_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    results[0].available = true;
    results[0].gops = MeasureGops(Avx2Loop, kAvx2OpsPerCall, min_seconds);
  } else {
    results[0].why = "CPU has no AVX2";
  }
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni")) {
    results[1].available = true;
    results[1].gops = MeasureGops(VnniLoop, kVnniOpsPerCall, min_seconds);
  } else {
    results[1].why = "CPU has no AVX-512 VNNI";
  }
#else
  results[0].why = results[1].why = "not an x86-64 or arm64 build with GCC/Clang";
#endif
#endif
  const int count = static_cast<int>(sizeof(results) / sizeof(results[0]));
  if (json) {
    std::printf("[");
    for (int i = 0; i < count; ++i) {
      const Result& r = results[i];
      std::printf("%s{\"isa\":\"%s\",\"loop\":\"%s\",\"available\":%s,\"why\":\"%s\",\"gops\":%.3f}",
                  i ? "," : "", r.isa, r.loop, r.available ? "true" : "false", r.why, r.gops);
    }
    std::printf("]\n");
  } else {
    for (const Result& r : results) {
      if (r.available) {
        std::printf("%-11s %8.1f GOPS  (%s)\n", r.isa, r.gops, r.loop);
      } else {
        std::printf("%-11s unavailable: %s\n", r.isa, r.why);
      }
    }
  }
  return 0;
}
