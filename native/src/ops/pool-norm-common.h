// Helpers shared by the pool-norm family's operators (pool.cc, norm.cc, resample.cc): threads, layout staging, dtype dispatch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/expected.h"
#include "base/status.h"
#include "base/threadpool.h"
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
// rows = C, cols = spatial, or back with rows = spatial, cols = C).
template <typename T>
void TransposePlanes(const T* src, T* dst, size_t batch, size_t rows, size_t cols) {
  // An empty plane set: nothing to move, and no pointer arithmetic on empty (null) buffers.
  if (batch == 0 || rows == 0 || cols == 0) return;
  // The strided copy's tiled transpose (8x8 byte blocks in 64-bit words): several times the
  // speed of byte moves. Its checks cannot fail here (the offsets lie in the planes); if they
  // did, the plain tiles below do the same copy.
  StridedCopyParams params;
  params.element_bytes = sizeof(T);
  params.rank = 3;
  const int64_t b_stride = static_cast<int64_t>(rows * cols);
  const int64_t shape[3] = {static_cast<int64_t>(batch), static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  const int64_t from[3] = {b_stride, static_cast<int64_t>(cols), 1};
  const int64_t to[3] = {b_stride, 1, static_cast<int64_t>(rows)};
  for (int d = 0; d < 3; ++d) {
    params.shape[d] = shape[d];
    params.src_strides[d] = from[d];
    params.dst_strides[d] = to[d];
  }
  params.src_length = params.dst_length = batch * rows * cols;
  std::shared_ptr<const StridedCopyOp> copy;
  if (StridedCopyOp::Prepare(params, &copy).ok()) {
    const void* inputs[1] = {src};
    if (copy->Run(inputs, dst, nullptr).ok()) return;
  }
  // In square tiles of 32: a tile's reads and its strided writes both stay within a few KB
  // (a whole source row at a time scattered its writes over cols cache lines).
  constexpr size_t kTile = 32;
  const size_t row_tiles = (rows + kTile - 1) / kTile;
  ParallelOverRange(batch * row_tiles, cols * kTile, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const size_t b = t / row_tiles, r0 = (t % row_tiles) * kTile, r1 = std::min(rows, r0 + kTile);
      const T* s = src + b * rows * cols;
      T* d = dst + b * rows * cols;
      for (size_t c0 = 0; c0 < cols; c0 += kTile) {
        const size_t c1 = std::min(cols, c0 + kTile);
        for (size_t i = r0; i < r1; ++i) {
          for (size_t j = c0; j < c1; ++j) d[j * rows + i] = s[i * cols + j];
        }
      }
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
};
template <>
struct KernelsFor<int8_t> {
  static MaxPoolS8Fn* MaxPool(const DispatchTable& t) { return t.qs8_maxpool; }
  static AvgPoolS8Fn* AvgPool(const DispatchTable& t) { return t.qs8_avgpool; }
  static BatchNormS8Fn* BatchNorm(const DispatchTable& t) { return t.qs8_batchnorm; }
};

// Calls fn(uint8_t{}) for quint8, fn(int8_t{}) for qint8; other dtypes are a RangeError.
template <typename Fn>
Status WithInt8Type(QDType dtype, const Fn& fn) {
  if (dtype == QDType::kQUInt8) return fn(uint8_t{});
  if (dtype == QDType::kQInt8) return fn(int8_t{});
  return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
}

}  // namespace qk
