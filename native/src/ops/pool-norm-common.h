// Helpers shared by the pool-norm family's operators (pool.cc, norm.cc, resample.cc): threads, layout staging, dtype dispatch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/expected.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "ops/op.h"
#include "ops/quantize.h"
#include "ops/strided-copy.h"
#include "ukernels/dispatch.h"

namespace qk {

// fn(begin, end) over disjoint ranges covering [0, n); `cost` is a rough work count per
// item, so that small problems stay on one thread. Which thread computes an item never
// changes its value, so the output is the same for any thread count.
// A unit of cost is about a quarter of a nanosecond (one byte or value touched by SIMD code).
template <typename Fn>
void ParallelOverRange(size_t n, size_t cost, const Fn& fn) {
  ParallelRanges(n, static_cast<double>(std::max<size_t>(cost, 1)) / 4, 1, fn);
}

// dst[b][j][i] = src[b][i][j] for src of shape [batch][rows][cols] (NCHW <-> NHWC with
// rows = C, cols = spatial, or back with rows = spatial, cols = C), 8-bit values. The strided
// copy's tiled byte transpose (TransposeBytes: 16x16 SSE2 blocks) on bands of 32 source rows,
// split over the pool: the one byte transpose of the ops, not a second one here.
template <typename T>
void TransposePlanes(const T* src, T* dst, size_t batch, size_t rows, size_t cols) {
  static_assert(sizeof(T) == 1, "TransposePlanes moves bytes");
  // An empty plane set: nothing to move, and no pointer arithmetic on empty (null) buffers.
  if (batch == 0 || rows == 0 || cols == 0) return;
  constexpr size_t kBand = 32;
  const size_t bands = (rows + kBand - 1) / kBand;
  const auto* s = reinterpret_cast<const uint8_t*>(src);
  auto* d = reinterpret_cast<uint8_t*>(dst);
  ParallelOverRange(batch * bands, cols * kBand, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const size_t b = t / bands, r0 = (t % bands) * kBand, r1 = std::min(rows, r0 + kBand);
      const size_t plane = b * rows * cols;
      // TransposeBytes(src, src_stride, dst, dst_stride, n, m): dst[x * dst_stride + y] =
      // src[x + y * src_stride] for x < n, y < m; here x = j (a column), y = i - r0 (a row).
      TransposeBytes(s + plane + r0 * cols, static_cast<int64_t>(cols), d + plane + r0, static_cast<int64_t>(rows),
                     static_cast<int64_t>(cols), static_cast<int64_t>(r1 - r0));
    }
  });
}

inline Status CheckByteBuffer(const void* data, size_t bytes, size_t needed, const char* parameter) {
  if (data == nullptr && needed > 0) return Status::TypeError(Expected("a buffer", parameter, "null"));
  if (bytes < needed) {
    return Status::RangeError(
        Expected("at least " + std::to_string(needed) + " bytes", parameter, std::to_string(bytes) + " bytes"));
  }
  return Status::Ok();
}

// The one-call form of a prepared one-input op (the C++ tests' entry points MaxPool, BatchNorm,
// ...): the caller's buffers checked against the op's sizes, then a run with scratch of its own.
inline Status RunOnBuffers(const Op& op, const void* x, size_t x_bytes, void* y, size_t y_bytes) {
  QK_RETURN_IF_ERROR(CheckByteBuffer(x, x_bytes, op.input_bytes(0), "input"));
  QK_RETURN_IF_ERROR(CheckByteBuffer(y, y_bytes, op.output_bytes(), "output"));
  const void* inputs[1] = {x};
  return RunWithScratch(op, inputs, y);
}

// The input's zero point must lie in its dtype's range (the ops' outputs keep it).
inline Status CheckInputZeroPoint(int64_t zero_point, QDType dtype) {
  const QRange range = QDTypeRange(dtype);
  if (zero_point >= range.qmin && zero_point <= range.qmax) return Status::Ok();
  return Status::RangeError(Expected("integer in the dtype's range", "input zeroPoint", std::to_string(zero_point)));
}

// The dispatched kernels of one 8-bit type.
template <typename T>
struct KernelsFor;
template <>
struct KernelsFor<uint8_t> {
  static MaxPoolU8Fn* MaxPool(const DispatchTable& t) { return t.qu8_maxpool; }
  static AvgPoolU8Fn* AvgPool(const DispatchTable& t) { return t.qu8_avgpool; }
  static BatchNormU8Fn* BatchNorm(const DispatchTable& t) { return t.qu8_batchnorm; }
  static NormalizeU8Fn* Normalize(const DispatchTable& t) { return t.qu8_normalize; }
  static NormalizeStatsU8Fn* NormalizeStats(const DispatchTable& t) { return t.qu8_normalize_stats; }
  static BilinearU8Fn* Bilinear(const DispatchTable& t) { return t.qu8_bilinear; }
};
template <>
struct KernelsFor<int8_t> {
  static MaxPoolS8Fn* MaxPool(const DispatchTable& t) { return t.qs8_maxpool; }
  static AvgPoolS8Fn* AvgPool(const DispatchTable& t) { return t.qs8_avgpool; }
  static BatchNormS8Fn* BatchNorm(const DispatchTable& t) { return t.qs8_batchnorm; }
  static NormalizeS8Fn* Normalize(const DispatchTable& t) { return t.qs8_normalize; }
  static NormalizeStatsS8Fn* NormalizeStats(const DispatchTable& t) { return t.qs8_normalize_stats; }
  static BilinearS8Fn* Bilinear(const DispatchTable& t) { return t.qs8_bilinear; }
};

// Calls fn(uint8_t{}) for quint8, fn(int8_t{}) for qint8; other dtypes are a RangeError.
template <typename Fn>
Status WithInt8Type(QDType dtype, const Fn& fn) {
  if (dtype == QDType::kQUInt8) return fn(uint8_t{});
  if (dtype == QDType::kQInt8) return fn(int8_t{});
  return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
}

}  // namespace qk
