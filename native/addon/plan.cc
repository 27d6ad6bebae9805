// The binding of traced plans (jit.trace, lib/jit): build a plan from recorded steps, then run it in one call, now or on qkernels' async job queue.
//
// lib/jit records each op through its `<op>Trace` form (common.h RunTrace), which returns a
// "plan step handle"; this file turns those into a qk::Plan (native/src/plan/plan.h):
//   planCreate() -> plan handle
//   planAddInput(plan, bytes, arrayType) -> value id        (arrayType: 'Uint8Array', ..., 'BigUint64Array')
//   planAddConstant(plan, typedArray) -> value id           (bytes copied into the plan)
//   planAddView(plan, base, byteOffset, bytes) -> value id
//   planAddStep(plan, stepHandle, inputIds: Float64Array) -> value id
//   planAddOutput(plan, value, arrayType)
//   planFinalize(plan, fuse?) -> { arenaBytes, intermediateBytes, steps, fusion }
//     fuse (default false): run the fusion passes first (plan/fusion.h); fusion: { convAdd,
//     merged: Float64Array of (conv value, add value) pairs, unfusedArenaBytes,
//     unfusedIntermediateBytes, unfusedSteps }
//   planRun(plan, ...inputs) -> outputs[]  and  planRunAsync(plan, ...inputs) -> Promise<outputs[]>
//   planShare(plan, metadata: Uint8Array) -> token (a number)
//   planAdopt(token) -> { plan, metadata }
// Building is single-threaded and ends with planFinalize; a finalized plan is immutable and
// may run from several threads at once (each run takes its own arena).
//
// Sharing: a handle belongs to the thread (env) that made it, so a worker_thread cannot use
// another thread's plan handle. planShare puts the finalized plan (and lib's description of its
// inputs and outputs, opaque bytes here) in a process-wide registry under a number that can be
// posted to a worker; planAdopt there makes a new handle of that env over the same plan. The
// registry entry lives as long as the sharing handle (dispose, GC or its thread's exit remove
// it); an adopted handle keeps the plan alive by itself. A token is only a key: nothing a caller
// passes is trusted beyond looking it up.
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "addon/common.h"
#include "plan/fusion.h"
#include "plan/plan.h"

