// Traced plans: building, liveness, and the one-call run (see plan.h).
#include "plan/plan.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "base/checked.h"

namespace qk {
namespace {

std::string StepLabel(size_t index, const PlanStep& step) { return "step " + std::to_string(index) + " (" + step.name() + ")"; }

}  // namespace

Status Plan::CheckBuilding(const char* what) const {
  if (finalized_) return Status::Error(std::string(what) + ": the plan is finalized");
  return Status::Ok();
}

Status Plan::CheckValue(ValueId id, const char* what) const {
  if (id >= values_.size()) {
    return Status::RangeError(std::string(what) + ": value " + std::to_string(id) + " does not exist (the plan has " +
                              std::to_string(values_.size()) + ")");
  }
  return Status::Ok();
}

Plan::ValueId Plan::AddInput(size_t bytes) {
  Value v;
  v.kind = Kind::kInput;
  v.bytes = bytes;
  v.index = inputs_.size();
  inputs_.push_back(values_.size());
  values_.push_back(v);
  return values_.size() - 1;
}

Plan::ValueId Plan::AddConstant(std::vector<uint8_t> bytes) {
  Value v;
  v.kind = Kind::kConstant;
  v.bytes = bytes.size();
  v.index = constants_.size();
  constants_.push_back(std::move(bytes));
  values_.push_back(v);
  return values_.size() - 1;
}

Status Plan::AddView(ValueId base, size_t offset, size_t bytes, ValueId* view) {
  QK_RETURN_IF_ERROR(CheckBuilding("AddView"));
  QK_RETURN_IF_ERROR(CheckValue(base, "AddView"));
  size_t end = 0;
  if (!CheckedAdd(offset, bytes, &end) || end > values_[base].bytes) {
    return Status::RangeError("AddView: bytes [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                              std::to_string(bytes) + ") are outside value " + std::to_string(base) + " of " +
                              std::to_string(values_[base].bytes) + " bytes");
  }
  Value v;
  v.kind = Kind::kView;
  v.bytes = bytes;
  v.base = base;
  v.offset = offset;
  values_.push_back(v);
  *view = values_.size() - 1;
  return Status::Ok();
}

Status Plan::AddStep(std::shared_ptr<const PlanStep> step, std::vector<ValueId> inputs, size_t output_bytes, ValueId* output) {
  QK_RETURN_IF_ERROR(CheckBuilding("AddStep"));
  if (!step) return Status::Error("AddStep: no operator");
  for (ValueId id : inputs) QK_RETURN_IF_ERROR(CheckValue(id, "AddStep"));
  Value v;
  v.kind = Kind::kIntermediate;
  v.bytes = output_bytes;
  values_.push_back(v);
  Step s;
  s.op = std::move(step);
  s.inputs = std::move(inputs);
  s.output = values_.size() - 1;
  s.scratch_bytes = s.op->scratch_bytes();
  steps_.push_back(std::move(s));
  *output = values_.size() - 1;
  return Status::Ok();
}

Status Plan::AddOutput(ValueId value) {
  QK_RETURN_IF_ERROR(CheckBuilding("AddOutput"));
  QK_RETURN_IF_ERROR(CheckValue(value, "AddOutput"));
  outputs_.push_back(value);
  return Status::Ok();
}

Plan::ValueId Plan::Root(ValueId id, size_t* offset) const {
  size_t total = 0;
  while (values_[id].kind == Kind::kView) {
    total += values_[id].offset;  // within the root's bytes: AddView checked each range
    id = values_[id].base;
  }
  *offset = total;
  return id;
}

size_t Plan::use_count(ValueId id) const {
  size_t uses = 0;
  for (const Step& step : steps_) uses += static_cast<size_t>(std::count(step.inputs.begin(), step.inputs.end(), id));
  for (const Value& v : values_) uses += v.kind == Kind::kView && v.base == id ? 1 : 0;
  uses += static_cast<size_t>(std::count(outputs_.begin(), outputs_.end(), id));
  return uses;
}

