// Quantized softmax: the column maxima, exponentials and sums here, the normalize-and-quantize step in the microkernel (see softmax.h).
#include "ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace {

// exp(v - m) of every value q of a column whose largest value is `top`, for the tops that recur:
// e depends only on (q, top), so a table per top (q in [qmin, top], top - qmin + 1 exps) replaces
// the exps of every later column with that top. A top's table is made once the columns of that top
// (this one included) hold at least as many values as the table has entries, so the tables never
// cost more exps than the direct path would have spent on those columns: a call computes at most
// twice the exps it would without tables, and far fewer when tops recur (attention rows). The
// entries come from the very expression of the direct path: the same bits.
class ExpTables {
 public:
  // The table of top index `top_index` (top - qmin) for a column of `size` values: the made one
  // (*fresh false), a new one the caller fills (*fresh true), or null (compute the exps directly).
  float* Table(size_t top_index, size_t size, bool* fresh) {
    *fresh = false;
    if (tables_[top_index]) return tables_[top_index].get();
    spent_[top_index] += size;
    if (spent_[top_index] < top_index + 1) return nullptr;
    tables_[top_index].reset(new float[top_index + 1]);
    *fresh = true;
    return tables_[top_index].get();
  }

 private:
  std::unique_ptr<float[]> tables_[256];
  size_t spent_[256] = {};  // values of this top's columns so far
};

inline float ExpOfDifference(float x_scale, int32_t q, int32_t x_zero_point, float m) {
  const float v = x_scale * static_cast<float>(q - x_zero_point);
  return static_cast<float>(std::exp(static_cast<double>(v - m)));
}

// The column maximum of a value of index `top_index` (top - qmin), as Exponentials computes it.
inline float ColumnMax(float x_scale, size_t top_index, int32_t qmin, int32_t x_zero_point) {
  return x_scale * static_cast<float>(static_cast<int32_t>(top_index) + qmin - x_zero_point);
}

// Where row `top_index` of an exp table starts: rows of top_index + 1 entries, one after another.
inline size_t ExpTableRow(size_t top_index) { return top_index * (top_index + 1) / 2; }

// The exps of every (q, top) pair with q <= top of one input quantization, from the direct
// path's expression (the same bits): row top - qmin, entry q - qmin. Shared by every op prepared
// with exp_table for that quantization while one holds it; made under the lock by the first (a
// few hundred microseconds, once per quantization a plan meets).
std::shared_ptr<const std::vector<float>> SharedExpTable(float x_scale, int32_t x_zero_point, int32_t qmin) {
  static std::mutex mutex;
  static std::map<std::tuple<uint32_t, int32_t, int32_t>, std::weak_ptr<const std::vector<float>>> tables;
  uint32_t scale_bits = 0;
  std::memcpy(&scale_bits, &x_scale, sizeof scale_bits);
  const auto key = std::make_tuple(scale_bits, x_zero_point, qmin);
  std::lock_guard<std::mutex> lock(mutex);
  auto found = tables.find(key);
  if (found != tables.end()) {
    if (auto table = found->second.lock()) return table;
  }
  for (auto it = tables.begin(); it != tables.end();) it = it->second.expired() ? tables.erase(it) : std::next(it);
  auto table = std::make_shared<std::vector<float>>(ExpTableRow(256));
  for (size_t top_index = 0; top_index < 256; ++top_index) {
    const float m = ColumnMax(x_scale, top_index, qmin, x_zero_point);
    float* row = table->data() + ExpTableRow(top_index);
    for (size_t q = 0; q <= top_index; ++q) row[q] = ExpOfDifference(x_scale, static_cast<int32_t>(q) + qmin, x_zero_point, m);
  }
  tables[key] = table;
  return table;
}

// One [size][inner] block: e and the per-column sums (sums[i] of column i). `shared`: the
// SharedExpTable of this quantization, or null; then `tables` (null: every exp computed directly).
template <typename T>
void Exponentials(const T* x, size_t size, size_t inner, float x_scale, int32_t x_zero_point, float* e, float* sums,
                  const float* shared, ExpTables* tables) {
  constexpr int32_t qmin = std::numeric_limits<T>::min();
  for (size_t i = 0; i < inner; ++i) {
    T top = x[i];
    for (size_t k = 1; k < size; ++k) top = std::max(top, x[k * inner + i]);
    const size_t top_index = static_cast<size_t>(static_cast<int32_t>(top) - qmin);
    if (shared != nullptr) {
      const float* row = shared + ExpTableRow(top_index);
      float sum = 0.0f;
      for (size_t k = 0; k < size; ++k) {
        const float value = row[static_cast<int32_t>(x[k * inner + i]) - qmin];
        e[k * inner + i] = value;
        sum = sum + value;
      }
      sums[i] = sum;
      continue;
    }
    const float m = ColumnMax(x_scale, top_index, qmin, x_zero_point);
    bool fresh = false;
    float* table = tables != nullptr ? tables->Table(top_index, size, &fresh) : nullptr;
    if (fresh) {
      for (size_t q = 0; q <= top_index; ++q) table[q] = ExpOfDifference(x_scale, static_cast<int32_t>(q) + qmin, x_zero_point, m);
    }
    float sum = 0.0f;
    if (table != nullptr) {
      for (size_t k = 0; k < size; ++k) {
        const float value = table[static_cast<int32_t>(x[k * inner + i]) - qmin];
        e[k * inner + i] = value;
        sum = sum + value;
      }
    } else {
      for (size_t k = 0; k < size; ++k) {
        const float value = ExpOfDifference(x_scale, static_cast<int32_t>(x[k * inner + i]), x_zero_point, m);
        e[k * inner + i] = value;
        sum = sum + value;
      }
    }
    sums[i] = sum;
  }
}

