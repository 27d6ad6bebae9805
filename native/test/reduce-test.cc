// Quantized mean and concatenation: the prepared ops against native/reference/reduce-ref, exactly, on random shapes of every path and dtype, plus their errors and the shared requantization tables cat takes.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "harness.h"
#include "ops/elementwise.h"
#include "ops/quantize.h"
#include "ops/reduce.h"
#include "reference/elementwise-ref.h"
#include "reference/reduce-ref.h"

namespace qk {
namespace test {
namespace {

template <typename T>
void RunMeanCase(Context& ctx, Random& rng, MeanMode mode, QDType dtype) {
  MeanParams p;
  p.dtype = dtype;
  p.mode = mode;
  if (mode == MeanMode::kIntegers) {
    p.rank = static_cast<size_t>(rng.Int(1, 5));
    bool any = false;
    for (size_t d = 0; d < p.rank; ++d) {
      p.shape[d] = rng.Int(1, 7);
      p.reduced[d] = rng.Int(0, 1) == 1;
      any = any || p.reduced[d];
    }
    if (!any) p.reduced[rng.Int(0, static_cast<int64_t>(p.rank) - 1)] = true;
  } else {
    p.rank = mode == MeanMode::kChannelsLastFloat && rng.Int(0, 3) == 0 ? 5 : 4;
    p.shape[0] = rng.Int(1, 2);
    // Channel counts around the 4- and 32-wide blocks, spatial sizes around the cascade's steps.
    const int64_t channel_choices[] = {1, 3, 4, 7, 8, 9, 31, 32, 33, 40, 70};
    p.shape[1] = channel_choices[rng.Int(0, 10)];
    for (size_t d = 2; d < p.rank; ++d) p.shape[d] = rng.Int(1, p.rank == 5 ? 5 : 19);
    for (size_t d = 2; d < p.rank; ++d) p.reduced[d] = true;
  }
  p.scale = rng.LogUniform(-3, 0);
  p.zero_point = rng.Int(kTypeMin<T>, kTypeMax<T>);
  std::string what = std::string(QDTypeName(dtype)) + " mode " + std::to_string(static_cast<int>(mode)) + " shape";
  size_t numel = 1, out_numel = 1;
  for (size_t d = 0; d < p.rank; ++d) {
    what += " " + std::to_string(p.shape[d]) + (p.reduced[d] ? "r" : "");
    numel *= static_cast<size_t>(p.shape[d]);
    if (!p.reduced[d]) out_numel *= static_cast<size_t>(p.shape[d]);
  }
  std::shared_ptr<const MeanOp> op;
  Status st = MeanOp::Prepare(p, &op);
  if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
  ctx.Check(op->input_bytes(0) == numel && op->output_bytes() == out_numel, what + ": sizes");
  const std::vector<T> x = RandomQuantized<T>(rng, numel);
  std::vector<int32_t> x32(x.begin(), x.end()), expected(out_numel);
  ref::MeanRef(x32.data(), p, expected.data());
  std::vector<T> y(out_numel, static_cast<T>(0x5A));
  const void* inputs[1] = {x.data()};
  st = RunWithScratch(*op, inputs, y.data());
  if (!ctx.Check(st.ok(), what + ": Run: " + st.message())) return;
  for (size_t i = 0; i < out_numel; ++i) {
    if (y[i] != expected[i]) {
      ctx.Fail(what + ": index " + std::to_string(i) + ": expected " + std::to_string(expected[i]) + ", got " + std::to_string(y[i]));
      return;
    }
  }
}

QK_TEST(kIsa, "reduce/ops/mean-random") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(911);
  for (int i = 0; i < 120 && !ctx.failed(); ++i) {
    switch (i % 5) {
      case 0: RunMeanCase<uint8_t>(ctx, rng, MeanMode::kIntegers, QDType::kQUInt8); break;
      case 1: RunMeanCase<int8_t>(ctx, rng, MeanMode::kIntegers, QDType::kQInt8); break;
      case 2: RunMeanCase<uint8_t>(ctx, rng, MeanMode::kQnnpackGlobal, QDType::kQUInt8); break;
      case 3: RunMeanCase<uint8_t>(ctx, rng, MeanMode::kChannelsLastFloat, QDType::kQUInt8); break;
      default: RunMeanCase<int8_t>(ctx, rng, MeanMode::kChannelsLastFloat, QDType::kQInt8); break;
    }
  }
}

// The contiguous path over whole rows (RunRows): row lengths around its 8-byte steps and
// 128-step folds, and past its limit of 2^16 values (the general path), with random bytes and
// with every byte at the type's extremes (the largest sums).
template <typename T>
void RunMeanRowsCase(Context& ctx, Random& rng, size_t rows, size_t n, int fill) {
  MeanParams p;
  p.dtype = std::is_signed<T>::value ? QDType::kQInt8 : QDType::kQUInt8;
  p.mode = MeanMode::kIntegers;
  // [rows, 1, n split in two dims], reduced over the last two, or [n] reduced whole when rows is 1.
  p.rank = 4;
  p.shape[0] = static_cast<int64_t>(rows);
  p.shape[1] = 1;
  p.shape[2] = n % 3 == 0 ? 3 : 1;
  p.shape[3] = static_cast<int64_t>(n) / p.shape[2];
  p.reduced[2] = p.reduced[3] = true;
  p.reduced[1] = rng.Int(0, 1) == 1;  // a size-1 dim either way
  p.scale = 0.5;
  std::vector<T> x = RandomQuantized<T>(rng, rows * n);
  if (fill != 0) std::fill(x.begin(), x.end(), fill > 0 ? kTypeMax<T> : kTypeMin<T>);
  const std::string what = std::string(QDTypeName(p.dtype)) + " rows " + std::to_string(rows) + " x " + std::to_string(n) +
                           " fill " + std::to_string(fill);
  std::shared_ptr<const MeanOp> op;
  Status st = MeanOp::Prepare(p, &op);
  if (!ctx.Check(st.ok(), what + ": Prepare: " + st.message())) return;
  std::vector<int32_t> x32(x.begin(), x.end()), expected(rows);
  ref::MeanRef(x32.data(), p, expected.data());
  // The input alone in a buffer of its exact size, so reads past the last row would show under ASan.
  std::unique_ptr<T[]> exact(new T[rows * n]);
  std::copy(x.begin(), x.end(), exact.get());
  std::vector<T> y(rows, static_cast<T>(0x5A));
  const void* inputs[1] = {exact.get()};
  st = RunWithScratch(*op, inputs, y.data());
  if (!ctx.Check(st.ok(), what + ": Run: " + st.message())) return;
  for (size_t i = 0; i < rows; ++i) {
    if (y[i] != expected[i]) {
      ctx.Fail(what + ": row " + std::to_string(i) + ": expected " + std::to_string(expected[i]) + ", got " + std::to_string(y[i]));
      return;
    }
  }
}

QK_TEST(kIsa, "reduce/ops/mean-rows") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(912);
  // 2 to 16 values: RunRows' 16-byte loads (every length), the rows near the input's end by words.
  const size_t lengths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 49, 63, 64, 65, 196, 1016, 1017, 1023, 1024, 1025, 1031, 4096, 65536, 65537};
  for (size_t n : lengths) {
    for (int fill = -1; fill <= 1 && !ctx.failed(); ++fill) {
      const size_t rows = n > 4096 ? 2 : static_cast<size_t>(rng.Int(1, 300));
      RunMeanRowsCase<uint8_t>(ctx, rng, rows, n, fill);
      RunMeanRowsCase<int8_t>(ctx, rng, rows, n, fill);
      RunMeanRowsCase<uint8_t>(ctx, rng, 1, n, fill);
      RunMeanRowsCase<int8_t>(ctx, rng, 1, n, fill);
    }
  }
  // A model head's [1, 1024, 3, 3] over (2, 3): 1024 rows of 9, across RunRows' blocks of 256 rows.
  RunMeanRowsCase<uint8_t>(ctx, rng, 1024, 9, 0);
  RunMeanRowsCase<int8_t>(ctx, rng, 1024, 9, 0);
}

