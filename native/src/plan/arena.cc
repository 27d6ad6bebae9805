// Greedy-by-size arena planning (see arena.h).
#include "plan/arena.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>

#include "base/checked.h"

namespace qk {
namespace {

bool AlignUp(size_t bytes, size_t* out) {
  size_t padded = 0;
  if (!CheckedAdd(bytes, kArenaAlignment - 1, &padded)) return false;
  *out = padded / kArenaAlignment * kArenaAlignment;
  return true;
}

bool LifetimesIntersect(const ArenaBuffer& a, const ArenaBuffer& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

}  // namespace

Status PlanArena(const std::vector<ArenaBuffer>& buffers, ArenaLayout* layout) {
  const size_t n = buffers.size();
  std::vector<size_t> sizes(n);
  ArenaLayout result;
  result.offsets.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (buffers[i].last_step < buffers[i].first_step) {
      return Status::RangeError("arena buffer " + std::to_string(i) + ": last step " + std::to_string(buffers[i].last_step) +
                                " is before its first step " + std::to_string(buffers[i].first_step));
    }
    if (!AlignUp(buffers[i].bytes, &sizes[i]) || !CheckedAdd(result.sum_bytes, sizes[i], &result.sum_bytes)) {
      return Status::RangeError("arena buffer sizes overflow size_t");
    }
  }
  // Largest first; ties by first step then index, so the layout is deterministic.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (sizes[a] != sizes[b]) return sizes[a] > sizes[b];
    if (buffers[a].first_step != buffers[b].first_step) return buffers[a].first_step < buffers[b].first_step;
    return a < b;
  });
  std::vector<size_t> placed;
  placed.reserve(n);
  std::vector<std::pair<size_t, size_t>> taken;  // [begin, end) of the placed buffers alive with this one
  for (size_t index : order) {
    taken.clear();
    for (size_t other : placed) {
      if (LifetimesIntersect(buffers[index], buffers[other])) {
        taken.emplace_back(result.offsets[other], result.offsets[other] + sizes[other]);
      }
    }
    std::sort(taken.begin(), taken.end());
    // The lowest gap that fits: walk the taken ranges in offset order.
    size_t offset = 0;
    for (const auto& range : taken) {
      if (range.first >= offset && range.first - offset >= sizes[index]) break;
      offset = std::max(offset, range.second);
    }
    result.offsets[index] = offset;
    // Cannot overflow: by induction every placed end is at most the sum of the sizes placed
    // so far, so offset + size <= sum_bytes, which was checked above.
    const size_t end = offset + sizes[index];
    result.bytes = std::max(result.bytes, end);
    placed.push_back(index);
  }
  *layout = std::move(result);
  return Status::Ok();
}

}  // namespace qk
