// CPU feature detection: cpuid + xgetbv on x86, getauxval / sysctlbyname on arm64.
#include "base/cpu.h"

#if QK_ARCH_X86
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#if QK_ARCH_ARM64
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1UL << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#elif defined(_WIN32)
#include <windows.h>
#endif
#endif

#include <cstdint>

namespace qk {
namespace {

#if QK_ARCH_X86
void Cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
#if defined(_MSC_VER)
  int r[4];
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(subleaf));
  for (int i = 0; i < 4; ++i) regs[i] = static_cast<uint32_t>(r[i]);
#else
  __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
#endif
}

// XCR0 says which register files the OS saves on a context switch; a CPU
// that has AVX-512 under an OS that does not save ZMM state must not use it.
uint64_t ReadXcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
#endif
}

CpuFeatures DetectX86() {
  CpuFeatures f;
  uint32_t r[4];
  Cpuid(0, 0, r);
  const uint32_t max_leaf = r[0];
  if (max_leaf < 1) return f;
  Cpuid(1, 0, r);
  const bool osxsave = (r[2] >> 27) & 1;
  const bool avx = (r[2] >> 28) & 1;
  f.sse41 = (r[2] >> 19) & 1;
  const bool fma = (r[2] >> 12) & 1;
  const bool f16c = (r[2] >> 29) & 1;
  uint64_t xcr0 = osxsave ? ReadXcr0() : 0;
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;           // SSE + AVX state
  const bool zmm_saved = ymm_saved && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (!(avx && ymm_saved) || max_leaf < 7) return f;
  f.fma = fma;
  f.f16c = f16c;
  Cpuid(7, 0, r);
  const uint32_t ebx7 = r[1], ecx7 = r[2];
  f.avx2 = (ebx7 >> 5) & 1;
  Cpuid(7, 1, r);
  f.avxvnni = f.avx2 && ((r[0] >> 4) & 1);
  if (zmm_saved) {
    f.avx512f = (ebx7 >> 16) & 1;
    f.avx512dq = (ebx7 >> 17) & 1;
    f.avx512bw = (ebx7 >> 30) & 1;
    f.avx512vl = (ebx7 >> 31) & 1;
    f.avx512vnni = f.avx512f && ((ecx7 >> 11) & 1);
    f.avx512bitalg = f.avx512f && ((ecx7 >> 12) & 1);
    f.avx512vbmi = f.avx512f && ((ecx7 >> 1) & 1);
    f.avx512vpopcntdq = f.avx512f && ((ecx7 >> 14) & 1);
  }
  return f;
}
#endif

#if QK_ARCH_ARM64
CpuFeatures DetectArm64() {
  CpuFeatures f;
  f.neon = true;  // Advanced SIMD is mandatory on AArch64.
#if defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  f.neon = (hwcap & HWCAP_ASIMD) != 0;
  f.dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
  f.fp16 = (hwcap & HWCAP_ASIMDHP) != 0;
  f.i8mm = (hwcap2 & HWCAP2_I8MM) != 0;
#elif defined(__APPLE__)
  auto flag = [](const char* name) {
    int value = 0;
    size_t size = sizeof(value);
    return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value != 0;
  };
  f.dotprod = flag("hw.optional.arm.FEAT_DotProd");
  f.i8mm = flag("hw.optional.arm.FEAT_I8MM");
  f.fp16 = flag("hw.optional.arm.FEAT_FP16");
#elif defined(_WIN32)
#ifdef PF_ARM_V82_DP_INSTRUCTIONS_AVAILABLE
  f.dotprod = IsProcessorFeaturePresent(PF_ARM_V82_DP_INSTRUCTIONS_AVAILABLE) != 0;
#endif
#endif
  return f;
}
#endif

CpuFeatures Detect() {
#if QK_ARCH_X86 && defined(QK_TEST_EMULATED_AVX512)
  // Test-only (qk_test_avx512emu, see CMakeLists.txt): that binary's avx512vnni kernels are
  // compiled against an emulated <immintrin.h>, so every CPU can run them; claiming the
  // features lets dispatch, the ops and every test reach them like on real hardware.
  CpuFeatures emulated = DetectX86();
  emulated.avx512f = emulated.avx512bw = emulated.avx512vl = emulated.avx512dq = emulated.avx512vnni = true;
  emulated.avx512vpopcntdq = true;  // the emulation has _mm512_popcnt_epi64 too
  return emulated;
#elif QK_ARCH_X86
  return DetectX86();
#elif QK_ARCH_ARM64
  return DetectArm64();
#else
  return CpuFeatures();
#endif
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();  // thread-safe static init
  return features;
}

bool CpuSupports(const CpuFeatures& f, Isa isa) {
  if (!IsaIsNative(isa)) return false;
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2 && f.fma;
    case Isa::kAvx512Vnni: return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
    case Isa::kNeon: return f.neon;
    case Isa::kNeonDot: return f.neon && f.dotprod;
  }
  return false;
}

Isa BestSupportedIsa(const CpuFeatures& f) {
  static const Isa kDescending[] = {Isa::kAvx512Vnni, Isa::kAvx2, Isa::kNeonDot, Isa::kNeon};
  for (Isa isa : kDescending) {
    if (CpuSupports(f, isa)) return isa;
  }
  return Isa::kScalar;
}

}  // namespace qk
