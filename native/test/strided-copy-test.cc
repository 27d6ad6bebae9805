// Strided copy: the prepared op against native/reference/strided-copy-ref on random layouts (permuted, padded, broadcast sources; dense or padded destinations in any order; 1/2/4/8-byte elements), the shapes lib sends, whether a box writes its whole output, and its errors.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/strided-copy.h"
#include "reference/strided-copy-ref.h"

namespace qk {
namespace test {
namespace {

// Strides for dims laid out in memory order `order` (outermost first); `pad` widens the innermost
// run (a narrowed view or one part of a cat). Returns the extent in elements.
int64_t StridesFor(const std::vector<int64_t>& shape, const std::vector<size_t>& order, int64_t pad,
                   std::vector<int64_t>* strides) {
  strides->assign(shape.size(), 0);
  int64_t extent = 1;
  for (size_t i = order.size(); i-- > 0;) {
    (*strides)[order[i]] = extent;
    extent *= shape[order[i]] + (i + 1 == order.size() ? pad : 0);
  }
  return extent;
}

std::vector<size_t> Shuffled(size_t n, Random& rng) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  for (size_t i = n; i-- > 1;) std::swap(p[i], p[static_cast<size_t>(rng.Int(0, static_cast<int64_t>(i)))]);
  return p;
}

StridedCopyParams ParamsFor(size_t element_bytes, const std::vector<int64_t>& shape, const std::vector<int64_t>& src_strides,
                            size_t src_length, const std::vector<int64_t>& dst_strides, size_t dst_length) {
  StridedCopyParams p;
  p.element_bytes = element_bytes;
  p.rank = shape.size();
  std::copy(shape.begin(), shape.end(), p.shape);
  std::copy(src_strides.begin(), src_strides.end(), p.src_strides);
  std::copy(dst_strides.begin(), dst_strides.end(), p.dst_strides);
  p.src_length = src_length;
  p.dst_length = dst_length;
  return p;
}

// Whether the box writes every one of dst_length elements exactly once, by counting the writes.
bool WritesEachOnce(const std::vector<int64_t>& shape, const std::vector<int64_t>& dst_strides, size_t dst_length) {
  std::vector<int> writes(dst_length, 0);
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < numel; ++i) {
    int64_t offset = 0;
    for (size_t d = 0; d < shape.size(); ++d) offset += index[d] * dst_strides[d];
    ++writes[static_cast<size_t>(offset)];
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return std::all_of(writes.begin(), writes.end(), [](int w) { return w == 1; });
}

// Runs the op and the reference on the same layout; both destinations start as the same
// pattern, so a write the reference does not make (or a missing one) shows up as a difference.
// Also checks writes_whole_output() (what a traced plan step relies on) against a count of the writes.
void CheckLayout(Context& ctx, const std::string& what, size_t element_bytes, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& src_strides, size_t src_length, const std::vector<int64_t>& dst_strides,
                 size_t dst_length) {
  std::shared_ptr<const StridedCopyOp> op;
  const Status status =
      StridedCopyOp::Prepare(ParamsFor(element_bytes, shape, src_strides, src_length, dst_strides, dst_length), &op);
  if (!ctx.Check(status.ok(), what + ": Prepare failed: " + status.message())) return;
  ctx.Check(op->writes_whole_output() == WritesEachOnce(shape, dst_strides, dst_length),
            what + ": writes_whole_output() is " + (op->writes_whole_output() ? "true" : "false"));
  std::vector<uint8_t> src(src_length * element_bytes);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 37 + 11 + i / 251);
  std::vector<uint8_t> got(dst_length * element_bytes, 0xA5), want(dst_length * element_bytes, 0xA5);
  const void* inputs[1] = {src.data()};
  if (!ctx.Check(op->Run(inputs, got.data(), nullptr).ok(), what + ": Run failed")) return;
  ref::StridedCopyRef(element_bytes, shape.size(), shape.data(), src_strides.data(), src.data(), dst_strides.data(),
                      want.data());
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      ctx.Fail(what + ": byte " + std::to_string(i) + " expected " + std::to_string(want[i]) + ", got " +
               std::to_string(got[i]) + " (merged rank " + std::to_string(op->merged_rank()) + ")");
      return;
    }
  }
}

