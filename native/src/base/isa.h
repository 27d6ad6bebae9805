// Instruction-set levels qkernels dispatches on, their names and their order.
#pragma once

#include <cstdint>

namespace qk {

// One level per kernel family. Levels of one architecture are totally ordered
// (each implies the ones below it), so a cap is a single value: x86 is
// scalar < avx2 < avx512vnni, arm64 is scalar < neon < neondot.
enum class Isa : int {
  kScalar = 0,
  kAvx2 = 1,
  kAvx512Vnni = 2,
  kNeon = 3,
  kNeonDot = 4,
};

constexpr int kIsaCount = 5;

// Rank within the architecture family: scalar 0, avx2/neon 1, avx512vnni/neondot 2.
int IsaRank(Isa isa);
// True when the level belongs to the architecture this binary was compiled for.
bool IsaIsNative(Isa isa);
const char* IsaName(Isa isa);
// Parses "scalar" | "avx2" | "avx512vnni" | "neon" | "neondot". Returns false on anything else.
bool ParseIsa(const char* name, Isa* out);

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define QK_ARCH_X86 1
#else
#define QK_ARCH_X86 0
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define QK_ARCH_ARM64 1
#else
#define QK_ARCH_ARM64 0
#endif

}  // namespace qk
