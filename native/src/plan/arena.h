// Arena planning for traced plans: one block of bytes for all intermediates, reused between buffers whose lifetimes do not overlap.
//
// A traced forward knows every intermediate buffer's size and the steps that write and last
// read it before it runs, so its memory can be planned once: two buffers may share bytes
// when no step needs both. The assignment is the greedy-by-size heuristic of TFLite's and
// XNNPACK's memory planners (largest buffer first, lowest offset that fits among the buffers
// already placed whose lifetimes intersect): not optimal, but close on chains and cheap.
#pragma once

#include <cstddef>
#include <vector>

#include "base/status.h"

namespace qk {

// Every offset is a multiple of this: enough for any vector load and a cache line.
constexpr size_t kArenaAlignment = 64;

struct ArenaBuffer {
  size_t bytes = 0;
  size_t first_step = 0;  // the step that writes it first
  size_t last_step = 0;   // the last step that reads it (inclusive; >= first_step)
};

struct ArenaLayout {
  std::vector<size_t> offsets;  // one per buffer, in the order given
  size_t bytes = 0;             // the arena's size
  size_t sum_bytes = 0;         // the sum of the (aligned) buffer sizes: what no reuse would take
};

// Fills *layout. Buffers whose [first_step, last_step] intervals intersect never overlap in
// memory. RangeError when a lifetime is inverted or the sizes overflow size_t.
Status PlanArena(const std::vector<ArenaBuffer>& buffers, ArenaLayout* layout);

}  // namespace qk
