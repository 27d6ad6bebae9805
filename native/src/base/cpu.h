// CPU feature detection: what the processor and the OS let qkernels use.
#pragma once

#include "base/isa.h"

namespace qk {

// Every flag is true only when both the CPU reports it and the OS saves the
// register state it needs (x86: XCR0 bits for YMM / ZMM via xgetbv).
struct CpuFeatures {
  bool sse41 = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512vpopcntdq = false;  // VPOPCNTD/Q: the binary kernels' popcount (not an ISA level)
  bool avx512bitalg = false;     // VPOPCNTB/W (reported only)
  bool avx512vbmi = false;       // VPERMI2B: the avx512vnni byte lookup's 4-instruction path (not an ISA level)
  bool avxvnni = false;
  bool neon = false;
  bool dotprod = false;
  bool i8mm = false;
  bool fp16 = false;
};

// Detected once, on first call; the result never changes afterwards.
const CpuFeatures& GetCpuFeatures();

// True when the CPU can execute kernels of this level.
bool CpuSupports(const CpuFeatures& features, Isa isa);

// The highest level this CPU can execute.
Isa BestSupportedIsa(const CpuFeatures& features);

}  // namespace qk
