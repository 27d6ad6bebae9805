// Operator tests of the elementwise family: LookupRows, BinaryRows (through Dispatch()) and MatmulF32, at several thread counts, against the reference.
//
// Cases cover every LookupOp on both 8-bit dtypes with random qparams, row layouts
// (one run; rows with a vector part and a scalar tail; rows shorter than a vector
// step; vector_length 0), sizes large enough to split over threads, guard bytes
// after the output, and the error statuses (bad dtype, qparams, lengths, rows).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/elementwise.h"
#include "reference/elementwise-ref.h"

namespace qk {
namespace test {
namespace {

constexpr uint8_t kSentinel = 0x5A;
constexpr size_t kGuard = 16;

struct Layout {
  size_t n;
  size_t row_length;
  size_t vector_length;
};

// PyTorch's split (vector part = row - row % 64) and a few other splits.
std::vector<Layout> Layouts() {
  std::vector<Layout> layouts;
  for (size_t n : {1, 63, 64, 65, 200, 1000, 70001}) layouts.push_back({n, n, n - n % 64});
  layouts.push_back({40 * 97, 97, 64});   // rows with a scalar tail (e.g. NHWC cat, C = 97)
  layouts.push_back({50 * 30, 30, 0});    // rows shorter than a vector step: all scalar
  layouts.push_back({3 * 40000, 40000, 39936});
  layouts.push_back({0, 0, 0});
  return layouts;
}

std::vector<uint8_t> RandomBytes(Random& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng.Next() >> 56);
  return v;
}

int64_t RandomZeroPoint(Random& rng, QDType dtype) {
  return dtype == QDType::kQInt8 ? rng.Int(-128, 127) : rng.Int(0, 255);
}

LookupSpec RandomLookupSpec(Random& rng, LookupOp op, QDType dtype) {
  LookupSpec s;
  s.op = op;
  s.dtype = dtype;
  s.in_scale = rng.LogUniform(-3, 0);
  s.in_zero_point = RandomZeroPoint(rng, dtype);
  s.out_scale = rng.LogUniform(-3, 0);
  s.out_zero_point = RandomZeroPoint(rng, dtype);
  s.p0 = rng.Uniform(-2, 2);
  s.p1 = rng.Uniform(-2, 2);
  s.p2 = rng.Uniform(0.2, 2);
  s.inverse = static_cast<InverseScale>(rng.Int(0, 2));
  if (op == LookupOp::kAddScalar) s.p0 = static_cast<double>(rng.Int(-300, 300));
  if (op == LookupOp::kClamp && rng.Int(0, 2) == 0) s.p1 = NAN;
  return s;
}

std::string Describe(const LookupSpec& s, const Layout& l, int threads) {
  return "LookupRows op=" + std::to_string(static_cast<int>(s.op)) + " dtype=" + QDTypeName(s.dtype) +
         " n=" + std::to_string(l.n) + " row=" + std::to_string(l.row_length) +
         " vector=" + std::to_string(l.vector_length) + " threads=" + std::to_string(threads);
}

bool Compare(Context& ctx, const std::string& where, const std::vector<uint8_t>& expected, const std::vector<uint8_t>& got) {
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] != got[i]) {
      ctx.Fail(where + ": index " + std::to_string(i) + ", expected byte " + std::to_string(expected[i]) + ", got " +
               std::to_string(got[i]));
      return false;
    }
  }
  for (size_t i = expected.size(); i < got.size(); ++i) {
    if (got[i] != kSentinel) {
      ctx.Fail(where + ": wrote past the end of the output");
      return false;
    }
  }
  return true;
}

QK_TEST(kIsa, "elementwise/ops/lookup-rows") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(0x1007);
  for (QDType dtype : {QDType::kQUInt8, QDType::kQInt8}) {
    for (int op = 0; op <= static_cast<int>(LookupOp::kNegate); ++op) {
      for (const Layout& layout : Layouts()) {
        const LookupSpec spec = RandomLookupSpec(rng, static_cast<LookupOp>(op), dtype);
        const std::vector<uint8_t> x = RandomBytes(rng, layout.n);
        const size_t row = layout.row_length == 0 ? 1 : layout.row_length;
        const std::vector<uint8_t> expected = LookupRowsRef(spec, x, row, layout.vector_length);
        for (int threads : kThreadCounts) {
          SetNumThreads(threads);
          std::vector<uint8_t> y(layout.n + kGuard, kSentinel);
          const std::string where = Describe(spec, layout, threads);
          const Status status = LookupRows(spec, x.data(), x.size(), y.data(), y.size(), layout.row_length, layout.vector_length);
          if (!ctx.Check(status.ok(), where + ": " + status.message())) return;
          if (!Compare(ctx, where, expected, y)) return;
        }
      }
    }
  }
  SetNumThreads(1);
}

