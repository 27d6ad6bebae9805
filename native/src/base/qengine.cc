// The quantized engine in force: QKERNELS_QUANTIZED_ENGINE at start-up, SetQEngine after.
#include "base/qengine.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace qk {
namespace {

struct EngineState {
  std::atomic<int> active{static_cast<int>(QEngine::kFbgemm)};
  std::string env_error;
  EngineState() {
    const char* env = std::getenv("QKERNELS_QUANTIZED_ENGINE");
    if (env == nullptr || *env == '\0') return;
    QEngine engine;
    if (ParseQEngine(env, &engine)) {
      active.store(static_cast<int>(engine));
    } else {
      env_error = std::string("QKERNELS_QUANTIZED_ENGINE: expected one of fbgemm, x86, onednn, qnnpack but received '") +
                  env + "'; using fbgemm";
    }
  }
};

EngineState& GetEngineState() {
  static EngineState* state = new EngineState();  // never destroyed (ops may run at exit)
  return *state;
}

}  // namespace

const char* QEngineName(QEngine engine) {
  switch (engine) {
    case QEngine::kFbgemm: return "fbgemm";
    case QEngine::kX86: return "x86";
    case QEngine::kOnednn: return "onednn";
    case QEngine::kQnnpack: return "qnnpack";
  }
  return "fbgemm";
}

bool ParseQEngine(const char* name, QEngine* out) {
  const QEngine all[] = {QEngine::kFbgemm, QEngine::kX86, QEngine::kOnednn, QEngine::kQnnpack};
  for (QEngine engine : all) {
    if (std::strcmp(name, QEngineName(engine)) == 0) {
      *out = engine;
      return true;
    }
  }
  return false;
}

QEngine ActiveQEngine() { return static_cast<QEngine>(GetEngineState().active.load(std::memory_order_acquire)); }

void SetQEngine(QEngine engine) { GetEngineState().active.store(static_cast<int>(engine), std::memory_order_release); }

const std::string& EnvQEngineError() { return GetEngineState().env_error; }

}  // namespace qk
