// Embedding-bag lookups: every index checked first, then bags split over the thread pool, each bag one kernel call.
#include "ops/embedding.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "pack/embedding-pack.h"
#include "ukernels/dispatch.h"

// mean/max dequantize with scale * q + bias: two roundings, as PyTorch's unpack.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// A message about one element (an index, an offset, a mapping entry), worded as lib/ words
// its own: the element is a number in JS.
std::string ExpectedElement(const std::string& what, const std::string& parameter, int64_t received) {
  return Expected(what, parameter, std::to_string(received) + " of type number");
}

std::string At(const char* name, size_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }

int64_t ValueAt(const EmbeddingIndexArray& array, size_t i) {
  if (array.is64) {
    int64_t v;
    std::memcpy(&v, static_cast<const uint8_t*>(array.data) + i * 8, 8);
    return v;
  }
  int32_t v;
  std::memcpy(&v, static_cast<const uint8_t*>(array.data) + i * 4, 4);
  return v;
}

Status CheckTable(const EmbeddingTable& table) {
  if (table.bits != 8 && table.bits != 4) {
    return Status::RangeError(Expected("8 or 4", "bits", std::to_string(table.bits)));
  }
  const size_t overhead = table.bits == 8 ? 8 : 4;
  if (table.row_bytes < overhead) {
    return Status::RangeError(Expected("rows of at least " + std::to_string(overhead) + " bytes (the scale and bias)",
                                       "packed", std::to_string(table.row_bytes) + " bytes per row"));
  }
  size_t needed = 0;
  if (!CheckedMul(table.rows, table.row_bytes, &needed) || needed > table.bytes ||
      (needed > 0 && table.data == nullptr)) {
    return Status::RangeError(Expected(std::to_string(table.rows) + " rows of " + std::to_string(table.row_bytes) +
                                           " bytes",
                                       "packed", std::to_string(table.bytes) + " bytes"));
  }
  return Status::Ok();
}

// Whether the mapping is PyTorch's "not pruned after all" marker, [0].
bool MappingIsIdentityMarker(const EmbeddingBagArgs& args) {
  return args.compressed_indices_mapping_len == 1 && args.compressed_indices_mapping[0] == 0;
}

bool UsesMapping(const EmbeddingBagArgs& args) { return args.pruned_weights && !MappingIsIdentityMarker(args); }

// The first position whose index is outside [0, limit) (the padding index excepted), or n.
// Typed, and one unsigned compare per index: it runs over every index of every call.
template <typename T>
size_t FirstBadIndex(const T* indices, size_t n, uint64_t limit, const EmbeddingBagArgs& args) {
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = indices[i];
    if (static_cast<uint64_t>(v) >= limit && !(args.has_padding_idx && v == args.padding_idx)) return i;
  }
  return n;
}

// Offsets start at 0, never decrease, never pass the end of indices; a mapping (pruned
// tables) holds -1 or rows. Indices are checked where they are read (ResolveTaskTyped).
Status CheckOffsetsAndMapping(const EmbeddingBagArgs& args) {
  const size_t n = args.indices.length;
  int64_t previous = 0;
  for (size_t i = 0; i < args.offsets.length; ++i) {
    const int64_t v = ValueAt(args.offsets, i);
    if (i == 0 && v != 0) {
      return Status::RangeError(ExpectedElement("0 (the first bag starts at the first index)", At("offsets", 0), v));
    }
    if (v < previous || v > static_cast<int64_t>(n)) {
      return Status::RangeError(ExpectedElement("an offset in [" + std::to_string(previous) + ", " + std::to_string(n) +
                                             "] (offsets never decrease nor pass indices.length)",
                                         At("offsets", i), v));
    }
    previous = v;
  }
  if (UsesMapping(args)) {
    const size_t rows = args.table.rows;
    for (size_t i = 0; i < args.compressed_indices_mapping_len; ++i) {
      const int32_t v = args.compressed_indices_mapping[i];
      if (v < -1 || static_cast<int64_t>(v) >= static_cast<int64_t>(rows)) {
        return Status::RangeError(ExpectedElement("-1 (pruned) or a row in [0, " + std::to_string(rows) + ")",
                                                  At("compressedIndicesMapping", i), v));
      }
    }
  }
  return Status::Ok();
}

// The limit every index must lie below: the mapping's length for pruned tables, else the rows.
uint64_t IndexLimit(const EmbeddingBagArgs& args) {
  return UsesMapping(args) ? args.compressed_indices_mapping_len : args.table.rows;
}

// The RangeError of the bad index at position i.
Status BadIndex(const EmbeddingBagArgs& args, size_t i) {
  const bool mapped = UsesMapping(args);
  return Status::RangeError(ExpectedElement(std::string("an index in [0, ") + std::to_string(IndexLimit(args)) + ")" +
                                                (mapped ? " (the compressedIndicesMapping length)" : " (the table rows)"),
                                            At("indices", i), ValueAt(args.indices, i)));
}