// A random add / mul spec: variant bit 0 selects mul, bit 1 relu; random scales and zero points.
BinarySpec RandomBinarySpec(Random& rng, QDType dtype, int variant) {
  BinarySpec spec;
  spec.dtype = dtype;
  spec.multiply = variant & 1;
  spec.relu = (variant >> 1) & 1;
  spec.a_scale = rng.LogUniform(-3, 0);
  spec.b_scale = rng.LogUniform(-3, 0);
  spec.out_scale = rng.LogUniform(-3, 0);
  spec.a_zero_point = RandomZeroPoint(rng, dtype);
  spec.b_zero_point = RandomZeroPoint(rng, dtype);
  spec.out_zero_point = RandomZeroPoint(rng, dtype);
  spec.divide_by_out_scale = rng.Int(0, 1) == 1;
  return spec;
}

QK_TEST(kIsa, "elementwise/ops/binary-rows") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(0xADD);
  for (QDType dtype : {QDType::kQUInt8, QDType::kQInt8}) {
    for (int variant = 0; variant < 4; ++variant) {
      for (const Layout& layout : Layouts()) {
        const BinarySpec spec = RandomBinarySpec(rng, dtype, variant);
        const std::vector<uint8_t> a = RandomBytes(rng, layout.n), b = RandomBytes(rng, layout.n);
        const size_t row = layout.row_length == 0 ? 1 : layout.row_length;
        const std::vector<uint8_t> expected = BinaryRowsRef(spec, a, b, row, layout.vector_length);
        for (int threads : kThreadCounts) {
          SetNumThreads(threads);
          std::vector<uint8_t> y(layout.n + kGuard, kSentinel);
          const std::string where = std::string("BinaryRows ") + (spec.multiply ? "mul" : "add") +
                                    (spec.relu ? "_relu " : " ") + QDTypeName(dtype) + " n=" + std::to_string(layout.n) +
                                    " row=" + std::to_string(layout.row_length) + " threads=" + std::to_string(threads);
          const Status status = BinaryRows(spec, a.data(), a.size(), b.data(), b.size(), y.data(), y.size(),
                                           layout.row_length, layout.vector_length);
          if (!ctx.Check(status.ok(), where + ": " + status.message())) return;
          if (!Compare(ctx, where, expected, y)) return;
        }
      }
    }
  }
  SetNumThreads(1);
}