Status Plan::MergeSteps(size_t first, size_t second, std::shared_ptr<const PlanStep> merged, std::vector<ValueId> inputs) {
  QK_RETURN_IF_ERROR(CheckBuilding("MergeSteps"));
  if (!(first < second && second < steps_.size()) || !merged) return Status::Error("MergeSteps: bad steps");
  const ValueId removed = steps_[first].output;
  const std::vector<ValueId>& reads = steps_[second].inputs;
  if (use_count(removed) != 1 || std::count(reads.begin(), reads.end(), removed) != 1) {
    return Status::Error("MergeSteps: the first step's output has other uses");
  }
  // Written before `second`: an input, a constant, a view of one, or the output of a step
  // other than `first` placed before `second` (values of later steps have larger ids).
  for (ValueId id : inputs) {
    QK_RETURN_IF_ERROR(CheckValue(id, "MergeSteps"));
    size_t offset = 0;
    const ValueId root = Root(id, &offset);
    if (root == removed || root >= steps_[second].output || values_[root].kind == Kind::kMerged) {
      return Status::Error("MergeSteps: an input is not written before the merged step");
    }
  }
  values_[removed].kind = Kind::kMerged;
  Step& step = steps_[second];
  step.op = std::move(merged);
  step.inputs = std::move(inputs);
  step.scratch_bytes = step.op->scratch_bytes();
  steps_.erase(steps_.begin() + static_cast<std::ptrdiff_t>(first));
  return Status::Ok();
}

void Plan::Buffers(std::vector<ArenaBuffer>* buffers, std::vector<size_t>* value_buffer,
                   std::vector<size_t>* scratch_buffer, std::vector<int64_t>* output_slot) const {
  // An intermediate marked as an output (the first time it is marked) is written by its step
  // straight into the caller's buffer; every other output is copied after the last step.
  output_slot->assign(values_.size(), -1);
  for (size_t slot = 0; slot < outputs_.size(); ++slot) {
    const ValueId id = outputs_[slot];
    if (values_[id].kind == Kind::kIntermediate && (*output_slot)[id] < 0) (*output_slot)[id] = static_cast<int64_t>(slot);
  }
  // Lifetimes: from the writing step to the last step reading the value or any view of it;
  // a value copied to an output lives past the last step.
  const size_t end_step = steps_.size();  // the copies of non-direct outputs
  std::vector<size_t> first(values_.size(), 0), last(values_.size(), 0);
  for (size_t i = 0; i < steps_.size(); ++i) first[steps_[i].output] = last[steps_[i].output] = i;
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (ValueId id : steps_[i].inputs) {
      size_t offset = 0;
      const ValueId root = Root(id, &offset);
      last[root] = std::max(last[root], i);
    }
  }
  for (size_t slot = 0; slot < outputs_.size(); ++slot) {
    size_t offset = 0;
    const ValueId root = Root(outputs_[slot], &offset);
    const bool direct = outputs_[slot] == root && (*output_slot)[root] == static_cast<int64_t>(slot);
    if (!direct) last[root] = end_step;
  }
  buffers->clear();
  value_buffer->assign(values_.size(), SIZE_MAX);
  for (ValueId id = 0; id < values_.size(); ++id) {
    if (values_[id].kind != Kind::kIntermediate || (*output_slot)[id] >= 0) continue;
    (*value_buffer)[id] = buffers->size();
    buffers->push_back({values_[id].bytes, first[id], last[id]});
  }
  scratch_buffer->assign(steps_.size(), SIZE_MAX);
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (steps_[i].scratch_bytes == 0) continue;
    (*scratch_buffer)[i] = buffers->size();
    buffers->push_back({steps_[i].scratch_bytes, i, i});
  }
}

Status Plan::PlannedArena(ArenaLayout* layout) const {
  std::vector<ArenaBuffer> buffers;
  std::vector<size_t> value_buffer, scratch_buffer;
  std::vector<int64_t> output_slot;
  Buffers(&buffers, &value_buffer, &scratch_buffer, &output_slot);
  return PlanArena(buffers, layout);
}

Status Plan::Finalize() {
  QK_RETURN_IF_ERROR(CheckBuilding("Finalize"));
  if (outputs_.empty()) return Status::Error("Finalize: the plan has no output");
  std::vector<size_t> value_buffer, scratch_buffer;
  std::vector<int64_t> output_slot;
  Buffers(&buffers_, &value_buffer, &scratch_buffer, &output_slot);
  for (ValueId id = 0; id < values_.size(); ++id) {
    Value& v = values_[id];
    if (v.kind != Kind::kIntermediate) continue;
    v.output_slot = output_slot[id];
    if (value_buffer[id] != SIZE_MAX) v.index = value_buffer[id];
  }
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (scratch_buffer[i] != SIZE_MAX) steps_[i].scratch_buffer = scratch_buffer[i];
  }
  QK_RETURN_IF_ERROR(PlanArena(buffers_, &layout_));
  max_step_inputs_ = 0;
  for (const Step& step : steps_) max_step_inputs_ = std::max(max_step_inputs_, step.inputs.size());
  finalized_ = true;
  return Status::Ok();
}