// The first bad index among positions [begin, end), or end: for indices no bag reads.
size_t FirstBadIndexIn(const EmbeddingBagArgs& args, size_t begin, size_t end) {
  const uint64_t limit = IndexLimit(args);
  const size_t found =
      args.indices.is64
          ? FirstBadIndex(static_cast<const int64_t*>(args.indices.data) + begin, end - begin, limit, args)
          : FirstBadIndex(static_cast<const int32_t*>(args.indices.data) + begin, end - begin, limit, args);
  return begin + found;
}

// The index range of bag b.
void BagRange(const EmbeddingBagArgs& args, size_t b, size_t* begin, size_t* end) {
  *begin = static_cast<size_t>(ValueAt(args.offsets, b));
  *end = b + 1 < args.offsets.length ? static_cast<size_t>(ValueAt(args.offsets, b + 1)) : args.indices.length;
}

// Per-task scratch: the rows (and weights) of a run of bags, padding and pruned entries
// dropped; bag k of the run reads rows[starts[k] .. starts[k + 1]). One array for the whole
// run lets each kernel call prefetch into the next bags' rows. Kept per thread between
// calls (a lookup allocates nothing once warm), up to kKeptScratchRows rows.
struct TaskRows {
  std::vector<const uint8_t*> rows;
  std::vector<float> weights;
  std::vector<size_t> starts;
};
constexpr size_t kKeptScratchRows = size_t{1} << 16;
// The most rows one kernel call adds (a longer bag is several calls).
constexpr size_t kRowsPerKernelCall = 4096;

TaskRows& ThreadTaskRows() {
  thread_local TaskRows scratch;
  return scratch;
}

// Releases a scratch that grew past what is worth keeping.
void TrimTaskRows(TaskRows* task) {
  if (task->rows.capacity() > kKeptScratchRows || task->weights.capacity() > kKeptScratchRows) {
    std::vector<const uint8_t*>().swap(task->rows);
    std::vector<float>().swap(task->weights);
  }
  if (task->starts.capacity() > kKeptScratchRows) std::vector<size_t>().swap(task->starts);
}

// Resolves bags [first_bag, last_bag) to row pointers, checking each index as it is read
// (every index is read once, so memory another thread rewrites cannot slip a bad value in
// between a check and its use). Returns the position of the first bad index, or SIZE_MAX.
// Weights are gathered only where padding or pruning drops entries; otherwise the kernels
// read the caller's array in place (*weights_in_place).
template <typename T>
size_t ResolveTaskTyped(const T* indices, const EmbeddingBagArgs& args, size_t first_bag, size_t last_bag, bool mapped,
                        TaskRows* task, bool* weights_in_place) {
  const uint8_t* const table = args.table.data;
  const size_t row_bytes = args.table.row_bytes;
  const uint64_t limit = mapped ? args.compressed_indices_mapping_len : args.table.rows;
  size_t begin = 0, end = 0, unused = 0;
  BagRange(args, first_bag, &begin, &unused);
  BagRange(args, last_bag - 1, &unused, &end);
  const bool every_index_is_a_row = !mapped && !args.has_padding_idx;
  *weights_in_place = every_index_is_a_row;
  task->rows.resize(end - begin);
  task->weights.resize(args.per_sample_weights != nullptr && !every_index_is_a_row ? end - begin : 0);
  task->starts.resize(last_bag - first_bag + 1);
  const uint8_t** rows = task->rows.data();
  size_t count = 0;
  for (size_t b = first_bag; b < last_bag; ++b) {
    size_t bag_begin = 0, bag_end = 0;
    BagRange(args, b, &bag_begin, &bag_end);
    task->starts[b - first_bag] = count;
    if (every_index_is_a_row) {
      for (size_t i = bag_begin; i < bag_end; ++i) {
        const uint64_t index = static_cast<uint64_t>(static_cast<int64_t>(indices[i]));
        if (index >= limit) return i;
        rows[count++] = table + static_cast<size_t>(index) * row_bytes;
      }
      continue;
    }
    for (size_t i = bag_begin; i < bag_end; ++i) {
      const int64_t index = indices[i];
      if (args.has_padding_idx && index == args.padding_idx) continue;
      if (static_cast<uint64_t>(index) >= limit) return i;
      const int64_t row = mapped ? args.compressed_indices_mapping[index] : index;
      if (row == -1) continue;
      if (static_cast<uint64_t>(row) >= args.table.rows) return i;  // checked mapping, read again: never trusted
      if (args.per_sample_weights != nullptr) task->weights[count] = args.per_sample_weights[i];
      rows[count++] = table + static_cast<size_t>(row) * row_bytes;
    }
  }
  task->starts[last_bag - first_bag] = count;
  return SIZE_MAX;
}