// BinaryRowsBroadcast against the reference on the operands expanded here: an NCHW
// [N, C, 1, 1] operand (runs of one value longer and shorter than the 512-element pieces and
// the table path's minimum run), a channels-last tile of C values, an outer repeat, and a dense
// operand beside a broadcast one.
QK_TEST(kIsa, "elementwise/ops/binary-rows-broadcast") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(0xB0AD);
  struct Case {
    size_t n, row, vector, a_each, a_period, b_each, b_period;
  };
  const Case cases[] = {
      {72 * 576, 576, 576, 576, 72, 1, 72 * 576},  // SE mul, NCHW: a is [1, 72, 1, 1]
      {2 * 72 * 576, 576, 576, 576, 72, 1, 2 * 72 * 576},  // N = 2: a repeats per sample
      {576 * 72, 72, 64, 1, 72, 1, 576 * 72},      // NHWC: a tiles its 72 channels
      {4 * 70, 70, 64, 1, 4 * 70, 1, 70},           // [4, 70] + [70]
      {5 * 130, 130, 128, 130, 5, 1, 130},          // [5, 1] x [1, 130]: both broadcast
      {3 * 700, 700, 640, 700, 3, 1, 3 * 700},      // runs crossing the pieces
      // Runs of 512 and more go through a table of the 256 results (kLutMinRun): the vector and
      // the tail formula's tables, qb held over the runs, and a value's table made again.
      {4 * 2000, 2000, 1024, 2000, 4, 1, 4 * 2000},  // vector part 1024, tail 976: both by tables
      {3 * 600, 600, 576, 1, 3 * 600, 600, 3},       // qb is [3, 1] beside a dense qa
      {6 * 512, 512, 512, 512, 2, 1, 6 * 512},       // values alternate: each table made three times
      {0, 1, 0, 1, 1, 1, 1},
  };
  for (QDType dtype : {QDType::kQUInt8, QDType::kQInt8}) {
    for (int variant = 0; variant < 4; ++variant) {
      for (const Case& c : cases) {
        const BinarySpec spec = RandomBinarySpec(rng, dtype, variant);
        const std::vector<uint8_t> a = RandomBytes(rng, c.a_period), b = RandomBytes(rng, c.b_period);
        std::vector<uint8_t> a_dense(c.n), b_dense(c.n);
        for (size_t i = 0; i < c.n; ++i) {
          a_dense[i] = a[(i / c.a_each) % c.a_period];
          b_dense[i] = b[(i / c.b_each) % c.b_period];
        }
        const std::vector<uint8_t> expected = BinaryRowsRef(spec, a_dense, b_dense, c.row, c.vector);
        for (int threads : kThreadCounts) {
          SetNumThreads(threads);
          std::vector<uint8_t> y(c.n + kGuard, kSentinel);
          const std::string where = std::string("BinaryRowsBroadcast ") + (spec.multiply ? "mul" : "add") + " " +
                                    QDTypeName(dtype) + " n=" + std::to_string(c.n) + " a=" + std::to_string(c.a_each) +
                                    "/" + std::to_string(c.a_period) + " threads=" + std::to_string(threads);
          const BroadcastOperand ba{a.data(), a.size(), c.a_each, c.a_period};
          const BroadcastOperand bb{b.data(), b.size(), c.b_each, c.b_period};
          const Status status = BinaryRowsBroadcast(spec, ba, bb, y.data(), c.n, c.row, c.vector);
          if (!ctx.Check(status.ok(), where + ": " + status.message())) return;
          if (!Compare(ctx, where, expected, y)) return;
        }
      }
    }
  }
  // An operand read across (rows x cols, transposed tile by tile) beside a broadcast or dense one:
  // the SE mul with a channels-last qb of an NCHW output (N = 1, 2), an NCHW qa of an NHWC output,
  // tiles narrower than the columns, more rows than one 16 KB tile holds at 16 columns.
  struct AcrossCase {
    size_t n, row, vector, rows, cols, other_each, other_period;
    bool across_is_a;
  };
  const AcrossCase across_cases[] = {
      {72 * 576, 576, 0, 72, 576, 576, 72, false},
      {2 * 72 * 576, 576, 0, 72, 576, 576, 72, false},
      {576 * 72, 72, 64, 576, 72, 1, 72, true},
      {3 * 7 * 1000, 1000, 960, 7, 1000, 7, 11, false},
      {1100 * 40, 40, 0, 1100, 40, 1, 1100 * 40, true},
      {5 * 3, 3, 0, 5, 3, 1, 3, false},
  };
  for (QDType dtype : {QDType::kQUInt8, QDType::kQInt8}) {
    for (int variant = 0; variant < 4; ++variant) {
      for (const AcrossCase& c : across_cases) {
        const BinarySpec spec = RandomBinarySpec(rng, dtype, variant);
        const std::vector<uint8_t> across = RandomBytes(rng, c.n), other = RandomBytes(rng, c.other_period);
        std::vector<uint8_t> across_dense(c.n), other_dense(c.n);
        const size_t block = c.rows * c.cols;
        for (size_t i = 0; i < c.n; ++i) {
          const size_t o = i / block, r = i % block / c.cols, col = i % c.cols;
          across_dense[i] = across[(o * c.cols + col) * c.rows + r];
          other_dense[i] = other[(i / c.other_each) % c.other_period];
        }
        const std::vector<uint8_t> expected = c.across_is_a ? BinaryRowsRef(spec, across_dense, other_dense, c.row, c.vector)
                                                            : BinaryRowsRef(spec, other_dense, across_dense, c.row, c.vector);
        for (int threads : kThreadCounts) {
          SetNumThreads(threads);
          std::vector<uint8_t> y(c.n + kGuard, kSentinel);
          const std::string where = std::string("BinaryRowsBroadcast across ") + (spec.multiply ? "mul" : "add") + " " +
                                    QDTypeName(dtype) + " n=" + std::to_string(c.n) + " " + std::to_string(c.rows) + "x" +
                                    std::to_string(c.cols) + (c.across_is_a ? " (qa)" : " (qb)") +
                                    " threads=" + std::to_string(threads);
          const BroadcastOperand xa{across.data(), across.size(), 1, c.n, c.rows, c.cols};
          const BroadcastOperand xo{other.data(), other.size(), c.other_each, c.other_period};
          const Status status = c.across_is_a ? BinaryRowsBroadcast(spec, xa, xo, y.data(), c.n, c.row, c.vector)
                                              : BinaryRowsBroadcast(spec, xo, xa, y.data(), c.n, c.row, c.vector);
          if (!ctx.Check(status.ok(), where + ": " + status.message())) return;
          if (!Compare(ctx, where, expected, y)) return;
        }
      }
    }
  }
  // Errors: a period longer than the operand, each 0, the engine-qnnpack add, rows x cols not
  // dividing n, two operands read across.
  std::vector<uint8_t> x(64, 1), y(64);
  BinarySpec bin;
  Status across_status = BinaryRowsBroadcast(bin, {x.data(), 64, 1, 64, 5, 5}, {x.data(), 8, 1, 8}, y.data(), 64, 64, 0);
  ctx.Check(!across_status.ok() && across_status.message().find("qa") != std::string::npos,
            "5 x 5 across 64: " + across_status.message());
  across_status = BinaryRowsBroadcast(bin, {x.data(), 64, 1, 64, 8, 8}, {x.data(), 64, 1, 64, 4, 16}, y.data(), 64, 64, 0);
  ctx.Check(!across_status.ok() && across_status.message().find("qb") != std::string::npos,
            "two across: " + across_status.message());
  Status status = BinaryRowsBroadcast(bin, {x.data(), 8, 1, 9}, {x.data(), 64, 1, 64}, y.data(), 64, 64, 0);
  ctx.Check(!status.ok() && status.message().find("qa") != std::string::npos, "period beyond qa: " + status.message());
  status = BinaryRowsBroadcast(bin, {x.data(), 64, 1, 64}, {x.data(), 8, 0, 8}, y.data(), 64, 64, 0);
  ctx.Check(!status.ok() && status.message().find("qb") != std::string::npos, "each 0: " + status.message());
  bin.qnnpack_add = true;
  status = BinaryRowsBroadcast(bin, {x.data(), 64, 1, 64}, {x.data(), 64, 1, 64}, y.data(), 64, 64, 0);
  ctx.Check(!status.ok(), "qnnpack add refused");
  SetNumThreads(1);
}

