// Fusion passes over traced plans (see fusion.h): conv + add (+ relu).
#include "plan/fusion.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ops/conv-op.h"
#include "ops/elementwise.h"

namespace qk {
namespace {

// A conv step and the add that reads its output, as one step: ConvOp::RunWithEpilogue writing
// the add's output, with BinaryOp::RunRange applied in place to each finished block. Holds the
// two original steps (and through them everything their ops read).
class ConvAddStep final : public PlanStep {
 public:
  // conv_operand: which of the add's operands (0: a, 1: b) is the conv's output.
  ConvAddStep(std::shared_ptr<const PlanStep> conv_step, std::shared_ptr<const PlanStep> add_step, size_t conv_operand)
      : conv_step_(std::move(conv_step)),
        add_step_(std::move(add_step)),
        conv_(static_cast<const ConvOp*>(conv_step_->op())),
        add_(static_cast<const BinaryOp*>(add_step_->op())),
        conv_operand_(conv_operand) {}

  std::string name() const override { return std::string("conv+") + add_->name() + (add_->spec().relu ? "_relu" : ""); }
  size_t scratch_bytes() const override { return conv_->scratch_bytes(); }
  // inputs[0]: the conv's input; inputs[1]: the add's other operand.
  Status Run(const void* const* inputs, void* output, void*) const override {
    struct Context {
      const BinaryOp* add;
      const void* other;
      void* y;
      size_t conv_operand;
    } context{add_, inputs[1], output, conv_operand_};
    ConvEpilogue epilogue;
    epilogue.context = &context;
    epilogue.fn = [](const void* raw, size_t begin, size_t end) {
      const Context& c = *static_cast<const Context*>(raw);
      if (c.conv_operand == 0) {
        c.add->RunRange(c.y, c.other, c.y, begin, end);
      } else {
        c.add->RunRange(c.other, c.y, c.y, begin, end);
      }
    };
    return conv_->RunWithEpilogue(inputs[0], output, epilogue);
  }

 private:
  std::shared_ptr<const PlanStep> conv_step_, add_step_;
  const ConvOp* conv_;
  const BinaryOp* add_;
  size_t conv_operand_;
};

// The conv op a step runs, when it can take an epilogue.
const ConvOp* FusableConv(const PlanStep& step) {
  const Op* op = step.op();
  if (op == nullptr || op->kind() != OpKind::kConv) return nullptr;
  const ConvOp* conv = static_cast<const ConvOp*>(op);
  return conv->accepts_epilogue() ? conv : nullptr;
}

Status FuseConvAdd(Plan* plan, FusionReport* report) {
  for (size_t j = 0; j < plan->step_count(); ++j) {
    const Op* op = plan->step(j).op();
    if (op == nullptr || op->kind() != OpKind::kBinary) continue;
    const BinaryOp* add = static_cast<const BinaryOp*>(op);
    const std::vector<Plan::ValueId> reads = plan->step_inputs(j);
    if (reads.size() != 2) continue;
    // The latest conv among the operands (the merged step runs at j: the conv nearest to it
    // keeps its input's lifetime shortest).
    size_t best_step = SIZE_MAX, best_operand = 0;
    for (size_t operand = 0; operand < 2; ++operand) {
      const Plan::ValueId v = reads[operand];
      if (plan->use_count(v) != 1) continue;  // read elsewhere, viewed, an output, or add(x, x)
      for (size_t i = j; i-- > 0;) {
        if (plan->step_output(i) != v) continue;
        const ConvOp* conv = FusableConv(plan->step(i));
        if (conv != nullptr && conv->output_bytes() == add->output_bytes() && (best_step == SIZE_MAX || i > best_step)) {
          best_step = i;
          best_operand = operand;
        }
        break;
      }
    }
    if (best_step == SIZE_MAX) continue;
    const std::vector<Plan::ValueId> conv_reads = plan->step_inputs(best_step);
    if (conv_reads.size() != 1) continue;
    const Plan::ValueId conv_output = plan->step_output(best_step), add_output = plan->step_output(j);
    auto merged = std::make_shared<ConvAddStep>(plan->shared_step(best_step), plan->shared_step(j), best_operand);
    QK_RETURN_IF_ERROR(plan->MergeSteps(best_step, j, std::move(merged), {conv_reads[0], reads[1 - best_operand]}));
    ++report->conv_add;
    report->merged.emplace_back(conv_output, add_output);
    report->merged_ids.push_back(static_cast<double>(conv_output));
    report->merged_ids.push_back(static_cast<double>(add_output));
    --j;  // step j moved to j - 1
  }
  return Status::Ok();
}

}  // namespace

Status FusePlan(Plan* plan, FusionReport* report) {
  return FuseConvAdd(plan, report);
}

}  // namespace qk