namespace qk {
namespace addon {
namespace {

// A finalized plan as planShare published it.
struct SharedPlan {
  std::shared_ptr<Plan> plan;
  std::vector<napi_typedarray_type> input_types, output_types;
  std::vector<uint8_t> metadata;
};

// The process-wide registry of shared plans (every env's planShare/planAdopt and every
// thread's handle finalizers reach it, hence the mutex). Tokens count up from 1 and are never
// reused, so a stale token finds nothing rather than another plan.
class SharedPlans {
 public:
  static SharedPlans& Get() {
    static SharedPlans* registry = new SharedPlans();  // never destroyed: finalizers may run at exit
    return *registry;
  }
  uint64_t Add(SharedPlan entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t token = next_++;
    entries_.emplace(token, std::move(entry));
    return token;
  }
  bool Find(uint64_t token, SharedPlan* out) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return false;
    *out = it->second;
    return true;
  }
  void Remove(uint64_t token) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(token);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<uint64_t, SharedPlan> entries_;
  uint64_t next_ = 1;
};

struct PlanHandle final : NativeHandle {
  static constexpr const char* kKind = "traced plan handle";
  PlanHandle() : NativeHandle(kKind), plan(std::make_shared<Plan>()) {}
  explicit PlanHandle(const SharedPlan& adopted)
      : NativeHandle(kKind), plan(adopted.plan), finalized(true), input_types(adopted.input_types), output_types(adopted.output_types) {}
  ~PlanHandle() override { Unshare(); }
  void Drop() override {
    Unshare();
    plan.reset();
  }
  void Unshare() {
    if (shared_token != 0) SharedPlans::Get().Remove(shared_token);
    shared_token = 0;
  }
  std::shared_ptr<Plan> plan;
  bool finalized = false;
  std::vector<napi_typedarray_type> input_types, output_types;
  uint64_t shared_token = 0;  // its entry in SharedPlans, once shared
};

struct ArrayKind {
  const char* name;
  napi_typedarray_type type;
  size_t element_bytes;
};
constexpr ArrayKind kArrayKinds[] = {
    {"Uint8Array", napi_uint8_array, 1},     {"Int8Array", napi_int8_array, 1},
    {"Int32Array", napi_int32_array, 4},     {"Float32Array", napi_float32_array, 4},
    {"Float64Array", napi_float64_array, 8},   {"BigInt64Array", napi_bigint64_array, 8},  // int64 embedding indices
    {"BigUint64Array", napi_biguint64_array, 8},  // the binary layers' packed bits
};

const ArrayKind& ArgArrayKind(const Napi::CallbackInfo& info, size_t index) {
  if (index < info.Length() && info[index].IsString()) {
    const std::string name = info[index].As<Napi::String>().Utf8Value();
    for (const ArrayKind& kind : kArrayKinds) {
      if (name == kind.name) return kind;
    }
  }
  ThrowType(info.Env(), "'Uint8Array', 'Int8Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array' or 'BigUint64Array'",
            "arrayType",
            index < info.Length() ? info[index] : info.Env().Undefined());
}

// The plan at info[0], still being built (or, with `finalized`, ready to run).
PlanHandle* ArgPlan(const Napi::CallbackInfo& info, bool finalized) {
  PlanHandle* handle = ArgHandle<PlanHandle>(info, 0, "plan");
  if (handle->finalized != finalized) {
    ThrowType(info.Env(), finalized ? "a finalized plan (call planFinalize first)" : "a plan still being built (not finalized)",
              "plan", info[0]);
  }
  return handle;
}

void ThrowIfFailed(Napi::Env env, const Status& status) {
  if (!status.ok()) throw ErrorFromStatus(env, status);
}

Napi::Value PlanCreate(const Napi::CallbackInfo& info) {
  return NewHandle(info.Env(), new PlanHandle(), sizeof(Plan));
}

Napi::Value PlanAddInput(const Napi::CallbackInfo& info) {
  PlanHandle* handle = ArgPlan(info, false);
  const size_t bytes = ArgSize(info, 1, "bytes");
  const ArrayKind& kind = ArgArrayKind(info, 2);
  if (bytes % kind.element_bytes != 0) ThrowRange(info.Env(), "a whole number of elements of arrayType", "bytes", info[1]);
  handle->input_types.push_back(kind.type);
  return Napi::Number::New(info.Env(), static_cast<double>(handle->plan->AddInput(bytes)));
}

Napi::Value PlanAddConstant(const Napi::CallbackInfo& info) {
  PlanHandle* handle = ArgPlan(info, false);
  if (info.Length() < 2 || !info[1].IsTypedArray()) ThrowType(info.Env(), "typed array", "constant", info[1]);
  const napi_typedarray_type type = info[1].As<Napi::TypedArray>().TypedArrayType();
  View view = ArgTypedArray(info, 1, type, "constant");
  const uint8_t* bytes = static_cast<const uint8_t*>(view.data);
  std::vector<uint8_t> copy(bytes, bytes + view.bytes);
  return Napi::Number::New(info.Env(), static_cast<double>(handle->plan->AddConstant(std::move(copy))));
}

Napi::Value PlanAddView(const Napi::CallbackInfo& info) {
  PlanHandle* handle = ArgPlan(info, false);
  Plan::ValueId view = 0;
  ThrowIfFailed(info.Env(), handle->plan->AddView(ArgSize(info, 1, "base"), ArgSize(info, 2, "byteOffset"),
                                                  ArgSize(info, 3, "bytes"), &view));
  return Napi::Number::New(info.Env(), static_cast<double>(view));
}

Napi::Value PlanAddStep(const Napi::CallbackInfo& info) {
  PlanHandle* handle = ArgPlan(info, false);
  const StepHandle* step = ArgHandle<StepHandle>(info, 1, "step");
  View ids = ArgTypedArray(info, 2, napi_float64_array, "inputIds");
  if (ids.length > kMaxStepInputs) ThrowRange(info.Env(), "at most 16 input ids", "inputIds", info[2]);
  std::vector<Plan::ValueId> inputs;
  for (size_t i = 0; i < kMaxStepInputs && i < ids.length; ++i) {
    const double id = static_cast<const double*>(ids.data)[i];
    if (!(id >= 0 && id <= 9007199254740991.0) || static_cast<double>(static_cast<size_t>(id)) != id) {
      ThrowRange(info.Env(), "non-negative integer value ids", "inputIds", info[2]);
    }
    inputs.push_back(static_cast<size_t>(id));
  }
  Plan::ValueId output = 0;
  ThrowIfFailed(info.Env(), handle->plan->AddStep(step->step, std::move(inputs), step->output_bytes, &output));
  return Napi::Number::New(info.Env(), static_cast<double>(output));
}

Napi::Value PlanAddOutput(const Napi::CallbackInfo& info) {
  PlanHandle* handle = ArgPlan(info, false);
  const size_t value = ArgSize(info, 1, "value");
  const ArrayKind& kind = ArgArrayKind(info, 2);
  ThrowIfFailed(info.Env(), handle->plan->AddOutput(value));
  const size_t bytes = handle->plan->output_bytes(handle->plan->output_count() - 1);
  if (bytes % kind.element_bytes != 0) ThrowRange(info.Env(), "an output of whole arrayType elements", "value", info[1]);
  handle->output_types.push_back(kind.type);
  return info.Env().Undefined();
}

Napi::Value PlanFinalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlanHandle* handle = ArgPlan(info, false);
  const bool fuse = info.Length() > 1 && !info[1].IsUndefined() && ArgBool(info, 1, "fuse");
  Plan& plan = *handle->plan;
  ArenaLayout unfused;
  const size_t unfused_steps = plan.step_count();
  ThrowIfFailed(env, plan.PlannedArena(&unfused));
  FusionReport report;
  if (fuse) ThrowIfFailed(env, FusePlan(&plan, &report));
  ThrowIfFailed(env, plan.Finalize());
  handle->finalized = true;
  Napi::Object result = Napi::Object::New(env);
  result.Set("arenaBytes", static_cast<double>(plan.arena_bytes()));
  result.Set("intermediateBytes", static_cast<double>(plan.intermediate_bytes()));
  result.Set("steps", static_cast<double>(plan.step_count()));
  Napi::Object fusion = Napi::Object::New(env);
  fusion.Set("convAdd", static_cast<double>(report.conv_add));
  Napi::Float64Array merged = Napi::Float64Array::New(env, report.merged_ids.size());
  if (!report.merged_ids.empty()) std::memcpy(merged.Data(), report.merged_ids.data(), report.merged_ids.size() * sizeof(double));
  fusion.Set("merged", merged);
  fusion.Set("unfusedArenaBytes", static_cast<double>(unfused.bytes));
  fusion.Set("unfusedIntermediateBytes", static_cast<double>(unfused.sum_bytes));
  fusion.Set("unfusedSteps", static_cast<double>(unfused_steps));
  result.Set("fusion", fusion);
  return result;
}

size_t ElementBytes(napi_typedarray_type type) {
  for (const ArrayKind& kind : kArrayKinds) {
    if (kind.type == type) return kind.element_bytes;
  }
  return 1;
}

// planRun(plan, ...inputs): every input checked against the plan's types and byte counts (the
// plan checks the counts again); the outputs are fresh typed arrays the last steps write.
PreparedOp PrepareRun(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  const PlanHandle* handle = ArgPlan(info, true);
  std::shared_ptr<const Plan> plan = handle->plan;
  const size_t input_count = plan->input_count();
  if (info.Length() != input_count + 1) {
    ThrowRange(env, "the plan's " + std::to_string(input_count) + " input(s)", "inputs",
               Napi::Number::New(env, static_cast<double>(info.Length() - 1)));
  }
  auto inputs = std::make_shared<std::vector<const void*>>();
  auto input_sizes = std::make_shared<std::vector<size_t>>();
  for (size_t i = 0; i < kMaxArguments && i < input_count; ++i) {
    View x = ArgInput(info, i + 1, handle->input_types[i], "input", &op);
    if (x.bytes != plan->input_bytes(i)) {
      ThrowRange(env, "input " + std::to_string(i) + " of " + std::to_string(plan->input_bytes(i)) + " bytes (the traced shape)",
                 "input", info[i + 1]);
    }
    inputs->push_back(x.data);
    input_sizes->push_back(x.bytes);
  }
  const size_t output_count = plan->output_count();
  Napi::Array outputs = Napi::Array::New(env, output_count);
  auto output_data = std::make_shared<std::vector<void*>>();
  auto output_sizes = std::make_shared<std::vector<size_t>>();
  for (size_t i = 0; i < kMaxArguments && i < output_count; ++i) {
    const napi_typedarray_type type = handle->output_types[i];
    Output out = NewUninitializedOutput(env, type, plan->output_bytes(i) / ElementBytes(type));
    outputs.Set(static_cast<uint32_t>(i), out.array);
    output_data->push_back(out.data);
    output_sizes->push_back(out.bytes);
  }
  op.output = outputs;
  op.compute = [plan, inputs, input_sizes, output_data, output_sizes] {
    return plan->Run(inputs->data(), input_sizes->data(), inputs->size(), output_data->data(), output_sizes->data(),
                     output_data->size());
  };
  return op;
}

// planShare(plan, metadata): the plan's token, the same for every call on one handle (the
// metadata of the first call stays).
Napi::Value PlanShare(const Napi::CallbackInfo& info) {
  PlanHandle* handle = ArgPlan(info, true);
  if (handle->shared_token == 0) {
    View metadata = ArgTypedArray(info, 1, napi_uint8_array, "metadata");
    const uint8_t* bytes = static_cast<const uint8_t*>(metadata.data);
    SharedPlan entry{handle->plan, handle->input_types, handle->output_types, std::vector<uint8_t>(bytes, bytes + metadata.bytes)};
    handle->shared_token = SharedPlans::Get().Add(std::move(entry));
  }
  return Napi::Number::New(info.Env(), static_cast<double>(handle->shared_token));
}

// planAdopt(token): { plan: a handle of this env over the shared plan, metadata: a copy of
// the bytes given to planShare }.
Napi::Value PlanAdopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value given = info.Length() > 0 ? info[0] : env.Undefined();
  const double number = given.IsNumber() ? given.As<Napi::Number>().DoubleValue() : -1;
  if (!(number >= 1 && number <= 9007199254740991.0) || static_cast<double>(static_cast<uint64_t>(number)) != number) {
    ThrowType(env, "a positive integer token from TracedModule.share()", "token", given);
  }
  SharedPlan entry;
  if (!SharedPlans::Get().Find(static_cast<uint64_t>(number), &entry)) {
    ThrowRange(env, "the token of a TracedModule that is still alive (not disposed, not garbage-collected, its thread still running)",
               "token", given);
  }
  Output metadata = NewOutput(env, napi_uint8_array, entry.metadata.size());
  if (!entry.metadata.empty()) std::memcpy(metadata.data, entry.metadata.data(), entry.metadata.size());
  Napi::Object result = Napi::Object::New(env);
  result.Set("plan", NewHandle(env, new PlanHandle(entry), sizeof(Plan)));
  result.Set("metadata", metadata.array);
  return result;
}

}  // namespace

void RegisterPlanOps(Napi::Env env, Napi::Object exports) {
  exports.Set("planCreate", Napi::Function::New(env, PlanCreate, "planCreate"));
  exports.Set("planAddInput", Napi::Function::New(env, PlanAddInput, "planAddInput"));
  exports.Set("planAddConstant", Napi::Function::New(env, PlanAddConstant, "planAddConstant"));
  exports.Set("planAddView", Napi::Function::New(env, PlanAddView, "planAddView"));
  exports.Set("planAddStep", Napi::Function::New(env, PlanAddStep, "planAddStep"));
  exports.Set("planAddOutput", Napi::Function::New(env, PlanAddOutput, "planAddOutput"));
  exports.Set("planFinalize", Napi::Function::New(env, PlanFinalize, "planFinalize"));
  exports.Set("planRun", Napi::Function::New(env, RunSync<PrepareRun>, "planRun"));
  exports.Set("planRunAsync", Napi::Function::New(env, RunAsync<PrepareRun>, "planRunAsync"));
  exports.Set("planShare", Napi::Function::New(env, PlanShare, "planShare"));
  exports.Set("planAdopt", Napi::Function::New(env, PlanAdopt, "planAdopt"));
}

}  // namespace addon
}  // namespace qk
