// The binding's weight and table handles: Externals that report their native bytes to V8, freed by a GC-driven sweep, by dispose() or when the env goes away.
//
// This file walks the env's list of handles (N-API objects, never tensor data): the one place
// in native/addon/ whose loops are not bounded by a constant (scripts/check-layers.js).
#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "addon/common.h"

namespace qk {
namespace addon {

namespace {

constexpr napi_type_tag kHandleTag = {0x2f6d94b1c07e4a35ULL, 0xa83c5e1d92f7064bULL};

// The handles of this thread's env (one env per thread in Node: the main thread or a
// worker's), with the bytes they still owe V8. Never destroyed: cleanup may run after
// thread-local destructors at exit; a finished worker leaks only this small struct.
struct SweepList {
  std::vector<NativeHandle*> handles;
  int64_t bytes = 0;
  size_t next_count = 0;   // sweep when the list is this long...
  int64_t next_bytes = 0;  // ...or owes this many bytes
  bool cleanup_hook = false;
};

SweepList& List() {
  thread_local SweepList* list = new SweepList();
  return *list;
}

constexpr size_t kMinSweepCount = 1024;
constexpr int64_t kMinSweepBytes = int64_t{32} << 20;

// Raw N-API with the status ignored: this also runs while the env is torn down, where a
// thrown Napi::Error would abort the process.
void GiveBackBytes(napi_env env, NativeHandle* handle) {
  if (handle->reported_bytes == 0) return;
  int64_t total = 0;
  napi_adjust_external_memory(env, -handle->reported_bytes, &total);
  List().bytes -= handle->reported_bytes;
  handle->reported_bytes = 0;
}

// Frees a handle whose External is gone (or whose env is): its weights, its bytes, itself.
void Destroy(napi_env env, NativeHandle* handle) {
  SweepList& list = List();
  NativeHandle* last = list.handles.back();
  list.handles[handle->slot] = last;
  last->slot = handle->slot;
  list.handles.pop_back();
  if (!handle->released) handle->Drop();
  GiveBackBytes(env, handle);
  napi_delete_reference(env, handle->weak);
  delete handle;
}

// Destroys every listed handle GC has collected the External of. Amortized: the next sweep
// waits until the list's length or bytes double (at least 1024 handles or 32 MiB), so a loop
// of N constructions costs O(N) list visits in all.
void Sweep(napi_env env) {
  SweepList& list = List();
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (size_t i = list.handles.size(); i-- > 0;) {
    napi_value value = nullptr;
    if (napi_get_reference_value(env, list.handles[i]->weak, &value) == napi_ok && value == nullptr) {
      Destroy(env, list.handles[i]);  // moves the last entry (already visited) into slot i
    }
  }
  napi_close_handle_scope(env, scope);
  if (list.handles.empty()) std::vector<NativeHandle*>().swap(list.handles);
  list.next_count = std::max(kMinSweepCount, list.handles.size() * 2);
  list.next_bytes = std::max(kMinSweepBytes, list.bytes * 2);
}

// The env is going away: whatever it still lists is freed now.
void DestroyAll(void* env) {
  SweepList& list = List();
  while (!list.handles.empty()) Destroy(static_cast<napi_env>(env), list.handles.back());
  std::vector<NativeHandle*>().swap(list.handles);
  list.cleanup_hook = false;
}

[[noreturn]] void ThrowHandleFailure(Napi::Env env, NativeHandle* handle) {
  delete handle;
  throw Napi::Error::New(env, "qkernels: could not create a native handle (out of memory?)");
}

}  // namespace

// The External has no finalizer: Node would run it only when the event loop turns (and keep
// a record per dead handle until then); the sweep and the cleanup hook free handles instead.
Napi::Value NewHandle(Napi::Env env, NativeHandle* handle, size_t bytes) {
  SweepList& list = List();
  napi_value external = nullptr;
  if (napi_create_external(env, handle, nullptr, nullptr, &external) != napi_ok ||
      napi_type_tag_object(env, external, &kHandleTag) != napi_ok ||
      napi_create_reference(env, external, 0, &handle->weak) != napi_ok) {
    ThrowHandleFailure(env, handle);  // the External, if made, is unreachable and never read
  }
  if (!list.cleanup_hook) {
    if (napi_add_env_cleanup_hook(env, DestroyAll, static_cast<napi_env>(env)) != napi_ok) {
      napi_delete_reference(env, handle->weak);
      ThrowHandleFailure(env, handle);
    }
    list.cleanup_hook = true;
  }
  try {
    list.handles.push_back(handle);
  } catch (const std::bad_alloc&) {
    napi_delete_reference(env, handle->weak);
    ThrowHandleFailure(env, handle);
  }
  handle->slot = list.handles.size() - 1;
  const int64_t reported = static_cast<int64_t>(std::min<size_t>(bytes, size_t{1} << 50));
  int64_t total = 0;
  if (reported > 0 && napi_adjust_external_memory(env, reported, &total) == napi_ok) {
    handle->reported_bytes = reported;
    list.bytes += reported;
  }
  if (list.handles.size() >= std::max(list.next_count, kMinSweepCount) || list.bytes >= std::max(list.next_bytes, kMinSweepBytes)) {
    Sweep(env);
  }
  return Napi::Value(env, external);
}

NativeHandle* ArgHandleOfKind(const Napi::CallbackInfo& info, size_t index, const char* kind, const char* parameter) {
  const Napi::Value value = info[index];
  NativeHandle* handle = nullptr;
  if (value.IsExternal() && value.As<Napi::External<NativeHandle>>().CheckTypeTag(&kHandleTag)) {
    handle = value.As<Napi::External<NativeHandle>>().Data();
  }
  if (handle == nullptr || handle->kind != kind) ThrowType(info.Env(), kind, parameter, value);
  if (handle->released) ThrowType(info.Env(), std::string(kind) + " that was not disposed", parameter, value);
  return handle;
}

NativeHandle* HandleOrNull(napi_env env, napi_value value) {
  napi_valuetype type = napi_undefined;
  bool tagged = false;
  void* data = nullptr;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, &kHandleTag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<NativeHandle*>(data);
}

void ReleaseHandle(napi_env env, NativeHandle* handle) {
  if (handle->released) return;
  handle->released = true;
  handle->Drop();
  GiveBackBytes(env, handle);
}

namespace {

Napi::Value ReleaseWeights(const Napi::CallbackInfo& info) {
  const Napi::Value value = info[0];
  if (!value.IsExternal() || !value.As<Napi::External<NativeHandle>>().CheckTypeTag(&kHandleTag)) {
    ThrowType(info.Env(), "qkernels weight or table handle", "handle", value);
  }
  ReleaseHandle(info.Env(), value.As<Napi::External<NativeHandle>>().Data());
  return info.Env().Undefined();
}

}  // namespace

void RegisterHandleOps(Napi::Env env, Napi::Object exports) {
  exports.Set("releaseWeights", Napi::Function::New(env, ReleaseWeights, "releaseWeights"));
}

}  // namespace addon
}  // namespace qk