size_t ResolveTask(const EmbeddingBagArgs& args, size_t first_bag, size_t last_bag, bool mapped, TaskRows* task,
                   bool* weights_in_place) {
  if (args.indices.is64) {
    return ResolveTaskTyped(static_cast<const int64_t*>(args.indices.data), args, first_bag, last_bag, mapped, task,
                            weights_in_place);
  }
  return ResolveTaskTyped(static_cast<const int32_t*>(args.indices.data), args, first_bag, last_bag, mapped, task,
                          weights_in_place);
}

void MeanBag(int bits, size_t dim, const uint8_t* const* rows, size_t count, float* out) {
  for (size_t r = 0; r < count; ++r) {
    for (size_t j = 0; j < dim; ++j) out[j] = out[j] + EmbeddingDequantizeElement(bits, rows[r], dim, j);
  }
  const float divisor = static_cast<float>(std::max<size_t>(count, 1));
  for (size_t j = 0; j < dim; ++j) out[j] = out[j] / divisor;
}

void MaxBag(int bits, size_t dim, const uint8_t* const* rows, size_t count, float* out) {
  for (size_t r = 0; r < count; ++r) {
    for (size_t j = 0; j < dim; ++j) {
      const float v = EmbeddingDequantizeElement(bits, rows[r], dim, j);
      if (r == 0 || v > out[j]) out[j] = v;
    }
  }
}

}  // namespace

size_t EmbeddingTableDim(const EmbeddingTable& table) {
  if (table.bits == 8) return table.row_bytes >= 8 ? table.row_bytes - 8 : 0;
  return table.row_bytes >= 4 ? (table.row_bytes - 4) * 2 : 0;
}

Status EmbeddingBagOutputBags(const EmbeddingBagArgs& args, size_t* bags) {
  QK_RETURN_IF_ERROR(CheckTable(args.table));
  if (args.indices.length > 0 && args.indices.data == nullptr) {
    return Status::TypeError(Expected("an array", "indices", "null"));
  }
  if (args.offsets.length > 0 && args.offsets.data == nullptr) {
    return Status::TypeError(Expected("an array", "offsets", "null"));
  }
  if (args.include_last_offset) {
    if (args.offsets.length == 0) {
      return Status::RangeError(Expected("at least one offset (includeLastOffset: the last one ends the last bag)",
                                         "offsets", "0 offsets"));
    }
    *bags = args.offsets.length - 1;
  } else {
    *bags = args.offsets.length;
  }
  if (args.mode != EmbeddingBagMode::kSum && args.mode != EmbeddingBagMode::kMean &&
      args.mode != EmbeddingBagMode::kMax) {
    return Status::RangeError(Expected("sum, mean or max", "mode", std::to_string(static_cast<int>(args.mode))));
  }
  if (args.per_sample_weights != nullptr || args.per_sample_weights_len > 0) {
    if (args.mode != EmbeddingBagMode::kSum) {
      return Status::RangeError(Expected("no perSampleWeights (they are only supported with mode sum)",
                                         "perSampleWeights", std::to_string(args.per_sample_weights_len) + " weights"));
    }
    if (args.per_sample_weights_len != args.indices.length ||
        (args.per_sample_weights == nullptr && args.indices.length > 0)) {
      return Status::RangeError(Expected(std::to_string(args.indices.length) + " weights (one per index)",
                                         "perSampleWeights", std::to_string(args.per_sample_weights_len) + " weights"));
    }
  }
  if (args.pruned_weights && (args.compressed_indices_mapping == nullptr || args.compressed_indices_mapping_len == 0)) {
    return Status::RangeError(Expected("a compressedIndicesMapping (prunedWeights is true)", "compressedIndicesMapping",
                                       "none"));
  }
  return Status::Ok();
}

