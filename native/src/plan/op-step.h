// A plan step that runs one prepared op (ops/op.h): the adapter through which a traced plan runs the ops the eager calls run.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "ops/op.h"
#include "plan/plan.h"

namespace qk {

class OpStep final : public PlanStep {
 public:
  explicit OpStep(std::shared_ptr<const Op> op) : op_(std::move(op)) {}
  std::string name() const override { return op_->name(); }
  size_t scratch_bytes() const override { return op_->scratch_bytes(); }
  Status Run(const void* const* inputs, void* output, void* scratch) const override {
    return op_->Run(inputs, output, scratch);
  }
  const Op* op() const override { return op_.get(); }

 private:
  std::shared_ptr<const Op> op_;
};

}  // namespace qk