QK_TEST(kIsa, "elementwise/ops/matmul-f32") {
  Random rng(0x3A73);
  // Shapes: empty dims, vectors, k = 0, n above the 256-column block, sizes that split over threads.
  const size_t shapes[][4] = {{1, 1, 1, 1}, {1, 0, 5, 3}, {2, 3, 0, 4}, {3, 1, 7, 1}, {2, 5, 9, 6},
                              {1, 3, 20, 300}, {4, 33, 40, 21}, {1, 64, 70, 600}};
  for (const auto& shape : shapes) {
    const size_t batch = shape[0], m = shape[1], k = shape[2], n = shape[3];
    std::vector<float> a(batch * m * k), b(batch * k * n);
    for (float& v : a) v = static_cast<float>(rng.Uniform(-2, 2));
    for (float& v : b) v = static_cast<float>(rng.Uniform(-2, 2));
    const std::vector<float> expected = MatmulF32Ref(a, b, batch, m, k, n);
    for (int threads : kThreadCounts) {
      SetNumThreads(threads);
      std::vector<float> y(expected.size() + kGuard, 123.0f);
      const std::string where = "MatmulF32 " + std::to_string(batch) + "x" + std::to_string(m) + "x" + std::to_string(k) +
                                "x" + std::to_string(n) + " threads=" + std::to_string(threads);
      const Status status = MatmulF32(a.data(), a.size(), b.data(), b.size(), y.data(), expected.size(), batch, m, k, n);
      if (!ctx.Check(status.ok(), where + ": " + status.message())) break;
      for (size_t i = 0; i < expected.size(); ++i) {
        if (BitsOfFloat(y[i]) != BitsOfFloat(expected[i])) {
          ctx.Fail(where + ": y[" + std::to_string(i) + "] = " + DescribeFloat(y[i]) + ", reference " + DescribeFloat(expected[i]));
          break;
        }
      }
      for (size_t i = expected.size(); i < y.size(); ++i) ctx.Check(y[i] == 123.0f, where + ": wrote past the output");
    }
  }
  SetNumThreads(1);
  std::vector<float> a(12, 1.0f), b(20, 1.0f), y(15, 0.0f);
  Status status = MatmulF32(a.data(), 11, b.data(), 20, y.data(), 15, 1, 3, 4, 5);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "a shorter than m * k: " + status.message());
  status = MatmulF32(a.data(), 12, b.data(), 19, y.data(), 15, 1, 3, 4, 5);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "b shorter than k * n: " + status.message());
  status = MatmulF32(a.data(), 12, b.data(), 20, y.data(), 14, 1, 3, 4, 5);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "short output: " + status.message());
  status = MatmulF32(a.data(), 12, b.data(), 20, y.data(), 15, SIZE_MAX / 2, 3, 4, 5);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "overflowing sizes: " + status.message());
  for (float v : y) ctx.Check(v == 0.0f, "a failing MatmulF32 wrote to its output");
}