std::string Describe(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

QK_TEST(kIsa, "strided-copy/random-layouts") {
  Random rng(SeedFromName("strided-copy/random-layouts"));
  static const int64_t kSizes[] = {1, 2, 3, 4, 5, 7, 16, 17, 33, 64};
  for (int t = 0; t < 1500; ++t) {
    const size_t rank = static_cast<size_t>(rng.Int(0, 6));
    std::vector<int64_t> shape(rank);
    int64_t numel = 1;
    for (auto& s : shape) {
      s = kSizes[rng.Int(0, 9)];
      numel *= s;
    }
    if (numel > 60000) continue;
    const size_t element_bytes = size_t{1} << rng.Int(0, 3);
    std::vector<int64_t> src_strides, dst_strides;
    const int64_t src_extent = StridesFor(shape, Shuffled(rank, rng), rng.Int(0, 2), &src_strides);
    const int64_t dst_extent = StridesFor(shape, Shuffled(rank, rng), rng.Int(0, 3) == 0 ? rng.Int(1, 5) : 0, &dst_strides);
    // Broadcast: zero strides on up to two source dims.
    for (int z = static_cast<int>(rng.Int(0, 2)); rank > 0 && z > 0; --z) src_strides[rng.Int(0, rank - 1)] = 0;
    CheckLayout(ctx,
                "shape " + Describe(shape) + " src " + Describe(src_strides) + " dst " + Describe(dst_strides) + " e" +
                    std::to_string(element_bytes),
                element_bytes, shape, src_strides, static_cast<size_t>(src_extent) + rng.Int(0, 3), dst_strides,
                static_cast<size_t>(dst_extent) + rng.Int(0, 3));
  }
}

// Rows of every length from 1 to 300 bytes between padded rows: each length class of the inline
// run copy (1-3, 4-7, 8-16, 17-32, 33-64 bytes), MoveRows' 16-byte blocks (65-256) and memmove
// beyond, at odd offsets.
QK_TEST(kIsa, "strided-copy/run-lengths") {
  for (int64_t n = 1; n <= 300 && !ctx.failed(); ++n) {
    CheckLayout(ctx, "rows of " + std::to_string(n) + " bytes", 1, {3, n}, {n + 5, 1}, static_cast<size_t>(3 * (n + 5)),
                {n + 3, 1}, static_cast<size_t>(3 * (n + 3)));
  }
}

QK_TEST(kIsa, "strided-copy/model-shapes") {
  // Channel shuffle on [1,192,6,6]: view [1,2,96,36], transpose(1,2), contiguous.
  CheckLayout(ctx, "shuffle 192x6x6", 1, {1, 96, 2, 36}, {6912, 36, 3456, 1}, 6912, {6912, 72, 36, 1}, 6912);
  CheckLayout(ctx, "shuffle 232x14x14", 1, {1, 116, 2, 196}, {45472, 196, 22736, 1}, 45472, {45472, 392, 196, 1}, 45472);
  // NHWC -> NCHW on [1,64,56,56], uint8 and float32.
  for (size_t e : {size_t{1}, size_t{4}}) {
    CheckLayout(ctx, "nhwc->nchw", e, {1, 64, 56, 56}, {200704, 1, 3584, 64}, 200704, {200704, 3136, 56, 1}, 200704);
    CheckLayout(ctx, "nchw->nhwc", e, {1, 64, 56, 56}, {200704, 3136, 56, 1}, 200704, {200704, 1, 3584, 64}, 200704);
  }
  // NHWC -> NCHW on [1,72,24,24] (an SE block's input next to an NCHW mul): whole 16x16 tiles and edges.
  CheckLayout(ctx, "nhwc->nchw 72x24x24", 1, {1, 72, 24, 24}, {41472, 1, 1728, 72}, 41472, {41472, 576, 24, 1}, 41472);
  // Broadcast [1,72,1,1] -> [1,72,24,24], both output formats.
  CheckLayout(ctx, "broadcast nchw", 1, {1, 72, 24, 24}, {72, 1, 0, 0}, 72, {41472, 576, 24, 1}, 41472);
  CheckLayout(ctx, "broadcast nhwc", 1, {1, 72, 24, 24}, {72, 1, 0, 0}, 72, {41472, 1, 1728, 72}, 41472);
  // One half of a channel cat of two NHWC [1,58,28,28] into [1,116,28,28] (dst offset by 58 for the second).
  CheckLayout(ctx, "cat nhwc", 1, {1, 58, 28, 28}, {45472, 1, 1624, 58}, 45472, {90944, 1, 3248, 116}, 90944);
  // A scalar and an empty box.
  CheckLayout(ctx, "scalar", 4, {}, {}, 1, {}, 1);
  CheckLayout(ctx, "empty", 4, {3, 0, 5}, {100, 7, 1}, 0, {0, 5, 1}, 0);
}

bool WholeOutput(std::vector<int64_t> shape, std::vector<int64_t> dst_strides, size_t dst_length) {
  std::shared_ptr<const StridedCopyOp> op;
  const std::vector<int64_t> src_strides(shape.size(), 0);  // a broadcast source: any box reads inside it
  if (!StridedCopyOp::Prepare(ParamsFor(1, shape, src_strides, 1, dst_strides, dst_length), &op).ok()) return false;
  return op->writes_whole_output();
}

QK_TEST(kIsa, "strided-copy/whole-output") {
  ctx.Check(WholeOutput({1, 96, 2, 36}, {6912, 72, 36, 1}, 6912), "channel shuffle writes all of dst");
  ctx.Check(WholeOutput({1, 64, 56, 56}, {200704, 1, 3584, 64}, 200704), "nchw->nhwc writes all of dst");
  ctx.Check(WholeOutput({}, {}, 1), "a scalar writes its one element");
  ctx.Check(WholeOutput({3, 0, 5}, {0, 5, 1}, 0), "an empty box into an empty dst");
  ctx.Check(!WholeOutput({3, 0, 5}, {0, 5, 1}, 4), "an empty box leaves a non-empty dst unwritten");
  ctx.Check(!WholeOutput({1, 58, 28, 28}, {90944, 1, 3248, 116}, 90944), "half of a cat is partial");
  ctx.Check(!WholeOutput({4, 5}, {6, 1}, 24), "a padded dst is partial");
  ctx.Check(!WholeOutput({4, 5}, {5, 1}, 21), "a dst longer than the box is partial");
  ctx.Check(!WholeOutput({3, 2}, {0, 1}, 2), "dst strides that overlap write elements twice");
}

Status PrepareWith(size_t element_bytes, std::vector<int64_t> shape, std::vector<int64_t> src_strides, size_t src_length,
                   std::vector<int64_t> dst_strides, size_t dst_length) {
  std::shared_ptr<const StridedCopyOp> op;
  return StridedCopyOp::Prepare(ParamsFor(element_bytes, shape, src_strides, src_length, dst_strides, dst_length), &op);
}

void ExpectRangeError(Context& ctx, const std::string& what, const Status& status, const std::string& parameter) {
  ctx.Check(status.kind() == ErrorKind::kRangeError &&
                status.message().find("for " + parameter + " but") != std::string::npos,
            what + ": expected a RangeError naming " + parameter + ", got '" + status.message() + "'");
}

QK_TEST(kIsa, "strided-copy/errors") {
  ExpectRangeError(ctx, "src one past the end", PrepareWith(1, {4, 5}, {5, 1}, 19, {5, 1}, 20), "srcStrides");
  ExpectRangeError(ctx, "dst one past the end", PrepareWith(1, {4, 5}, {5, 1}, 20, {6, 1}, 20), "dstStrides");
  ExpectRangeError(ctx, "negative src stride", PrepareWith(4, {4, 5}, {-5, 1}, 20, {5, 1}, 20), "srcStrides");
  ExpectRangeError(ctx, "huge stride", PrepareWith(1, {3, 2}, {int64_t{1} << 62, 1}, 20, {2, 1}, 20), "srcStrides");
  ExpectRangeError(ctx, "stride product overflow", PrepareWith(1, {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}, 20,
                                                              {0, 0}, 20), "shape");
  ExpectRangeError(ctx, "element size 3", PrepareWith(3, {2}, {1}, 2, {1}, 2), "elementBytes");
  ExpectRangeError(ctx, "empty src", PrepareWith(1, {}, {}, 0, {}, 1), "srcStrides");
  // Broadcast reads stay inside a one-element source however long the box.
  ctx.Check(PrepareWith(8, {1000000, 3}, {0, 0}, 1, {3, 1}, 3000000).ok(), "broadcast of one element");
  // A negative stride over a size-1 dim reaches nothing.
  ctx.Check(PrepareWith(1, {1, 5}, {-7, 1}, 5, {5, 1}, 5).ok(), "negative stride on a size-1 dim");

  StridedCopyParams p;
  const double good[] = {2, 3, 4, 4, 1, 1, 3};
  ctx.Check(ReadStridedCopyLayout(good, 7, &p).ok() && p.rank == 2 && p.shape[1] == 4 && p.src_strides[0] == 4 &&
                p.dst_strides[1] == 3,
            "layout read");
  const double wrong_count[] = {2, 3, 4, 4, 1, 1};
  ExpectRangeError(ctx, "layout count", ReadStridedCopyLayout(wrong_count, 6, &p), "layout");
  const double rank9[28] = {9};
  ExpectRangeError(ctx, "layout rank 9", ReadStridedCopyLayout(rank9, 28, &p), "layout");
  const double fraction[] = {1, 2.5, 1, 1};
  ExpectRangeError(ctx, "fractional size", ReadStridedCopyLayout(fraction, 4, &p), "shape[0]");
  const double negative_size[] = {1, -2, 1, 1};
  ExpectRangeError(ctx, "negative size", ReadStridedCopyLayout(negative_size, 4, &p), "shape[0]");
  const double nan_stride[] = {1, 2, 0.0 / 0.0, 1};
  ExpectRangeError(ctx, "NaN stride", ReadStridedCopyLayout(nan_stride, 4, &p), "srcStrides[0]");
  ExpectRangeError(ctx, "no values", ReadStridedCopyLayout(nullptr, 0, &p), "layout");
}

}  // namespace
}  // namespace test
}  // namespace qk
