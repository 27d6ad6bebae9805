// The quantized engine in force (torch.backends.quantized.engine): a process-wide setting the ops read when they prepare a call.
#pragma once

#include <string>

namespace qk {

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