QK_TEST(kIsa, "elementwise/ops/errors") {
  std::vector<uint8_t> x(64, 1), y(64, kSentinel);
  LookupSpec spec;
  spec.op = LookupOp::kSigmoid;
  auto lookup_fails = [&](const LookupSpec& s, size_t x_len, size_t y_len, size_t row, size_t vec, ErrorKind kind,
                          const std::string& what) {
    const Status status = LookupRows(s, x.data(), x_len, y.data(), y_len, row, vec);
    ctx.Check(status.kind() == kind, what + ": expected an error, got '" + status.message() + "'");
  };
  lookup_fails(spec, 64, 63, 64, 0, ErrorKind::kRangeError, "short output");
  lookup_fails(spec, 64, 64, 10, 0, ErrorKind::kRangeError, "row length not dividing n");
  lookup_fails(spec, 64, 64, 0, 0, ErrorKind::kRangeError, "row length 0");
  lookup_fails(spec, 64, 64, 32, 33, ErrorKind::kRangeError, "vector length above row length");
  LookupSpec bad = spec;
  bad.dtype = QDType::kQInt32;
  lookup_fails(bad, 64, 64, 64, 0, ErrorKind::kRangeError, "qint32");
  bad = spec;
  bad.in_scale = 0;
  lookup_fails(bad, 64, 64, 64, 0, ErrorKind::kRangeError, "scale 0");
  bad = spec;
  bad.out_scale = 1e300;
  lookup_fails(bad, 64, 64, 64, 0, ErrorKind::kRangeError, "scale not finite in float32");
  bad = spec;
  bad.out_zero_point = 256;
  lookup_fails(bad, 64, 64, 64, 0, ErrorKind::kRangeError, "zero point out of range");
  bad = spec;
  bad.op = LookupOp::kAddScalar;
  bad.p0 = 0.5;
  lookup_fails(bad, 64, 64, 64, 0, ErrorKind::kRangeError, "fractional c_q");
  bad = spec;
  bad.op = static_cast<LookupOp>(99);
  lookup_fails(bad, 64, 64, 64, 0, ErrorKind::kRangeError, "unknown op");
  {
    const Status status = LookupRows(spec, nullptr, 64, y.data(), 64, 64, 0);
    ctx.Check(status.kind() == ErrorKind::kTypeError, "null input: " + status.message());
  }
  BinarySpec bin;
  Status status = BinaryRows(bin, x.data(), 64, x.data(), 63, y.data(), 64, 64, 0);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "qb shorter than qa: " + status.message());
  status = BinaryRows(bin, x.data(), 64, x.data(), 64, y.data(), 10, 64, 0);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "short output: " + status.message());
  bin.out_scale = -1;
  status = BinaryRows(bin, x.data(), 64, x.data(), 64, y.data(), 64, 64, 0);
  ctx.Check(status.kind() == ErrorKind::kRangeError, "negative scale: " + status.message());
  for (uint8_t b : y) ctx.Check(b == kSentinel, "a failing call wrote to its output");
}

}  // namespace
}  // namespace test
}  // namespace qk
