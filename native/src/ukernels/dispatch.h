// The dispatch table: which microkernel each slot uses, for the ISA level in force (built from ukernels/registry.inc).
#pragma once

#include <string>

#include "base/cpu.h"
#include "base/isa.h"
#include "base/qengine.h"  // QEngine (ops read it beside the table)
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

}  // namespace qk
