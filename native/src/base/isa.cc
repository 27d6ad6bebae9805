// Names and ordering of the dispatch levels.
#include "base/isa.h"

#include <cstring>

namespace qk {

int IsaRank(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return 0;
    case Isa::kAvx2: return 1;
    case Isa::kAvx512Vnni: return 2;
    case Isa::kNeon: return 1;
    case Isa::kNeonDot: return 2;
  }
  return 0;
}

bool IsaIsNative(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
    case Isa::kAvx512Vnni: return QK_ARCH_X86 != 0;
    case Isa::kNeon:
    case Isa::kNeonDot: return QK_ARCH_ARM64 != 0;
  }
  return false;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kNeon: return "neon";
    case Isa::kNeonDot: return "neondot";
  }
  return "unknown";
}

bool ParseIsa(const char* name, Isa* out) {
  static const Isa kAll[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot};
  if (name == nullptr) return false;
  for (Isa isa : kAll) {
    if (std::strcmp(name, IsaName(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

}  // namespace qk
