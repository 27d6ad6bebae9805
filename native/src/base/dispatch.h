// The dispatch table: which microkernel each slot uses, for the ISA level in force.
#pragma once

#include <string>

#include "base/cpu.h"
#include "base/isa.h"
#include "ukernels/ukernels.h"

namespace qk {

// One table per ISA level, each built once and never modified; the level in
// force selects which table Dispatch() returns.
struct DispatchTable {
  Isa isa = Isa::kScalar;
#define QK_SLOT(slot, type) type* slot = nullptr;
#include "ukernels/registry.inc"
#undef QK_SLOT
};

// The table for the level in force: min(best CPU level, cap). Thread-safe.
const DispatchTable& Dispatch();

// The table for one given level (which must be supported by the CPU); used by
// tests and benchmarks to force a path.
const DispatchTable& DispatchFor(Isa isa);

// Level in force and the CPU's best level.
Isa ActiveIsa();
Isa BestIsa();

// Caps the level. Returns false (changing nothing) and sets *error when the
// level belongs to another architecture. A cap above the CPU's best is allowed
// and means "the best".
bool SetMaxIsa(Isa cap, std::string* error);

// The message from parsing QKERNELS_MAX_ISA at start-up, empty when it was
// unset or valid. An invalid value is ignored (the best level is used) so that
// a typo never stops a server from loading.
const std::string& EnvMaxIsaError();

// PyTorch's quantized engine (torch.backends.quantized.engine), whose arithmetic the ops
// reproduce: the engines share the int32 accumulation and differ in the output stage (and
// in a few elementwise ops); doc/numerics.md has each engine's formulas. kX86 is torch 2.x's
// name for the fbgemm-based engine: fbgemm's numerics under its own name.
enum class QEngine : int { kFbgemm = 0, kX86 = 1, kOnednn = 2, kQnnpack = 3 };

const char* QEngineName(QEngine engine);
// Parses "fbgemm" | "x86" | "onednn" | "qnnpack". Returns false on anything else.
bool ParseQEngine(const char* name, QEngine* out);
// The engine in force (default fbgemm on every CPU, or QKERNELS_QUANTIZED_ENGINE's value).
// Process-wide and atomic: ops read it once when they prepare a call, so an async call
// computes with the engine in force when it was made.
QEngine ActiveQEngine();
void SetQEngine(QEngine engine);
// The engine whose formulas apply: kX86 -> kFbgemm, the others themselves.
inline QEngine EngineNumerics(QEngine engine) { return engine == QEngine::kX86 ? QEngine::kFbgemm : engine; }
// The message from parsing QKERNELS_QUANTIZED_ENGINE at start-up ('' when unset or valid);
// a bad value is ignored (fbgemm is used), as a bad QKERNELS_MAX_ISA is.
const std::string& EnvQEngineError();

}  // namespace qk
