// Elementwise operators: lookup tables built from PyTorch's per-element formulas, quantized add / mul, threads, the fp32 matmul.
#include "ops/elementwise.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>

#include "base/checked.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "ops/strided-copy.h"
#include "ukernels/dispatch.h"
#include "ukernels/elementwise/elementwise-scalar.h"

// The formulas are sequences of fp32 roundings, as in PyTorch: no contraction.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

Status CheckByteDType(QDType dtype) {
  if (dtype == QDType::kQUInt8 || dtype == QDType::kQInt8) return Status::Ok();
  return Status::RangeError(Expected("quint8 or qint8", "dtype", std::to_string(static_cast<int>(dtype))));
}

Status CheckQParams(double scale, int64_t zero_point, QDType dtype, const char* scale_name, const char* zp_name) {
  // The messages are built only on failure: std::to_string(double) is a printf, and these checks
  // run on every call of every lookup, cat and add (a few hundred ns each time otherwise).
  const QRange range = QDTypeRange(dtype);
  if (ScaleOk(scale, ScaleRule::kPositiveFiniteInFloat32) && zero_point >= range.qmin && zero_point <= range.qmax) {
    return Status::Ok();
  }
  QK_RETURN_IF_ERROR(::qk::CheckScale(scale, ScaleRule::kPositiveFiniteInFloat32, "positive number finite in float32",
                                      scale_name, [&] { return std::to_string(scale); }));
  return ::qk::CheckZeroPoint(zero_point, range.qmin, range.qmax, zp_name);
}

// Rows of row_length covering n elements, the first vector_length of each in the vector formula.
Status CheckRows(size_t n, size_t row_length, size_t vector_length) {
  if (n == 0) return Status::Ok();
  if (row_length == 0 || n % row_length != 0) {
    return Status::RangeError(Expected("a row length dividing " + std::to_string(n), "rowLength", std::to_string(row_length)));
  }
  if (vector_length > row_length) {
    return Status::RangeError(Expected("at most the row length " + std::to_string(row_length), "vectorLength",
                                       std::to_string(vector_length)));
  }
  return Status::Ok();
}

Status CheckBuffer(const void* data, size_t length, size_t needed, const char* parameter) {
  if (needed > 0 && data == nullptr) return Status::TypeError(Expected("a buffer", parameter, "null"));
  if (length < needed) {
    return Status::RangeError(Expected("at least " + std::to_string(needed) + " elements", parameter, std::to_string(length)));
  }
  return Status::Ok();
}

// Calls fn(offset, count, vector_formula) for the pieces of [begin, end) that lie
// wholly in one row's vector part or scalar part.
template <typename Fn>
void ForEachSegment(size_t begin, size_t end, size_t row_length, size_t vector_length, Fn fn) {
  size_t i = begin;
  while (i < end) {
    const size_t in_row = i % row_length;
    const size_t row_start = i - in_row;
    const bool vector = in_row < vector_length;
    const size_t segment_end = std::min(end, row_start + (vector ? vector_length : row_length));
    fn(i, segment_end - i, vector);
    i = segment_end;
  }
}

// Splits n elements over the threads in chunks that keep the SIMD kernels on full vectors.
// An element costs about a quarter of a nanosecond on the SIMD paths (the minimum-work test).
template <typename Fn>
void ParallelSegments(size_t n, Fn fn) {
  ParallelRanges(n, 0.25, kTorchVectorStep, fn);
}

float InverseOf(double scale, InverseScale how) {
  switch (how) {
    case InverseScale::kDouble: return static_cast<float>(1.0 / scale);
    case InverseScale::kDoubleOfFloat: return static_cast<float>(1.0 / static_cast<double>(static_cast<float>(scale)));
    case InverseScale::kFloat: break;
  }
  return 1.0f / static_cast<float>(scale);
}

// The real-valued maps: y = f(x) in PyTorch's fp32 order (std::exp / std::tanh on
// floats are libm's expf / tanhf, which PyTorch's scalar lambdas call too).
float RealMap(const LookupSpec& spec, float x) {
  const float p0 = static_cast<float>(spec.p0), p1 = static_cast<float>(spec.p1), p2 = static_cast<float>(spec.p2);
  switch (spec.op) {
    case LookupOp::kHardswish: return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case LookupOp::kElu: return x >= 0 ? x * p1 : (std::exp(x * p2) - 1) * p0 * p1;
    case LookupOp::kLeakyRelu: return x > 0 ? x : x * p0;
    case LookupOp::kHardsigmoid: return std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case LookupOp::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case LookupOp::kTanh: return std::tanh(x);
    case LookupOp::kThreshold: return x > p0 ? x : p1;
    case LookupOp::kRequantize: return spec.p0 != 0 ? std::max(0.0f, x) : x;
    default: return x;
  }
}

}  // namespace