QK_TEST(kIsa, "reduce/ops/mean-errors") {
  MeanParams p;
  p.rank = 4;
  for (size_t d = 0; d < 4; ++d) p.shape[d] = 2;
  p.reduced[2] = p.reduced[3] = true;
  std::shared_ptr<const MeanOp> op;
  p.dtype = QDType::kQInt32;
  Status st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("dtype") != std::string::npos, "qint32: " + st.message());
  p.dtype = QDType::kQInt8;
  p.mode = MeanMode::kQnnpackGlobal;
  st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("quint8 4-D") != std::string::npos, "qnnpack qint8: " + st.message());
  p.mode = MeanMode::kChannelsLastFloat;
  p.reduced[3] = false;
  st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("spatial") != std::string::npos, "channels last over (2): " + st.message());
  p.mode = MeanMode::kIntegers;
  p.zero_point = 128;
  st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("[-128, 127]") != std::string::npos, "zero point: " + st.message());
  p.zero_point = 0;
  p.scale = 1e-50;
  st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("scale") != std::string::npos, "scale: " + st.message());
  p.scale = 1;
  p.shape[2] = 0;
  st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("non-empty") != std::string::npos, "empty: " + st.message());
  p.shape[2] = int64_t{1} << 40;
  p.shape[3] = int64_t{1} << 40;
  st = MeanOp::Prepare(p, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError, "overflow: " + st.message());
}