uint8_t* Plan::Resolve(ValueId id, uint8_t* arena, const void* const* inputs, void* const* outputs) const {
  size_t offset = 0;
  const Value& v = values_[Root(id, &offset)];
  uint8_t* base = nullptr;
  switch (v.kind) {
    case Kind::kInput:
      // Steps never write their inputs, so the caller's const bytes are only read.
      base = static_cast<uint8_t*>(const_cast<void*>(inputs[v.index]));
      break;
    case Kind::kConstant:
      base = const_cast<uint8_t*>(constants_[v.index].data());
      break;
    case Kind::kIntermediate:
      base = v.output_slot >= 0 ? static_cast<uint8_t*>(outputs[v.output_slot]) : arena + layout_.offsets[v.index];
      break;
    case Kind::kView:
    case Kind::kMerged:
      break;  // Root never returns a view; no step reads a merged-away value
  }
  return base + offset;
}

std::unique_ptr<uint8_t[]> Plan::TakeArena() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!arena_pool_.empty()) {
      std::unique_ptr<uint8_t[]> arena = std::move(arena_pool_.back());
      arena_pool_.pop_back();
      return arena;
    }
  }
  // Over-allocated by the alignment so the arena's base can be aligned, and followed by the
  // array of a step's input pointers, so that a run allocates nothing once the pool is warm.
  return std::unique_ptr<uint8_t[]>(new uint8_t[layout_.bytes + kArenaAlignment + max_step_inputs_ * sizeof(void*)]);
}

void Plan::ReturnArena(std::unique_ptr<uint8_t[]> arena) const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  arena_pool_.push_back(std::move(arena));
}

Status Plan::Run(const void* const* inputs, const size_t* input_sizes, size_t input_count, void* const* outputs,
                 const size_t* output_sizes, size_t output_count) const {
  if (!finalized_) return Status::Error("the plan is not finalized");
  if (input_count != inputs_.size()) {
    return Status::RangeError("the plan takes " + std::to_string(inputs_.size()) + " inputs, got " + std::to_string(input_count));
  }
  if (output_count != outputs_.size()) {
    return Status::RangeError("the plan gives " + std::to_string(outputs_.size()) + " outputs, got " +
                              std::to_string(output_count) + " output buffers");
  }
  for (size_t i = 0; i < input_count; ++i) {
    if (input_sizes[i] != input_bytes(i) || (input_bytes(i) > 0 && inputs[i] == nullptr)) {
      return Status::RangeError("input " + std::to_string(i) + ": expected " + std::to_string(input_bytes(i)) +
                                " bytes, got " + std::to_string(input_sizes[i]));
    }
  }
  for (size_t i = 0; i < output_count; ++i) {
    if (output_sizes[i] != output_bytes(i) || (output_bytes(i) > 0 && outputs[i] == nullptr)) {
      return Status::RangeError("output " + std::to_string(i) + ": expected " + std::to_string(output_bytes(i)) +
                                " bytes, got " + std::to_string(output_sizes[i]));
    }
  }
  std::unique_ptr<uint8_t[]> storage = TakeArena();
  const uintptr_t raw = reinterpret_cast<uintptr_t>(storage.get());
  uint8_t* arena = storage.get() + ((kArenaAlignment - raw % kArenaAlignment) % kArenaAlignment);
  // The pointer array sits after the arena's bytes (8-aligned: both sizes are multiples of 8).
  const void** step_inputs = reinterpret_cast<const void**>(arena + layout_.bytes);
  Status status;
  for (size_t i = 0; i < steps_.size() && status.ok(); ++i) {
    const Step& step = steps_[i];
    for (size_t k = 0; k < step.inputs.size(); ++k) step_inputs[k] = Resolve(step.inputs[k], arena, inputs, outputs);
    void* scratch = step.scratch_bytes > 0 ? arena + layout_.offsets[step.scratch_buffer] : nullptr;
    status = step.op->Run(step_inputs, Resolve(step.output, arena, inputs, outputs), scratch);
    if (!status.ok()) {
      const std::string message = StepLabel(i, *step.op) + ": " + status.message();
      status = status.kind() == ErrorKind::kTypeError    ? Status::TypeError(message)
               : status.kind() == ErrorKind::kRangeError ? Status::RangeError(message)
                                                          : Status::Error(message);
    }
  }
  if (status.ok()) {
    for (size_t slot = 0; slot < outputs_.size(); ++slot) {
      const ValueId id = outputs_[slot];
      const bool direct = values_[id].kind == Kind::kIntermediate && values_[id].output_slot == static_cast<int64_t>(slot);
      if (!direct && output_bytes(slot) > 0) std::memcpy(outputs[slot], Resolve(id, arena, inputs, outputs), output_bytes(slot));
    }
  }
  ReturnArena(std::move(storage));
  return status;
}

}  // namespace qk