template <typename T, typename Kernel>
void RunBlocks(const SoftmaxOpParams& p, const float* shared, const T* x, T* y, float* e, float* sums, Kernel* kernel) {
  // As QuantizePerTensor quantizes 8-bit values: PyTorch's 1.0f / float(scale).
  const QRange range = QDTypeRange(p.dtype);
  const QuantizeParams quantize{1.0f / static_cast<float>(p.y_scale), static_cast<int32_t>(p.y_zero_point),
                                static_cast<int32_t>(range.qmin), static_cast<int32_t>(range.qmax)};
  const float x_scale = static_cast<float>(p.x_scale);
  const int32_t x_zero_point = static_cast<int32_t>(p.x_zero_point);
  const size_t block = p.size * p.inner;
  // A table costs up to 256 exps: below that many values a call computes them directly (and a
  // tiny softmax does not zero the tables' bookkeeping).
  std::unique_ptr<ExpTables> tables;
  if (shared == nullptr && block * p.outer >= 256) tables.reset(new ExpTables);
  for (size_t o = 0; o < p.outer; ++o) {
    Exponentials(x + o * block, p.size, p.inner, x_scale, x_zero_point, e, sums, shared, tables.get());
    if (p.inner == 1) {
      const SoftmaxParams params{1.0f / sums[0], &quantize};
      kernel(p.size, e, nullptr, y + o * block, &params);
    } else {
      const SoftmaxParams params{0.0f, &quantize};
      for (size_t k = 0; k < p.size; ++k) kernel(p.inner, e + k * p.inner, sums, y + o * block + k * p.inner, &params);
    }
  }
}

}  // namespace

Status SoftmaxOp::Prepare(const SoftmaxOpParams& params, std::shared_ptr<const SoftmaxOp>* out) {
  if (params.dtype != QDType::kQUInt8 && params.dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "dtype", QDTypeName(params.dtype)));
  }
  const QRange range = QDTypeRange(params.dtype);
  QK_RETURN_IF_ERROR(CheckScale(params.x_scale, ScaleRule::kPositiveFiniteInFloat32, "positive number finite in float32",
                                "input scale", [&] { return std::to_string(params.x_scale); }));
  QK_RETURN_IF_ERROR(CheckZeroPoint(params.x_zero_point, range.qmin, range.qmax, "input zero point"));
  QK_RETURN_IF_ERROR(CheckScale(params.y_scale, ScaleRule::kPositiveFiniteInFloat32, "positive number finite in float32",
                                "scale", [&] { return std::to_string(params.y_scale); }));
  QK_RETURN_IF_ERROR(CheckZeroPoint(params.y_zero_point, range.qmin, range.qmax, "zeroPoint"));
  auto op = std::shared_ptr<SoftmaxOp>(new SoftmaxOp);
  size_t block = 0, e_bytes = 0, sum_bytes = 0;
  if (!CheckedMul(params.size, params.inner, &block) || !CheckedMul(block, params.outer, &op->numel_) ||
      !CheckedMul(block, sizeof(float), &e_bytes) || !CheckedMul(params.inner, sizeof(float), &sum_bytes) ||
      !CheckedAdd(e_bytes, sum_bytes, &op->scratch_bytes_)) {
    return Status::RangeError(Expected("sizes whose product fits in memory", "shape",
                                       std::to_string(params.outer) + " x " + std::to_string(params.size) + " x " +
                                           std::to_string(params.inner)));
  }
  if (op->numel_ == 0) op->scratch_bytes_ = 0;
  op->params_ = params;
  if (params.exp_table && op->numel_ > 0) {
    op->exp_table_ = SharedExpTable(static_cast<float>(params.x_scale), static_cast<int32_t>(params.x_zero_point),
                                    static_cast<int32_t>(range.qmin));
  }
  *out = std::move(op);
  return Status::Ok();
}

Status SoftmaxOp::Run(const void* const* inputs, void* output, void* scratch) const {
  if (numel_ == 0) return Status::Ok();
  if (scratch == nullptr) return Status::TypeError(Expected("a scratch buffer", "scratch", "null"));
  float* e = static_cast<float*>(scratch);
  float* sums = e + params_.size * params_.inner;
  const DispatchTable& table = Dispatch();
  const float* shared = exp_table_ ? exp_table_->data() : nullptr;
  if (params_.dtype == QDType::kQUInt8) {
    RunBlocks(params_, shared, static_cast<const uint8_t*>(inputs[0]), static_cast<uint8_t*>(output), e, sums,
              table.f32_qu8_softmax);
  } else {
    RunBlocks(params_, shared, static_cast<const int8_t*>(inputs[0]), static_cast<int8_t*>(output), e, sums,
              table.f32_qs8_softmax);
  }
  return Status::Ok();
}

}  // namespace qk