QK_TEST(kIsa, "reduce/ops/cat") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(912);
  for (int i = 0; i < 50 && !ctx.failed(); ++i) {
    ConcatParams p;
    p.rows = static_cast<size_t>(rng.Int(0, 9));
    p.count = static_cast<size_t>(rng.Int(1, static_cast<int64_t>(kMaxConcatInputs)));
    std::vector<std::vector<uint8_t>> data(p.count);
    std::vector<const uint8_t*> pointers(p.count);
    std::vector<const void*> inputs(p.count);
    size_t total = 0;
    const QDType dtype = rng.Int(0, 1) == 0 ? QDType::kQUInt8 : QDType::kQInt8;
    const int64_t lo = dtype == QDType::kQInt8 ? -128 : 0;
    const double out_scale = rng.LogUniform(-3, -1);
    const int64_t out_zero_point = rng.Int(lo, lo + 255);
    for (size_t k = 0; k < p.count; ++k) {
      p.row_bytes[k] = static_cast<size_t>(rng.Int(0, 40));
      p.vector_bytes[k] = rng.Int(0, 1) == 0 ? 0 : static_cast<size_t>(rng.Int(0, static_cast<int64_t>(p.row_bytes[k])));
      LookupSpec& spec = p.requantize[k];
      spec.op = LookupOp::kRequantize;
      spec.dtype = dtype;
      spec.inverse = InverseScale::kDouble;
      spec.out_scale = out_scale;
      spec.out_zero_point = out_zero_point;
      // Every third input already has the output's qparams (the copy path).
      const bool same = rng.Int(0, 2) == 0;
      spec.in_scale = same ? out_scale : rng.LogUniform(-3, -1);
      spec.in_zero_point = same ? out_zero_point : rng.Int(lo, lo + 255);
      data[k] = RandomQuantized<uint8_t>(rng, p.rows * p.row_bytes[k]);
      pointers[k] = data[k].data();
      inputs[k] = data[k].data();
      total += p.rows * p.row_bytes[k];
    }
    std::shared_ptr<const ConcatOp> op;
    Status st = ConcatOp::Prepare(p, &op);
    if (!ctx.Check(st.ok(), "Prepare: " + st.message())) return;
    ctx.Check(op->output_bytes() == total && op->input_count() == p.count, "cat sizes");
    std::vector<uint8_t> expected(total), y(total, 0x5A);
    ref::ConcatRef(pointers.data(), p, expected.data());
    st = op->Run(inputs.data(), y.data(), nullptr);
    ctx.Check(st.ok() && y == expected, "cat case " + std::to_string(i) + ": " + st.message());
  }
  ConcatParams bad;
  std::shared_ptr<const ConcatOp> op;
  Status st = ConcatOp::Prepare(bad, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("tensors") != std::string::npos, "no inputs: " + st.message());
  bad.count = 1;
  bad.rows = 2;
  bad.row_bytes[0] = 3;
  bad.requantize[0].op = LookupOp::kRequantize;
  bad.vector_bytes[0] = 4;
  st = ConcatOp::Prepare(bad, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("vectorLengths") != std::string::npos, "vector > row: " + st.message());
  bad.vector_bytes[0] = 0;
  bad.requantize[0].out_zero_point = 300;
  st = ConcatOp::Prepare(bad, &op);
  ctx.Check(st.kind() == ErrorKind::kRangeError && st.message().find("outputZeroPoint") != std::string::npos, "zero point: " + st.message());
}

// The requantization a cat input takes: quint8 1/64, 128 -> 1/32, 128 (bench/overhead.js's cat).
LookupSpec CatSpec() {
  LookupSpec spec;
  spec.op = LookupOp::kRequantize;
  spec.inverse = InverseScale::kDouble;
  spec.in_scale = 1.0 / 64;
  spec.in_zero_point = 128;
  spec.out_scale = 1.0 / 32;
  spec.out_zero_point = 128;
  return spec;
}

// Whether shared tables hold exactly what the element-by-element reference gives for every byte:
// table[0] the tail (scalar) formula, table[1] the vector one, and flags that match the bytes.
bool TablesMatchReference(const LookupSpec& spec, const LookupTables& t) {
  std::vector<uint8_t> all(256);
  for (int b = 0; b < 256; ++b) all[b] = static_cast<uint8_t>(b);
  const std::vector<uint8_t> tail = LookupRowsRef(spec, all, 256, 0);
  const std::vector<uint8_t> vector = LookupRowsRef(spec, all, 256, 256);
  bool identity = tail == vector;
  for (int b = 0; b < 256 && identity; ++b) identity = tail[b] == b;
  return std::memcmp(t.table[0], tail.data(), 256) == 0 && std::memcmp(t.table[1], vector.data(), 256) == 0 &&
         t.one_table == (tail == vector) && t.identity == identity;
}

