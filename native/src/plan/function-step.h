// A plan step from a function on buffers: how an op that is not an `Op` class (ops/op.h) yet becomes a traced step.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include "plan/plan.h"

namespace qk {

// run(inputs, output, scratch) must read its graph inputs only through `inputs` and write
// only `output`: everything else it uses (geometry, qparams, weights) is captured by value or
// by shared_ptr when the step is made, so the step outlives the call that made it.
using StepFunction = std::function<Status(const void* const* inputs, void* output, void* scratch)>;

class FunctionStep final : public PlanStep {
 public:
  FunctionStep(std::string name, StepFunction run, size_t scratch_bytes = 0)
      : name_(std::move(name)), run_(std::move(run)), scratch_bytes_(scratch_bytes) {}
  std::string name() const override { return name_; }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  Status Run(const void* const* inputs, void* output, void* scratch) const override {
    return run_(inputs, output, scratch);
  }

 private:
  std::string name_;
  StepFunction run_;
  size_t scratch_bytes_;
};

}  // namespace qk
