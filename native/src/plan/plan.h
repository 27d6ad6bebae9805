// Traced whole-model plans: a fixed list of prepared steps over numbered byte buffers, run in one call with an arena planned once.
//
// The tracer (lib/jit) records a forward as steps; each step wraps one prepared operator
// (its weights packed and qparams fixed at trace time) and reads and writes plain buffers.
// Values are the buffers between steps:
//   - inputs: the caller's bytes, one per traced input;
//   - constants: bytes the plan owns (e.g. a tensor the forward captured);
//   - intermediates: written by one step, placed in the arena by liveness (plan/arena.h);
//   - views: a byte range of another value (reshape, narrow, chunk): no copy, and they keep
//     their base alive as long as they are read.
// A value marked as an output is written by its step straight into the caller's buffer.
//
// Run() may be called from several threads at once: steps are immutable and every run
// takes its own arena from a pool (allocated once per concurrent run, then reused), so a
// steady-state run allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "plan/arena.h"

namespace qk {

class Op;  // ops/op.h

// One prepared operator of a plan. Run is const and may run concurrently with itself.
class PlanStep {
 public:
  virtual ~PlanStep() = default;
  // The op's name as users know it (in error messages: "step 3 (conv2d): ...").
  virtual std::string name() const = 0;
  // Scratch bytes a run needs beside its inputs and output (im2col blocks, row buffers).
  virtual size_t scratch_bytes() const { return 0; }
  // inputs[i] points at the bytes of the step's i-th input value, output at its output value
  // (the byte sizes given when the step was added), scratch at scratch_bytes() bytes
  // aligned to kArenaAlignment (null when 0).
  virtual Status Run(const void* const* inputs, void* output, void* scratch) const = 0;
  // The prepared op the step runs, when it runs one op (plan/op-step.h) and nothing else: what
  // fusion passes (plan/fusion.h) look at. Null for steps made from functions.
  virtual const Op* op() const { return nullptr; }
};

class Plan {
 public:
  using ValueId = size_t;

  // ---- building (single-threaded, before Finalize) ----
  ValueId AddInput(size_t bytes);
  ValueId AddConstant(std::vector<uint8_t> bytes);
  // A view of bytes [offset, offset + bytes) of value `base`.
  Status AddView(ValueId base, size_t offset, size_t bytes, ValueId* view);
  // Appends a step reading `inputs` (in order) and writing a new value of output_bytes.
  Status AddStep(std::shared_ptr<const PlanStep> step, std::vector<ValueId> inputs, size_t output_bytes, ValueId* output);
  // Marks a value as the plan's next output (any value; one not written by a step is copied).
  Status AddOutput(ValueId value);
  // Computes lifetimes and the arena layout; no more building after it.
  Status Finalize();

  // ---- inspection and rewriting before Finalize (fusion passes, plan/fusion.h) ----
  const PlanStep& step(size_t i) const { return *steps_[i].op; }
  std::shared_ptr<const PlanStep> shared_step(size_t i) const { return steps_[i].op; }
  const std::vector<ValueId>& step_inputs(size_t i) const { return steps_[i].inputs; }
  ValueId step_output(size_t i) const { return steps_[i].output; }
  // Reads of a value: each time a step lists it as an input, each view of it (read or not)
  // and each time it is marked as an output.
  size_t use_count(ValueId id) const;
  // Replaces steps `first` < `second` by `merged`, at `second`'s place, reading `inputs` and
  // writing `second`'s output. `first`'s output must have one use, as an input of `second`:
  // it leaves the plan (no buffer). Every value in `inputs` must be written before `second`.
  Status MergeSteps(size_t first, size_t second, std::shared_ptr<const PlanStep> merged, std::vector<ValueId> inputs);
  // The arena Finalize would plan now (for the figures of a fusion pass).
  Status PlannedArena(ArenaLayout* layout) const;

  // ---- running ----
  size_t input_count() const { return inputs_.size(); }
  size_t output_count() const { return outputs_.size(); }
  size_t input_bytes(size_t i) const { return values_[inputs_[i]].bytes; }
  size_t output_bytes(size_t i) const { return values_[outputs_[i]].bytes; }
  size_t step_count() const { return steps_.size(); }
  // The arena one run uses, and the sum of the intermediates and scratch it holds.
  size_t arena_bytes() const { return layout_.bytes; }
  size_t intermediate_bytes() const { return layout_.sum_bytes; }
  // Runs every step in order. The byte counts must equal input_bytes(i) / output_bytes(i)
  // (RangeError otherwise: memory safety never depends on the caller's checks).
  Status Run(const void* const* inputs, const size_t* input_sizes, size_t input_count, void* const* outputs,
             const size_t* output_sizes, size_t output_count) const;

 private:
  enum class Kind { kInput, kConstant, kIntermediate, kView, kMerged /* a step output a MergeSteps removed */ };
  struct Value {
    Kind kind = Kind::kIntermediate;
    size_t bytes = 0;
    size_t index = 0;          // input: position in inputs_; constant: in constants_; intermediate: arena buffer
    ValueId base = 0;          // view: the value viewed
    size_t offset = 0;         // view: byte offset in base
    int64_t output_slot = -1;  // intermediate written straight into the caller's output buffer
  };
  struct Step {
    std::shared_ptr<const PlanStep> op;
    std::vector<ValueId> inputs;
    ValueId output = 0;
    size_t scratch_buffer = 0;  // arena buffer index (meaningful when scratch_bytes > 0)
    size_t scratch_bytes = 0;
  };

  Status CheckBuilding(const char* what) const;
  // The buffers Finalize places: per intermediate (index in *value_buffer, or SIZE_MAX) and
  // per step's scratch (*scratch_buffer), and the output slot each intermediate writes.
  void Buffers(std::vector<ArenaBuffer>* buffers, std::vector<size_t>* value_buffer, std::vector<size_t>* scratch_buffer,
               std::vector<int64_t>* output_slot) const;
  Status CheckValue(ValueId id, const char* what) const;
  // The value a view finally reads, and the total offset into it.
  ValueId Root(ValueId id, size_t* offset) const;
  uint8_t* Resolve(ValueId id, uint8_t* arena, const void* const* inputs, void* const* outputs) const;
  std::unique_ptr<uint8_t[]> TakeArena() const;
  void ReturnArena(std::unique_ptr<uint8_t[]> arena) const;

  std::vector<Value> values_;
  std::vector<Step> steps_;
  std::vector<ValueId> inputs_, outputs_;
  std::vector<std::vector<uint8_t>> constants_;
  std::vector<ArenaBuffer> buffers_;  // intermediates and scratch
  ArenaLayout layout_;
  size_t max_step_inputs_ = 0;
  bool finalized_ = false;

  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<uint8_t[]>> arena_pool_;
};

}  // namespace qk