Status CheckLookupSpec(const LookupSpec& spec) {
  QK_RETURN_IF_ERROR(CheckByteDType(spec.dtype));
  QK_RETURN_IF_ERROR(CheckQParams(spec.in_scale, spec.in_zero_point, spec.dtype, "scale", "zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(spec.out_scale, spec.out_zero_point, spec.dtype, "outputScale", "outputZeroPoint"));
  if (spec.op == LookupOp::kQnnpackHardswish && spec.dtype != QDType::kQUInt8) {
    return Status::RangeError(Expected("quint8 (QNNPACK's hardswish)", "dtype", "qint8"));
  }
  if (spec.op == LookupOp::kAddScalar && !(std::fabs(spec.p0) <= 2147483647.0 && spec.p0 == std::trunc(spec.p0))) {
    return Status::RangeError(Expected("an integer in int32 range", "other / scale", std::to_string(spec.p0)));
  }
  if (static_cast<int32_t>(spec.op) < 0 || static_cast<int32_t>(spec.op) > static_cast<int32_t>(LookupOp::kQnnpackHardswish)) {
    return Status::RangeError(Expected("a known lookup op", "op", std::to_string(static_cast<int32_t>(spec.op))));
  }
  return Status::Ok();
}

int32_t LookupValue(const LookupSpec& spec, int32_t q, bool vector_formula) {
  const QRange range = QDTypeRange(spec.dtype);
  const int32_t qmin = static_cast<int32_t>(range.qmin), qmax = static_cast<int32_t>(range.qmax);
  const int32_t in_zp = static_cast<int32_t>(spec.in_zero_point), out_zp = static_cast<int32_t>(spec.out_zero_point);
  const float in_scale = static_cast<float>(spec.in_scale);
  const float out_inv_scalar = 1.0f / static_cast<float>(spec.out_scale);
  switch (spec.op) {
    case LookupOp::kRelu: return std::max(q, in_zp);
    case LookupOp::kClamp: {
      // quantize_val of each bound with the input's qparams, then integer max / min.
      const float in_inv = 1.0f / in_scale;
      const int32_t lo = std::isnan(spec.p0) ? qmin : QuantizeScalarValue(static_cast<float>(spec.p0), in_inv, in_zp, qmin, qmax);
      const int32_t hi = std::isnan(spec.p1) ? qmax : QuantizeScalarValue(static_cast<float>(spec.p1), in_inv, in_zp, qmin, qmax);
      return std::min(std::max(q, lo), hi);
    }
    case LookupOp::kAddScalar: {
      // qadd_scalar_kernel: multiplier = float(self_scale) * (1.0f / float(out_scale)).
      const float multiplier = in_scale * out_inv_scalar;
      const int32_t c = static_cast<int32_t>(static_cast<uint32_t>(q - in_zp) + static_cast<uint32_t>(static_cast<int32_t>(spec.p0)));
      const int32_t y = vector_formula ? RequantizeVectorValue(c, multiplier, out_zp, qmin, qmax)
                                       : RequantizeScalarValue(c, multiplier, out_zp, qmin, qmax);
      return spec.p1 != 0 ? std::max(y, out_zp) : y;
    }
    case LookupOp::kNegate: {
      const int32_t y = qmax + qmin - q;
      return spec.p0 != 0 ? std::max(y, out_zp) : y;
    }
    case LookupOp::kQnnpackHardswish: {
      const float x = in_scale * static_cast<float>(q - in_zp);
      const float clipped = std::min(std::max(x + 3.0f, 0.0f), 6.0f);
      float t = out_inv_scalar * (x * clipped / 6.0f) + static_cast<float>(out_zp);
      t = t < 0.0f ? 0.0f : (t > 255.0f ? 255.0f : t);
      return static_cast<int32_t>(std::lrintf(t));
    }
    default: break;
  }
  const float premul = in_scale * -static_cast<float>(in_zp);
  const float x = vector_formula ? DequantizeVectorValue(q, in_scale, premul) : DequantizeScalarValue(q, in_scale, in_zp);
  const float real = RealMap(spec, x);
  return vector_formula ? QuantizeVectorValue(real, InverseOf(spec.out_scale, spec.inverse), out_zp, qmin, qmax)
                        : QuantizeScalarValue(real, out_inv_scalar, out_zp, qmin, qmax);
}

Status BuildLookupTable(const LookupSpec& spec, bool vector_formula, uint8_t table[256]) {
  QK_RETURN_IF_ERROR(CheckLookupSpec(spec));
  for (int b = 0; b < 256; ++b) {
    const int32_t q = spec.dtype == QDType::kQInt8 ? static_cast<int8_t>(b) : b;
    table[b] = static_cast<uint8_t>(LookupValue(spec, q, vector_formula));
  }
  return Status::Ok();
}

namespace {

// Field by field; doubles by their bits, so that a NaN bound (clamp's "none") matches itself.
bool SameDouble(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }
bool SameSpec(const LookupSpec& a, const LookupSpec& b) {
  return a.op == b.op && a.dtype == b.dtype && SameDouble(a.in_scale, b.in_scale) && a.in_zero_point == b.in_zero_point &&
         SameDouble(a.out_scale, b.out_scale) && a.out_zero_point == b.out_zero_point && SameDouble(a.p0, b.p0) &&
         SameDouble(a.p1, b.p1) && SameDouble(a.p2, b.p2) && a.inverse == b.inverse;
}

// The tables of the last few specs built. An eager call (hardswish, hardsigmoid, a cat's
// requantization, ...) prepares its op anew every time, and building 512 entries through the
// fp32 formulas (expf, tanhf, divisions) cost more than looking up a 40 KB activation; a model
// uses a handful of distinct specs, so they are remembered. The tables are a pure function of
// the spec: a hit gives the same bytes a build would. Entries are immutable and shared: a slot
// reused for another spec drops only the cache's reference, never the tables an op still holds.
struct TableCache {
  static constexpr size_t kEntries = 32;
  std::mutex mutex;
  LookupSpec specs[kEntries];
  std::shared_ptr<const LookupTables> tables[kEntries];
  size_t used = 0, next = 0;

  // The cached tables of `spec`, or null; the caller holds `mutex`.
  const std::shared_ptr<const LookupTables>* Find(const LookupSpec& spec) const {
    for (size_t i = 0; i < used; ++i) {
      if (SameSpec(specs[i], spec)) return &tables[i];
    }
    return nullptr;
  }
};

TableCache& Cache() {
  static TableCache* cache = new TableCache();  // never destroyed: no exit-time order issues
  return *cache;
}

}  // namespace

Status SharedLookupTables(const LookupSpec& spec, std::shared_ptr<const LookupTables>* out) {
  TableCache& cache = Cache();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (const auto* hit = cache.Find(spec)) {
      *out = *hit;
      return Status::Ok();
    }
  }
  // Built outside the lock (hundreds of fp32 evaluations): other threads' hits do not wait.
  auto built = std::make_shared<LookupTables>();
  QK_RETURN_IF_ERROR(BuildLookupTable(spec, /*vector_formula=*/false, built->table[0]));
  QK_RETURN_IF_ERROR(BuildLookupTable(spec, /*vector_formula=*/true, built->table[1]));
  built->one_table = std::memcmp(built->table[0], built->table[1], sizeof(built->table[0])) == 0;
  bool identity = built->one_table;
  for (int b = 0; b < 256 && identity; ++b) identity = built->table[0][b] == b;
  built->identity = identity;
  std::lock_guard<std::mutex> lock(cache.mutex);
  // Another thread may have built the same spec meanwhile: share its tables (equal bytes) and
  // keep one slot per spec.
  if (const auto* hit = cache.Find(spec)) {
    *out = *hit;
    return Status::Ok();
  }
  const size_t slot = cache.used < TableCache::kEntries ? cache.used++ : cache.next++ % TableCache::kEntries;
  cache.specs[slot] = spec;
  cache.tables[slot] = built;
  *out = std::move(built);
  return Status::Ok();
}

Status BuildLookupTables(const LookupSpec& spec, LookupTables* tables) {
  std::shared_ptr<const LookupTables> shared;
  QK_RETURN_IF_ERROR(SharedLookupTables(spec, &shared));
  *tables = *shared;
  return Status::Ok();
}

Status LookupRows(const LookupSpec& spec, const void* x, size_t x_len, void* y, size_t y_len, size_t row_length,
                  size_t vector_length) {
  LookupTables tables;
  QK_RETURN_IF_ERROR(BuildLookupTables(spec, &tables));
  return LookupRowsWithTables(tables, x, x_len, y, y_len, row_length, vector_length);
}

Status LookupRowsWithTables(const LookupTables& tables, const void* x, size_t x_len, void* y, size_t y_len,
                            size_t row_length, size_t vector_length) {
  QK_RETURN_IF_ERROR(CheckBuffer(x, x_len, x_len, "input"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, x_len, "output"));
  QK_RETURN_IF_ERROR(CheckRows(x_len, row_length, vector_length));
  if (x_len == 0) return Status::Ok();
  LookupX8Fn* kernel = Dispatch().x8_lut;
  const uint8_t* in = static_cast<const uint8_t*>(x);
  uint8_t* out = static_cast<uint8_t*>(y);
  // Where the two formulas give the same table (most qparams), the rows' vector and tail parts
  // need not be told apart: one kernel call per thread's range instead of two per row (a
  // channels-last row is one pixel's channels, tens of bytes, so a call per part cost more than
  // the lookups themselves).
  ParallelSegments(x_len, [&](size_t begin, size_t end) {
    if (tables.one_table) {
      kernel(end - begin, in + begin, tables.table[0], out + begin);
      return;
    }
    ForEachSegment(begin, end, row_length, vector_length, [&](size_t offset, size_t count, bool vector) {
      kernel(count, in + offset, tables.table[vector ? 1 : 0], out + offset);
    });
  });
  return Status::Ok();
}

void MakeBinaryParams(const BinarySpec& spec, BinaryParams* p) {
  const QRange range = QDTypeRange(spec.dtype);
  p->a_scale = static_cast<float>(spec.a_scale);
  p->b_scale = static_cast<float>(spec.b_scale);
  p->a_premul = p->a_scale * -static_cast<float>(spec.a_zero_point);
  p->b_premul = p->b_scale * -static_cast<float>(spec.b_zero_point);
  p->inv_out_scale = 1.0f / static_cast<float>(spec.out_scale);
  p->multiplier = spec.divide_by_out_scale ? (p->a_scale * p->b_scale) / static_cast<float>(spec.out_scale)
                                           : p->a_scale * p->b_scale * p->inv_out_scale;
  p->a_zero_point = static_cast<int32_t>(spec.a_zero_point);
  p->b_zero_point = static_cast<int32_t>(spec.b_zero_point);
  p->out_zero_point = static_cast<int32_t>(spec.out_zero_point);
  p->qmin = static_cast<int32_t>(range.qmin);
  p->qmax = static_cast<int32_t>(range.qmax);
  p->multiply = spec.multiply ? 1 : 0;
  p->relu = spec.relu ? 1 : 0;
}

namespace {

// dst[k] = src[((start + k) / each) % period] for k < count: runs of one value (memset) or of
// consecutive values (memcpy), never an index computation per element.
void ExpandBroadcast(const uint8_t* src, size_t each, size_t period, size_t start, size_t count, uint8_t* dst) {
  size_t i = start, k = 0;
  while (k < count) {
    const size_t block = i / each;
    const size_t value = block % period;
    if (each == 1) {
      const size_t run = std::min(count - k, period - value);
      std::memcpy(dst + k, src + value, run);
      k += run;
      i += run;
    } else {
      const size_t run = std::min(count - k, (block + 1) * each - i);
      std::memset(dst + k, src[value], run);
      k += run;
      i += run;
    }
  }
}

// One piece of a binary op: m elements at output offset `at`, in the vector or the tail formula.
void BinaryPiece(const DispatchTable& table, const BinaryParams& params, QDType dtype, bool vector, size_t m,
                 const uint8_t* pa, const uint8_t* pb, void* y, size_t at) {
  if (dtype == QDType::kQUInt8) {
    (vector ? table.qu8_binary : table.qu8_binary_tail)(m, pa, pb, static_cast<uint8_t*>(y) + at, &params);
  } else {
    const int8_t* sa = reinterpret_cast<const int8_t*>(pa);
    const int8_t* sb = reinterpret_cast<const int8_t*>(pb);
    (vector ? table.qs8_binary : table.qs8_binary_tail)(m, sa, sb, static_cast<int8_t*>(y) + at, &params);
  }
}

// Pieces of this many elements at most: small enough to stay in L1 beside the kernel's reads;
// the kernel keeps its full vectors on every piece but a segment's last (512 is a multiple of
// every vector).
constexpr size_t kPiece = 512;

// BinaryRowsBroadcast computes runs of one broadcast value this long or longer through a table of
// the 256 results (the table costs 256 elements of the kernel; a lookup is a small part of one).
constexpr size_t kLutMinRun = 512;

// BinaryRowsBroadcast with one operand read across (`across`, rows > 0): per block of
// rows x cols output elements, tiles of `width` columns (rows x width bytes within 16 KB) are
// transposed into a scratch buffer, and each tile row is one run of output elements. Threads
// take whole tiles; every element's formula follows from its own offset, so any split gives
// the same bytes.
void BinaryAcross(const BinaryParams& params, QDType dtype, const BroadcastOperand& across, bool across_is_a,
                  const BroadcastOperand& other, void* y, size_t n, size_t row_length, size_t vector_length) {
  const DispatchTable& table = Dispatch();
  const size_t rows = across.rows, cols = across.cols, block = rows * cols;
  const size_t width = std::min(cols, std::min(kPiece, std::max<size_t>(16, (16384 / rows) & ~size_t{15})));
  const size_t tiles_per_block = (cols + width - 1) / width;
  const size_t tiles = (n / block) * tiles_per_block;
  constexpr size_t kMinChunk = 16384;
  const size_t parts =
      std::max<size_t>(1, std::min(std::min<size_t>(static_cast<size_t>(GetNumThreads()), n / kMinChunk), tiles));
  const uint8_t* data = static_cast<const uint8_t*>(across.data);
  const bool other_dense = other.each == 1 && other.period == n;
  ParallelFor(parts, [&](size_t part) {
    size_t begin = 0, end = 0;
    SplitRange(tiles, parts, 1, part, &begin, &end);
    const std::unique_ptr<uint8_t[]> tile(new uint8_t[rows * width]);  // every byte written before it is read
    alignas(64) uint8_t other_buf[kPiece];
    for (size_t t = begin; t < end; ++t) {
      const size_t o = t / tiles_per_block;
      const size_t c0 = (t % tiles_per_block) * width;
      const size_t w = std::min(width, cols - c0);
      // tile[r * w + c] = data[(o * cols + c0 + c) * rows + r]
      TransposeBytes(data + o * block + c0 * rows, static_cast<int64_t>(rows), tile.get(), static_cast<int64_t>(w),
                     static_cast<int64_t>(rows), static_cast<int64_t>(w));
      for (size_t r = 0; r < rows; ++r) {
        const size_t start = o * block + r * cols + c0;
        ForEachSegment(start, start + w, row_length, vector_length, [&](size_t offset, size_t count, bool vector) {
          const uint8_t* pt = tile.get() + r * w + (offset - start);
          const uint8_t* po = static_cast<const uint8_t*>(other.data) + offset;
          if (!other_dense) {
            ExpandBroadcast(static_cast<const uint8_t*>(other.data), other.each, other.period, offset, count, other_buf);
            po = other_buf;
          }
          BinaryPiece(table, params, dtype, vector, count, across_is_a ? pt : po, across_is_a ? po : pt, y, offset);
        });
      }
    }
  });
}

}  // namespace

Status BinaryRowsBroadcast(const BinarySpec& spec, const BroadcastOperand& a, const BroadcastOperand& b, void* y,
                           size_t n, size_t row_length, size_t vector_length) {
  QK_RETURN_IF_ERROR(CheckByteDType(spec.dtype));
  QK_RETURN_IF_ERROR(CheckQParams(spec.a_scale, spec.a_zero_point, spec.dtype, "qa.scale", "qa.zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(spec.b_scale, spec.b_zero_point, spec.dtype, "qb.scale", "qb.zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(spec.out_scale, spec.out_zero_point, spec.dtype, "scale", "zeroPoint"));
  if (spec.qnnpack_add || spec.xnnpack_add) {
    return Status::RangeError(Expected("dense operands", "engine qnnpack's add", "broadcast ones"));
  }
  const BroadcastOperand* operands[2] = {&a, &b};
  const char* names[2] = {"qa", "qb"};
  for (int k = 0; k < 2; ++k) {
    const BroadcastOperand& x = *operands[k];
    if (n == 0) break;
    if (x.each == 0 || x.period == 0 || x.length < x.period) {
      return Status::RangeError(Expected("a broadcast of at least `period` elements with each, period > 0", names[k],
                                         std::to_string(x.length) + " elements"));
    }
    QK_RETURN_IF_ERROR(CheckBuffer(x.data, x.length, x.period, names[k]));
  }
  for (int k = 0; k < 2; ++k) {
    const BroadcastOperand& x = *operands[k];
    if (x.rows == 0 || n == 0) continue;
    size_t block = 0;
    if (k == 1 && a.rows > 0) {
      return Status::RangeError(Expected("at most one operand read across", "qb", "a second one (rows " + std::to_string(x.rows) + ") of type object"));
    }
    if (x.cols == 0 || !CheckedMul(x.rows, x.cols, &block) || n % block != 0 || x.each != 1 || x.period != n) {
      return Status::RangeError(Expected("rows * cols dividing the " + std::to_string(n) +
                                             " elements, each 1 and period n (an operand read across)",
                                         names[k], "rows " + std::to_string(x.rows) + ", cols " + std::to_string(x.cols) + " of type object"));
    }
  }
  QK_RETURN_IF_ERROR(CheckBuffer(y, n, n, "output"));
  QK_RETURN_IF_ERROR(CheckRows(n, row_length, vector_length));
  if (n == 0) return Status::Ok();
  BinaryParams params;
  MakeBinaryParams(spec, &params);
  if (a.rows > 0 || b.rows > 0) {
    const bool across_is_a = a.rows > 0;
    BinaryAcross(params, spec.dtype, across_is_a ? a : b, across_is_a, across_is_a ? b : a, y, n, row_length, vector_length);
    return Status::Ok();
  }
  const DispatchTable& table = Dispatch();
  const auto dense = [n](const BroadcastOperand& x) { return x.each == 1 && x.period == n; };
  const bool a_dense = dense(a), b_dense = dense(b);
  // One broadcast value held over runs of at least kLutMinRun outputs against a dense operand (an
  // SE block's [N, C, 1, 1] scale over an NCHW activation: H * W outputs per value): there every
  // output is a function of the dense operand's byte alone, so its 256 values come from the
  // kernel itself on a ramp (the same formula, so the same bytes) and the run is a table lookup.
  const BroadcastOperand* runs = a_dense == b_dense ? nullptr : a_dense ? &b : &a;
  if (runs != nullptr && runs->each < kLutMinRun) runs = nullptr;
  const bool runs_are_a = runs == &a;
  LookupX8Fn* lut = table.x8_lut;
  ParallelSegments(n, [&](size_t begin, size_t end) {
    alignas(64) uint8_t a_buf[kPiece], b_buf[kPiece];
    const auto pieces = [&](size_t offset, size_t count, bool vector) {
      for (size_t done = 0; done < count; done += kPiece) {
        const size_t m = std::min(kPiece, count - done);
        const size_t at = offset + done;
        const uint8_t* pa = static_cast<const uint8_t*>(a.data) + at;
        const uint8_t* pb = static_cast<const uint8_t*>(b.data) + at;
        if (!a_dense) {
          ExpandBroadcast(static_cast<const uint8_t*>(a.data), a.each, a.period, at, m, a_buf);
          pa = a_buf;
        }
        if (!b_dense) {
          ExpandBroadcast(static_cast<const uint8_t*>(b.data), b.each, b.period, at, m, b_buf);
          pb = b_buf;
        }
        BinaryPiece(table, params, spec.dtype, vector, m, pa, pb, y, at);
      }
    };
    if (runs == nullptr) {
      ForEachSegment(begin, end, row_length, vector_length, pieces);
      return;
    }
    alignas(64) uint8_t results[256], ramp[256], held[256];
    for (size_t i = 0; i < 256; ++i) ramp[i] = static_cast<uint8_t>(i);
    int key = -1;  // (value << 1) | vector formula, of the table in `results`
    const uint8_t* values = static_cast<const uint8_t*>(runs->data);
    const uint8_t* other = static_cast<const uint8_t*>(runs_are_a ? b.data : a.data);
    ForEachSegment(begin, end, row_length, vector_length, [&](size_t offset, size_t count, bool vector) {
      for (size_t at = offset, stop = offset + count; at < stop;) {
        const size_t block = at / runs->each;
        const size_t run_end = std::min(stop, (block + 1) * runs->each);
        if (run_end - at < kLutMinRun) {
          pieces(at, run_end - at, vector);
        } else {
          const uint8_t v = values[block % runs->period];
          const int wanted = (v << 1) | (vector ? 1 : 0);
          if (wanted != key) {
            // results[j] = the op on (v, byte j) in the operands' order (a qint8 operand's byte j is int8 j).
            std::memset(held, v, sizeof(held));
            BinaryPiece(table, params, spec.dtype, vector, 256, runs_are_a ? held : ramp, runs_are_a ? ramp : held, results, 0);
            key = wanted;
          }
          lut(run_end - at, other + at, results, static_cast<uint8_t*>(y) + at);
        }
        at = run_end;
      }
    });
  });
  return Status::Ok();
}

namespace {

// The fixed-point adds' fp32 scale ratios a_scale / scale and b_scale / scale, each of which the
// engine's operator requires in [lo, 2^8) (torch fails to create it otherwise).
Status AddScaleRatios(const BinarySpec& spec, float lo, const char* range, float* ra, float* rb) {
  const float out_scale = static_cast<float>(spec.out_scale);
  *ra = static_cast<float>(spec.a_scale) / out_scale;
  *rb = static_cast<float>(spec.b_scale) / out_scale;
  for (const float r : {*ra, *rb}) {
    if (!(r >= lo && r < 0x1.0p+8f)) {
      return Status::RangeError(Expected(std::string("a value making input scale / scale in ") + range, "scale",
                                         std::to_string(spec.out_scale) + " of type number (ratio " + std::to_string(r) + ")"));
    }
  }
  return Status::Ok();
}

}  // namespace

// QNNPACK's quint8 add (see QnnpackAddRows in the header): the constants once per op.
Status BinaryOp::PrepareQnnpackAdd(const BinarySpec& spec, FixedPointAdd* f) {
  float ra = 0, rb = 0;
  QK_RETURN_IF_ERROR(AddScaleRatios(spec, 0x1.0p-14f, "[2^-14, 2^8) (QNNPACK's add)", &ra, &rb));
  f->y_zp = static_cast<int32_t>(spec.out_zero_point);
  f->y_min = spec.relu ? f->y_zp : 0;
  f->y_max = 255;
  if (f->y_min >= f->y_max) {
    return Status::RangeError(Expected("an output range with min below max (QNNPACK's add_relu)", "zeroPoint",
                                       std::to_string(f->y_zp)));
  }
  int exponent = 0;
  std::frexp(std::max(ra, rb), &exponent);  // max = f * 2^exponent, f in [0.5, 1): IEEE exponent = exponent - 1
  f->shift = 21 - (exponent - 1);
  f->ma = static_cast<int32_t>(std::lrintf(std::ldexp(ra, f->shift)));
  f->mb = static_cast<int32_t>(std::lrintf(std::ldexp(rb, f->shift)));
  // QNNPACK adds -(ma * a_zp + mb * b_zp) to ma * a + mb * b, all in wrapping int32; the
  // magnitudes here (< 2^22 * 255 * 2) stay far below 2^31, so plain int64 gives the same sum.
  f->bias = -(f->ma * spec.a_zero_point + f->mb * spec.b_zero_point);
  f->mask = (int64_t{1} << f->shift) - 1;
  f->threshold = f->mask >> 1;
  return Status::Ok();
}

// XNNPACK's qs8 add (see XnnpackAddRows in the header): the constants once per op.
Status BinaryOp::PrepareXnnpackAdd(const BinarySpec& spec, FixedPointAdd* f) {
  float ra = 0, rb = 0;
  QK_RETURN_IF_ERROR(AddScaleRatios(spec, 0x1.0p-10f, "[2^-10, 2^8) (XNNPACK's add)", &ra, &rb));
  f->y_zp = static_cast<int32_t>(spec.out_zero_point);
  f->y_min = spec.relu ? f->y_zp : -128;
  f->y_max = 127;
  if (f->y_min >= f->y_max) {
    return Status::RangeError(Expected("a zero point below 127 (XNNPACK's add_relu)", "zeroPoint",
                                       std::to_string(f->y_zp) + " of type number"));
  }
  int exponent = 0;
  std::frexp(std::max(ra, rb), &exponent);  // max = f * 2^exponent, f in [0.5, 1): IEEE exponent = exponent - 1
  f->shift = 20 - (exponent - 1);
  f->ma = std::lrintf(std::ldexp(ra, f->shift));
  f->mb = std::lrintf(std::ldexp(rb, f->shift));
  f->bias = (int64_t{1} << (f->shift - 1)) - f->ma * spec.a_zero_point - f->mb * spec.b_zero_point;
  return Status::Ok();
}

Status BinaryOp::Prepare(const BinarySpec& spec, size_t n, size_t row_length, size_t vector_length,
                         std::shared_ptr<const BinaryOp>* out) {
  QK_RETURN_IF_ERROR(CheckByteDType(spec.dtype));
  QK_RETURN_IF_ERROR(CheckQParams(spec.a_scale, spec.a_zero_point, spec.dtype, "qa.scale", "qa.zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(spec.b_scale, spec.b_zero_point, spec.dtype, "qb.scale", "qb.zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(spec.out_scale, spec.out_zero_point, spec.dtype, "scale", "zeroPoint"));
  QK_RETURN_IF_ERROR(CheckRows(n, row_length, vector_length));
  auto op = std::shared_ptr<BinaryOp>(new BinaryOp);
  op->spec_ = spec;
  op->n_ = n;
  op->row_length_ = row_length;
  op->vector_length_ = vector_length;
  if (spec.qnnpack_add) {
    if (spec.dtype != QDType::kQUInt8 || spec.multiply) {
      return Status::RangeError(Expected("a quint8 add", "engine qnnpack's add", "another op or dtype"));
    }
    op->formula_ = Formula::kQnnpackAdd;
    QK_RETURN_IF_ERROR(PrepareQnnpackAdd(spec, &op->fixed_));
  } else if (spec.xnnpack_add) {
    if (spec.dtype != QDType::kQInt8 || spec.multiply) {
      return Status::RangeError(Expected("a qint8 add", "engine qnnpack's XNNPACK add", "another op or dtype"));
    }
    op->formula_ = Formula::kXnnpackAdd;
    QK_RETURN_IF_ERROR(PrepareXnnpackAdd(spec, &op->fixed_));
  } else {
    op->formula_ = Formula::kTorch;
    MakeBinaryParams(spec, &op->params_);
  }
  *out = std::move(op);
  return Status::Ok();
}

void BinaryOp::RunRange(const void* a, const void* b, void* y, size_t begin, size_t end) const {
  switch (formula_) {
    case Formula::kQnnpackAdd: {
      const FixedPointAdd& f = fixed_;
      const uint8_t* pa = static_cast<const uint8_t*>(a);
      const uint8_t* pb = static_cast<const uint8_t*>(b);
      uint8_t* py = static_cast<uint8_t*>(y);
      for (size_t i = begin; i < end; ++i) {
        const int64_t acc = f.bias + f.ma * pa[i] + f.mb * pb[i];
        const int64_t remainder = (acc & f.mask) - (acc < 0 ? 1 : 0);
        const int64_t q = (acc >> f.shift) + (remainder > f.threshold ? 1 : 0) + f.y_zp;
        py[i] = static_cast<uint8_t>(std::min<int64_t>(std::max<int64_t>(q, f.y_min), f.y_max));
      }
      return;
    }
    case Formula::kXnnpackAdd: {
      const FixedPointAdd& f = fixed_;
      const int8_t* pa = static_cast<const int8_t*>(a);
      const int8_t* pb = static_cast<const int8_t*>(b);
      int8_t* py = static_cast<int8_t*>(y);
      for (size_t i = begin; i < end; ++i) {
        const int64_t q = (f.bias + f.ma * pa[i] + f.mb * pb[i]) >> f.shift;  // arithmetic: floor
        py[i] = static_cast<int8_t>(std::min<int64_t>(std::max<int64_t>(q, f.y_min - f.y_zp), f.y_max - f.y_zp) + f.y_zp);
      }
      return;
    }
    case Formula::kTorch:
      break;
  }
  // Each element takes the vector or the scalar formula by its place in its row, and the
  // vector kernels finish a count that is not a whole number of vectors with the vector
  // formula too (BinaryVectorLoop): so an element's bytes never depend on [begin, end).
  const DispatchTable& table = Dispatch();
  ForEachSegment(begin, end, row_length_, vector_length_, [&](size_t offset, size_t count, bool vector) {
    if (spec_.dtype == QDType::kQUInt8) {
      const uint8_t* pa = static_cast<const uint8_t*>(a) + offset;
      const uint8_t* pb = static_cast<const uint8_t*>(b) + offset;
      uint8_t* py = static_cast<uint8_t*>(y) + offset;
      (vector ? table.qu8_binary : table.qu8_binary_tail)(count, pa, pb, py, &params_);
    } else {
      const int8_t* pa = static_cast<const int8_t*>(a) + offset;
      const int8_t* pb = static_cast<const int8_t*>(b) + offset;
      int8_t* py = static_cast<int8_t*>(y) + offset;
      (vector ? table.qs8_binary : table.qs8_binary_tail)(count, pa, pb, py, &params_);
    }
  });
}

Status BinaryOp::Run(const void* const* inputs, void* output, void*) const {
  QK_RETURN_IF_ERROR(CheckBuffer(inputs[0], n_, n_, "qa"));
  QK_RETURN_IF_ERROR(CheckBuffer(inputs[1], n_, n_, "qb"));
  QK_RETURN_IF_ERROR(CheckBuffer(output, n_, n_, "output"));
  if (n_ == 0) return Status::Ok();
  ParallelSegments(n_, [&](size_t begin, size_t end) { RunRange(inputs[0], inputs[1], output, begin, end); });
  return Status::Ok();
}

Status BinaryRows(const BinarySpec& spec, const void* a, size_t a_len, const void* b, size_t b_len, void* y,
                  size_t y_len, size_t row_length, size_t vector_length) {
  std::shared_ptr<const BinaryOp> op;
  QK_RETURN_IF_ERROR(BinaryOp::Prepare(spec, a_len, row_length, vector_length, &op));
  QK_RETURN_IF_ERROR(CheckBuffer(a, a_len, a_len, "qa"));
  if (b_len != a_len) {
    return Status::RangeError(Expected(std::to_string(a_len) + " elements (as many as qa)", "qb", std::to_string(b_len)));
  }
  QK_RETURN_IF_ERROR(CheckBuffer(b, b_len, a_len, "qb"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, a_len, "output"));
  const void* inputs[2] = {a, b};
  return op->Run(inputs, y, nullptr);
}

Status MatmulF32(const float* a, size_t a_len, const float* b, size_t b_len, float* y, size_t y_len, size_t batch,
                 size_t m, size_t k, size_t n) {
  size_t a_need = 0, b_need = 0, y_need = 0, rows = 0;
  if (!CheckedMul(batch, m, &rows) || !CheckedMul(rows, k, &a_need) || !CheckedMul(batch, k, &b_need) ||
      !CheckedMul(b_need, n, &b_need) || !CheckedMul(rows, n, &y_need)) {
    return Status::RangeError(Expected("sizes whose products fit in size_t", "shape", std::to_string(batch) + " x " +
                                           std::to_string(m) + " x " + std::to_string(k) + " x " + std::to_string(n)));
  }
  QK_RETURN_IF_ERROR(CheckBuffer(a, a_len, a_need, "a"));
  QK_RETURN_IF_ERROR(CheckBuffer(b, b_len, b_need, "b"));
  QK_RETURN_IF_ERROR(CheckBuffer(y, y_len, y_need, "output"));
  if (y_need == 0) return Status::Ok();
  // Blocks of kColumns output columns keep one row of double sums in L1; within a block the
  // i-p-j order streams b's rows. Each output is summed over p in index order, whatever the
  // blocking and threading, so the bits do not depend on them.
  constexpr size_t kColumns = 256;
  // A row costs about k * n double multiply-adds, two a nanosecond.
  const double row_ns = static_cast<double>(std::max<size_t>(1, k)) * static_cast<double>(n) / 2;
  ParallelRanges(rows, row_ns, 1, [&](size_t begin, size_t end) {
    double sums[kColumns];
    for (size_t row = begin; row < end; ++row) {
      const float* pa = a + row * k;
      const float* pb = b + (row / m) * k * n;
      float* py = y + row * n;
      for (size_t j0 = 0; j0 < n; j0 += kColumns) {
        const size_t width = std::min(kColumns, n - j0);
        std::fill(sums, sums + width, 0.0);
        for (size_t p = 0; p < k; ++p) {
          const double av = pa[p];
          const float* brow = pb + p * n + j0;
          for (size_t j = 0; j < width; ++j) sums[j] += av * static_cast<double>(brow[j]);
        }
        for (size_t j = 0; j < width; ++j) py[j0 + j] = static_cast<float>(sums[j]);
      }
    }
  });
  return Status::Ok();
}

}  // namespace qk