Status EmbeddingBagLookup(const EmbeddingBagArgs& args, float* out, size_t out_len) {
  size_t bags = 0;
  QK_RETURN_IF_ERROR(EmbeddingBagOutputBags(args, &bags));
  const size_t dim = EmbeddingTableDim(args.table);
  size_t needed = 0;
  if (!CheckedMul(bags, dim, &needed) || out_len < needed || (needed > 0 && out == nullptr)) {
    return Status::RangeError(Expected(std::to_string(bags) + " x " + std::to_string(dim) + " floats", "output",
                                       std::to_string(out_len)));
  }
  QK_RETURN_IF_ERROR(CheckOffsetsAndMapping(args));
  const size_t n = args.indices.length;
  // Indices no bag reads (after the last bag, or all of them when nothing is computed) are
  // checked here; the bags' own, where they are resolved.
  size_t bagged_end = 0;
  if (needed > 0) {
    size_t unused = 0;
    BagRange(args, bags - 1, &unused, &bagged_end);
  }

  const DispatchTable& kernels = Dispatch();
  EmbeddingBagU8Fn* const sum_kernel = args.table.bits == 8 ? kernels.qu8_embedding_bag : kernels.qu4_embedding_bag;
  const bool mapped = UsesMapping(args);
  std::atomic<size_t> first_bad{SIZE_MAX};

  auto run_bags = [&](size_t first, size_t last) {
    if (first >= last) return;
    TaskRows& task = ThreadTaskRows();
    bool weights_in_place = false;
    const size_t bad = ResolveTask(args, first, last, mapped, &task, &weights_in_place);
    if (bad != SIZE_MAX) {
      // The earliest over all tasks is reported: tasks cover increasing positions.
      size_t seen = first_bad.load();
      while (bad < seen && !first_bad.compare_exchange_weak(seen, bad)) {
      }
      TrimTaskRows(&task);
      return;  // nothing of this task is computed
    }
    const size_t total = task.starts.back();
    size_t weights_at = 0, unused = 0;
    if (weights_in_place) BagRange(args, first, &weights_at, &unused);
    const float* weights = args.per_sample_weights == nullptr ? nullptr
                           : weights_in_place                 ? args.per_sample_weights + weights_at
                                                              : task.weights.data();
    for (size_t b = first; b < last; ++b) {
      const size_t start = task.starts[b - first];
      const size_t count = task.starts[b - first + 1] - start;
      const uint8_t* const* rows = task.rows.data() + start;
      float* row_out = out + b * dim;
      std::fill(row_out, row_out + dim, 0.0f);
      switch (args.mode) {
        case EmbeddingBagMode::kSum:
          // Long bags in pieces: the kernels bound the largest |t| of a call by its row count
          // (embedding-common.h), so pieces keep the bound tight and the fast path taken. The
          // sum is the same, row after row into the same output.
          for (size_t piece = 0; piece < count; piece += kRowsPerKernelCall) {
            sum_kernel(dim, std::min(kRowsPerKernelCall, count - piece), total - start - piece, rows + piece,
                       weights != nullptr ? weights + start + piece : nullptr, row_out);
          }
          break;
        case EmbeddingBagMode::kMean: MeanBag(args.table.bits, dim, rows, count, row_out); break;
        case EmbeddingBagMode::kMax: MaxBag(args.table.bits, dim, rows, count, row_out); break;
      }
    }
    TrimTaskRows(&task);
  };

  if (needed > 0) {
    // Bags are independent and each is computed the same way wherever the cut falls, so
    // the output does not depend on the thread count.
    constexpr size_t kMinWorkPerTask = 1 << 15;  // index-elements
    const size_t work = std::max<size_t>(n, bags) * std::max<size_t>(dim, 1);
    const size_t threads = static_cast<size_t>(GetNumThreads());
    const size_t wanted = std::min({threads, bags, std::max<size_t>(work / kMinWorkPerTask, 1)});
    if (wanted <= 1) {
      run_bags(0, bags);
    } else {
      size_t begin = 0, end = 0;
      const size_t parts = SplitRange(bags, wanted, 1, 0, &begin, &end);
      ParallelFor(parts, [&](size_t task) {
        size_t first = 0, last = 0;
        SplitRange(bags, parts, 1, task, &first, &last);
        run_bags(first, last);
      });
    }
  }
  if (first_bad.load() != SIZE_MAX) return BadIndex(args, first_bad.load());
  const size_t tail_bad = FirstBadIndexIn(args, bagged_end, n);
  if (tail_bad < n) return BadIndex(args, tail_bad);
  return Status::Ok();
}

bool IndicesBelow(const int32_t* indices, size_t count, size_t rows) {
  for (size_t i = 0; i < count; ++i) {
    if (indices[i] < 0 || static_cast<size_t>(indices[i]) >= rows) return false;
  }
  return true;
}

uint64_t EmbeddingGatherRowBytes(const uint8_t* table, size_t row_bytes, const int32_t* indices, size_t count) {
  // Eight bytes at a time (added as 64-bit words: every byte is read, the loop stays a
  // few instructions per cache line), then the row's last bytes one by one.
  uint64_t sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* row = table + static_cast<size_t>(indices[i]) * row_bytes;
    size_t b = 0;
    for (; b + 8 <= row_bytes; b += 8) {
      uint64_t word;
      std::memcpy(&word, row + b, 8);
      sum += word;
    }
    for (; b < row_bytes; ++b) sum += row[b];
  }
  return sum;
}

}  // namespace qk
