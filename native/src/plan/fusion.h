// Fusion passes over a traced plan before Finalize: each replaces steps by one that computes the same bytes with fewer passes over memory.
//
// conv + add (+ relu): a conv step (ops/conv-op.h, not ConvAdd) whose output is read only by a
// quantized add / add_relu / mul step (ops/elementwise.h BinaryOp) becomes one step at the
// add's place: the conv writes its output into the add's output buffer, and the add's kernel
// runs in place on each block of it as soon as the block is written, while it is in cache
// (ConvU8's ConvEpilogue). The conv's own output buffer leaves the arena.
// Exact by construction:
//   - the conv's values are ConvU8's, computed as in the unfused step (same op, same
//     requantization) and only then handed to the epilogue;
//   - the add is the unfused step's BinaryOp, whose every element depends on its operands
//     and its index alone (BinaryOp::RunRange), so applying it block by block gives its bytes;
//   - in place is safe: each element is read before it is written, at the same index.
// This is not torch's ConvAdd2d (nniq.ConvAdd2d adds in fp32 before requantizing): the
// unfused plan's two roundings are kept.
// Valid when the conv output has one use (the add's operand), is not a plan output and is not
// viewed; the add reads it whole (a plan value is dense: same layout and byte count as the
// add's other operand and output, no broadcast: broadcasting or a layout change reads a copy
// step's output instead). The merged step runs at the add's place, where the add's other
// operand and the conv's input both exist.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "base/status.h"
#include "plan/plan.h"

namespace qk {

struct FusionReport {
  size_t conv_add = 0;  // conv + add (+ relu) / mul steps merged
  // Each merge: the conv's output value (gone) and the add's output value (now the merged step's).
  std::vector<std::pair<Plan::ValueId, Plan::ValueId>> merged;
  // The same pairs flattened, as the doubles the binding hands to JS (value ids are < 2^53).
  std::vector<double> merged_ids;
};

// Runs every pass on a plan that is still being built (before Finalize).
Status FusePlan(Plan* plan, FusionReport* report);

}  // namespace qk