// Every byte through a one-input cat of `spec`, against the reference.
bool CatMatchesReference(const ConcatOp& op, const ConcatParams& p, std::vector<uint8_t>* y) {
  std::vector<uint8_t> x(256), expected(256);
  for (int b = 0; b < 256; ++b) x[b] = static_cast<uint8_t>(b);
  const uint8_t* pointers[1] = {x.data()};
  const void* inputs[1] = {x.data()};
  ref::ConcatRef(pointers, p, expected.data());
  y->assign(256, 0x5A);
  return op.Run(inputs, y->data(), nullptr).ok() && *y == expected;
}

ConcatParams OneInputCat(const LookupSpec& spec) {
  ConcatParams p;
  p.rows = 4;
  p.count = 1;
  p.row_bytes[0] = 64;
  p.vector_bytes[0] = 32;
  p.requantize[0] = spec;
  return p;
}

// ConcatOp takes its tables from the process's cache (SharedLookupTables): the cached tables
// give the bytes a fresh build would, each distinct spec (one qparam apart) gets its own tables,
// an op keeps its tables after the cache has dropped them, and threads asking at once all get
// the right ones.
QK_TEST(kIsa, "reduce/ops/cat-shared-tables") {
  if (!RequireIsaLevel(ctx)) return;
  std::vector<LookupSpec> specs(7, CatSpec());
  specs[1].in_zero_point = 129;
  specs[2].in_scale = 1.0 / 64 * (1 + 0x1p-52);  // one ulp: the key is the bits, not a rounding
  specs[3].out_zero_point = 127;
  specs[4].dtype = QDType::kQInt8;
  specs[4].in_zero_point = specs[4].out_zero_point = 0;
  specs[5].p0 = 1;  // requantize with ReLU
  specs[6].in_scale = specs[6].out_scale;  // the identity: a copy
  std::vector<std::shared_ptr<const LookupTables>> got(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Status st = SharedLookupTables(specs[i], &got[i]);
    if (!ctx.Check(st.ok() && got[i] != nullptr, "SharedLookupTables: " + st.message())) return;
    ctx.Check(TablesMatchReference(specs[i], *got[i]), "tables of spec " + std::to_string(i));
    std::shared_ptr<const LookupTables> again;
    ctx.Check(SharedLookupTables(specs[i], &again).ok() && again == got[i], "an equal spec shares the tables: " + std::to_string(i));
    for (size_t j = 0; j < i; ++j) ctx.Check(got[j] != got[i], "specs " + std::to_string(j) + " and " + std::to_string(i) + " share tables");
  }
  ctx.Check(got[6]->identity && !got[0]->identity, "identity flags");
  ctx.Check(std::memcmp(got[0]->table, got[1]->table, sizeof(got[0]->table)) != 0, "zero points 128 and 129 give the same tables");

  // Two ops one zero point apart: each the reference's bytes, and not each other's.
  std::shared_ptr<const ConcatOp> a, b;
  const ConcatParams pa = OneInputCat(specs[0]), pb = OneInputCat(specs[1]);
  if (!ctx.Check(ConcatOp::Prepare(pa, &a).ok() && ConcatOp::Prepare(pb, &b).ok(), "Prepare")) return;
  std::vector<uint8_t> ya, yb;
  ctx.Check(CatMatchesReference(*a, pa, &ya) && CatMatchesReference(*b, pb, &yb) && ya != yb, "two ops' qparams");

  // More distinct specs than the cache holds: `a` still runs on its own tables, and a new request
  // for its spec gives the same bytes.
  for (int64_t z = 0; z < 80; ++z) {
    LookupSpec other = CatSpec();
    other.in_zero_point = z;
    other.out_scale = 1.0 / 16;
    std::shared_ptr<const LookupTables> t;
    ctx.Check(SharedLookupTables(other, &t).ok(), "filling the cache");
  }
  std::shared_ptr<const LookupTables> rebuilt;
  ctx.Check(CatMatchesReference(*a, pa, &ya), "an op after its tables left the cache");
  ctx.Check(SharedLookupTables(specs[0], &rebuilt).ok() && TablesMatchReference(specs[0], *rebuilt), "rebuilt after eviction");

  // Threads asking for overlapping specs at once (eviction included): every answer is right.
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 60; ++i) {
        LookupSpec spec = CatSpec();
        spec.in_zero_point = (i * 7 + t * 3) % 45;
        std::shared_ptr<const LookupTables> tables;
        if (!SharedLookupTables(spec, &tables).ok() || !TablesMatchReference(spec, *tables)) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) ctx.Check(wrong[t] == 0, "thread " + std::to_string(t) + ": " + std::to_string(wrong[t]) + " wrong tables");
}

}  // namespace
}  // namespace test
}  // namespace qk
