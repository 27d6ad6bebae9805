// The N-API binding: the addon instance, backend functions, and the families' op registrations; no math and no policy live here.
//
// Rules this file keeps (see doc/foundation-api.md):
// - Context-aware: all state hangs off one Addon instance per Node environment (main
//   thread, each worker_thread, each Electron context); there are no static JS handles.
// - Outputs are ordinary ArrayBuffers created by V8 (NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
//   is defined by both builds), so Electron's V8 sandbox accepts them.
// - Nothing from JS is trusted: every argument's type, every length and every size is
//   checked here again, even though lib/ checked it first and the ops check it too.
// - Sync variants read input buffers in place (no copies). Async variants run the same
//   prepared op on qkernels' async job queue; they copy their inputs into native memory first, because a
//   reference stops garbage collection but not a transfer (postMessage with a transfer
//   list, ArrayBuffer.prototype.transfer), and N-API cannot pin a backing store: reading a
//   caller's buffer off the JS thread could read freed memory. Their output is a fresh
//   ArrayBuffer no JS code can reach until the Promise resolves, so it is written in place.
//   The one exception to the copy, donated inputs (addon/handoff.h), are transferred by the
//   binding first, so no JS code can reach them either while they are read.


#include "addon/common.h"

#include <cmath>
#include <string>
#include <utility>

#include "base/cpu.h"
#include "base/isa.h"
#include "base/snapshot-pool.h"
#include "base/threadpool.h"
#include "ops/quantize.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace {

using namespace addon;  // NOLINT: the helpers of common.h are this file's vocabulary

// Bumped whenever a function's arguments change, so lib/native.ts can refuse a stale build
// instead of calling it with arguments it misreads.
constexpr int kInterfaceVersion = 8;  // 5: the <op>Trace forms and the plan* functions (jit.trace); 6: planShare/planAdopt; 7: donate/recycle/handoffStats; 8: backendInfo freedPages*

