// Instruction-throughput bound of the binary kernels against the int8 (VNNI) ones on this CPU: XOR + VPOPCNTQ + VPADDQ vs VPDPBUSD, one thread.
//
//   g++ -O3 -mavx512f -mavx512bw -mavx512vpopcntdq -mavx512vnni bench/binary-peak.cc -o /tmp/binary-peak && /tmp/binary-peak
//
// -O3, as the addon: GCC 12 at -O2 keeps the accumulator arrays in memory, and the loops then
// measure store-to-load forwarding (0.69 / 0.55 ns on Zen 4) instead of the instructions.
//
// Each loop keeps 12 independent accumulators, so it measures throughput, not latency; the
// process CPU clock is used (the machine is shared), best of 3. The printed ratio
// (bit-products per second over int8 MACs per second, both at their instruction peak) is the
// most a binary conv can gain over an int8 conv that runs at the VNNI peak (doc/binary.md).
#include <immintrin.h>
#include <time.h>

#include <cstdint>
#include <cstdio>

namespace {

double CpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

constexpr int kChains = 12;

// The lanes' sum through memory (GCC 12 warns inside its own _mm512_reduce_add_*, bug 105593).
uint64_t LaneSum(__m512i v) {
  uint64_t lanes[8];
  _mm512_storeu_si512(lanes, v);
  uint64_t s = 0;
  for (uint64_t x : lanes) s += x;
  return s;
}

// The binary kernels' inner step: acc += popcount(x XOR w), 512 bit-products.
__attribute__((noinline)) uint64_t XorPopcount(long iters, __m512i w) {
  __m512i acc[kChains], x[kChains];
  for (int i = 0; i < kChains; ++i) {
    acc[i] = _mm512_setzero_si512();
    x[i] = _mm512_set1_epi64(0x9E3779B97F4A7C15ll * (i + 1));
  }
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_add_epi64(acc[i], _mm512_popcnt_epi64(_mm512_xor_si512(x[i], w)));
    __asm__ volatile("" : "+v"(w));  // a new w each iteration: nothing is hoisted out of the loop
  }
  __m512i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi64(s, acc[i]);
  return LaneSum(s);
}

// The int8 kernels' inner step: acc += u8 x s8 dot products, 64 MACs.
__attribute__((noinline)) uint64_t Dpbusd(long iters, __m512i w) {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  __m512i x = _mm512_set1_epi32(0x01020304);
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], x, w);
    __asm__ volatile("" : "+v"(x));
  }
  __m512i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, acc[i]);
  return LaneSum(s);
}

template <typename F>
double SecondsPerStep(F f) {
  const long iters = 20000000;
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const double t0 = CpuSeconds();
    volatile uint64_t sink = f(iters, _mm512_set1_epi64(77));
    (void)sink;
    const double t = CpuSeconds() - t0;
    if (t < best) best = t;
  }
  return best / (static_cast<double>(iters) * kChains);
}

}  // namespace

int main() {
  const double xp = SecondsPerStep(XorPopcount), dp = SecondsPerStep(Dpbusd);
  std::printf("XOR+VPOPCNTQ+VPADDQ zmm: %.3f ns per 512 bit-products = %.0f G bit-products/s\n", xp * 1e9, 512 / xp / 1e9);
  std::printf("VPDPBUSD zmm:            %.3f ns per 64 MACs          = %.0f G MAC/s\n", dp * 1e9, 64 / dp / 1e9);
  std::printf("peak ratio binary / int8: %.2fx\n", (512 / xp) / (64 / dp));
  return 0;
}
