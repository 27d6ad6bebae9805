// Builds one dispatch table per ISA level from the registry, and applies the ISA cap.
#include "ukernels/dispatch.h"

#include <atomic>
#include <cstdlib>

namespace qk {
namespace {

DispatchTable BuildTable(Isa level, const CpuFeatures& cpu) {
  DispatchTable table;
  table.isa = level;
  // A kernel is eligible when it is of this architecture, the CPU runs it, and
  // its level does not exceed the table's. Later registry lines win.
#define QK_UKERNEL(slot, type, isa, function)                                          \
  if (IsaIsNative(Isa::isa) && CpuSupports(cpu, Isa::isa) && IsaRank(Isa::isa) <= IsaRank(level)) \
    table.slot = &function;
#include "ukernels/registry.inc"
#undef QK_UKERNEL
  return table;
}

struct Tables {
  DispatchTable by_isa[kIsaCount];
  Isa best = Isa::kScalar;
  std::string env_error;
  std::atomic<int> active{0};

  Tables() {
    const CpuFeatures& cpu = GetCpuFeatures();
    best = BestSupportedIsa(cpu);
    for (int i = 0; i < kIsaCount; ++i) {
      const Isa isa = static_cast<Isa>(i);
      if (CpuSupports(cpu, isa)) by_isa[i] = BuildTable(isa, cpu);
    }
    Isa level = best;
    if (const char* env = std::getenv("QKERNELS_MAX_ISA")) {
      if (*env != '\0') {
        Isa cap;
        if (!ParseIsa(env, &cap)) {
          env_error = std::string("QKERNELS_MAX_ISA: expected one of scalar, avx2, avx512vnni, neon, neondot but received '") + env + "'; using " + IsaName(best);
        } else if (!IsaIsNative(cap)) {
          env_error = std::string("QKERNELS_MAX_ISA: '") + env + "' is not an ISA of this CPU's architecture; using " + IsaName(best);
        } else if (IsaRank(cap) < IsaRank(best)) {
          level = cap;
        }
      }
    }
    active.store(static_cast<int>(level));
  }
};

Tables& GetTables() {
  static Tables* tables = new Tables();  // built once; never destroyed (kernels may run at exit)
  return *tables;
}

}  // namespace

const DispatchTable& Dispatch() {
  Tables& t = GetTables();
  return t.by_isa[t.active.load(std::memory_order_acquire)];
}

const DispatchTable& DispatchFor(Isa isa) { return GetTables().by_isa[static_cast<int>(isa)]; }

Isa ActiveIsa() { return static_cast<Isa>(GetTables().active.load(std::memory_order_acquire)); }

Isa BestIsa() { return GetTables().best; }

bool SetMaxIsa(Isa cap, std::string* error) {
  Tables& t = GetTables();
  if (!IsaIsNative(cap)) {
    *error = std::string("'") + IsaName(cap) + "' is not an ISA of this CPU's architecture (best available: " + IsaName(t.best) + ")";
    return false;
  }
  const Isa level = IsaRank(cap) < IsaRank(t.best) ? cap : t.best;
  t.active.store(static_cast<int>(level), std::memory_order_release);
  return true;
}

const std::string& EnvMaxIsaError() { return GetTables().env_error; }

}  // namespace qk