class QkAddon : public Napi::Addon<QkAddon> {
 public:
  QkAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
      InstanceValue("interfaceVersion", Napi::Number::New(env, kInterfaceVersion), napi_enumerable),
      InstanceMethod("backendInfo", &QkAddon::BackendInfo),
      InstanceMethod("getIsa", &QkAddon::GetIsa),
      InstanceMethod("setMaxIsa", &QkAddon::SetMaxIsa),
      InstanceMethod("quantizedEngine", &QkAddon::QuantizedEngine),
      InstanceMethod("setQuantizedEngine", &QkAddon::SetQuantizedEngine),
      InstanceMethod("getNumThreads", &QkAddon::GetNumThreads),
      InstanceMethod("setNumThreads", &QkAddon::SetNumThreads),
      InstanceMethod("chooseQuantizationParams", &QkAddon::ChooseQParams),
      InstanceMethod("snapshotPoolStats", &QkAddon::SnapshotPoolStats),
    });
    // The ops: each family's functions, plain functions with no per-instance state.
    addon::KeepFreedOutputPages();  // process-wide, before the first output (addon/handoff.h)
    addon::RegisterQuantizeOps(env, exports);
    addon::RegisterLinearConvOps(env, exports);
    addon::RegisterEmbeddingOps(env, exports);
    addon::RegisterElementwiseOps(env, exports);
    addon::RegisterPoolNormOps(env, exports);
    addon::RegisterBinaryOps(env, exports);
    addon::RegisterPlanOps(env, exports);
    addon::RegisterReduceOps(env, exports);
    addon::RegisterHandleOps(env, exports);
    addon::RegisterHandoffOps(env, exports);
  }

 private:

  // { isa, bestIsa, features: string[], threads, envMaxIsaError, quantizedEngine, envQuantizedEngineError,
  //   freedPagesKept, freedPagesPolicy, envKeepFreedError }
  Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const CpuFeatures& cpu = GetCpuFeatures();
    const std::pair<const char*, bool> kFlags[] = {
        {"sse4.1", cpu.sse41},         {"avx2", cpu.avx2},         {"fma", cpu.fma},
        {"f16c", cpu.f16c},            {"avx512f", cpu.avx512f},   {"avx512bw", cpu.avx512bw},
        {"avx512vl", cpu.avx512vl},    {"avx512dq", cpu.avx512dq}, {"avx512vnni", cpu.avx512vnni},
        {"avxvnni", cpu.avxvnni},      {"neon", cpu.neon},         {"dotprod", cpu.dotprod},
        {"i8mm", cpu.i8mm},            {"fp16", cpu.fp16},
        {"avx512vpopcntdq", cpu.avx512vpopcntdq}, {"avx512bitalg", cpu.avx512bitalg}, {"avx512vbmi", cpu.avx512vbmi},
    };
    Napi::Array features = Napi::Array::New(env);
    uint32_t count = 0;
    for (const auto& flag : kFlags) {
      if (flag.second) features.Set(count++, Napi::String::New(env, flag.first));
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("isa", Napi::String::New(env, IsaName(ActiveIsa())));
    result.Set("bestIsa", Napi::String::New(env, IsaName(BestIsa())));
    result.Set("features", features);
    result.Set("threads", Napi::Number::New(env, qk::GetNumThreads()));
    result.Set("envMaxIsaError", Napi::String::New(env, EnvMaxIsaError()));
    result.Set("quantizedEngine", Napi::String::New(env, QEngineName(ActiveQEngine())));
    result.Set("envQuantizedEngineError", Napi::String::New(env, EnvQEngineError()));
    const FreedPagesPolicy& pages = KeepFreedOutputPages();
    result.Set("freedPagesKept", Napi::Number::New(env, static_cast<double>(pages.kept_bytes)));
    result.Set("freedPagesPolicy", Napi::String::New(env, pages.note));
    result.Set("envKeepFreedError", Napi::String::New(env, pages.env_error));
    return result;
  }

  // { maxIdleBytes, idleBytes, idleBuffers, reused, allocated, evicted }: the process's pool of
  // async input copies (base/snapshot-pool.h), for tests and diagnostics.
  Napi::Value SnapshotPoolStats(const Napi::CallbackInfo& info) {
    const SnapshotPool::Stats stats = SnapshotPool::Process().stats();
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("maxIdleBytes", static_cast<double>(stats.max_idle_bytes));
    result.Set("idleBytes", static_cast<double>(stats.idle_bytes));
    result.Set("idleBuffers", static_cast<double>(stats.idle_buffers));
    result.Set("reused", static_cast<double>(stats.reused));
    result.Set("allocated", static_cast<double>(stats.allocated));
    result.Set("evicted", static_cast<double>(stats.evicted));
    return result;
  }

  Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), IsaName(ActiveIsa())); }

  // setMaxIsa(name) -> the level now in force
  Napi::Value SetMaxIsa(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "string", "isa", info[0]);
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    Isa cap;
    if (!ParseIsa(name.c_str(), &cap)) ThrowRange(env, "one of scalar, avx2, avx512vnni, neon, neondot", "isa", info[0]);
    std::string error;
    if (!qk::SetMaxIsa(cap, &error)) throw Napi::RangeError::New(env, error);
    return Napi::String::New(env, IsaName(ActiveIsa()));
  }

  Napi::Value QuantizedEngine(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), QEngineName(ActiveQEngine()));
  }

  // setQuantizedEngine(name) -> the engine now in force
  Napi::Value SetQuantizedEngine(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "string", "engine", info[0]);
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    QEngine engine;
    if (!ParseQEngine(name.c_str(), &engine)) ThrowRange(env, "one of fbgemm, x86, onednn, qnnpack", "engine", info[0]);
    SetQEngine(engine);
    return Napi::String::New(env, QEngineName(ActiveQEngine()));
  }

  Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), qk::GetNumThreads()); }

  Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
    const double threads = ArgNumber(info, 0, "threads");
    if (!(threads >= 1 && threads <= 256) || std::floor(threads) != threads) ThrowRange(info.Env(), "integer in [1, 256]", "threads", info[0]);
    qk::SetNumThreads(static_cast<int>(threads));
    return info.Env().Undefined();
  }

  // chooseQuantizationParams(x: Float32Array, dtype, reduceRange) -> { scale, zeroPoint }:
  // torch.quantize_per_tensor_dynamic's qparams from the input's min and max.
  Napi::Value ChooseQParams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    View x = ArgTypedArray(info, 0, napi_float32_array, "input");
    const QDType dtype = ArgDType(info, 1);
    const bool reduce_range = ArgBool(info, 2, "reduceRange");
    if (x.length == 0) ThrowRange(env, "non-empty tensor", "input", x.holder);
    const float* data = static_cast<const float*>(x.data);
    // MinMax's contract: callers reject NaN first (and infinities would give an infinite scale).
    if (!AllFinite(data, x.length)) ThrowRange(env, "tensor of finite values", "input", x.holder);
    float min = 0, max = 0;
    MinMax(data, x.length, &min, &max);
    ChosenQParams chosen{};
    const Status status = ChooseQuantizationParams(min, max, dtype, reduce_range, &chosen);
    if (!status.ok()) throw ErrorFromStatus(env, status);
    Napi::Object result = Napi::Object::New(env);
    result.Set("scale", Napi::Number::New(env, chosen.scale));
    result.Set("zeroPoint", Napi::Number::New(env, static_cast<double>(chosen.zero_point)));
    return result;
  }
};

}  // namespace
}  // namespace qk

// The registration macro pastes its argument into an identifier, so it needs an unqualified
// name; the module name is spelled out because cmake-js does not define NODE_GYP_MODULE_NAME.
using QkernelsAddon = qk::QkAddon;
NODE_API_NAMED_ADDON(qkernels, QkernelsAddon)