// Embedding-bag op tests: lookups against the reference for every mode and option at 1-4 threads, the argument checks, prepack.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/embedding.h"
#include "pack/embedding-pack.h"
#include "reference/embedding-ref.h"

namespace qk {
namespace test {
namespace {

// One random lookup problem; the vectors own what `args` points at.
struct Problem {
  std::vector<uint8_t> table;
  std::vector<int32_t> indices32, offsets32;
  std::vector<int64_t> indices64, offsets64;
  std::vector<float> weights;
  std::vector<int32_t> mapping;
  EmbeddingBagArgs args;
  size_t bags = 0;
};

void MakeProblem(Random& rng, int bits, EmbeddingBagMode mode, Problem* p) {
  const size_t rows = 1 + static_cast<size_t>(rng.Int(0, 300));
  size_t dim = static_cast<size_t>(rng.Int(1, 130));
  if (bits == 4) dim += dim % 2;
  // Prepack a random float table: real qparams as PyTorch makes them.
  std::vector<float> weight(rows * dim);
  for (float& v : weight) v = static_cast<float>(rng.Uniform(-2, 2));
  size_t row_bytes = 0;
  EmbeddingPackedRowBytes(bits, dim, &row_bytes);
  p->table.assign(rows * row_bytes, 0);
  EmbeddingBagPrepack(bits, weight.data(), weight.size(), rows, dim, bits == 4 && rng.Next() % 4 == 0,
                      p->table.data(), p->table.size());

  const bool pruned = rng.Next() % 3 == 0;
  const size_t index_limit = pruned ? rows + 20 : rows;
  if (pruned) {
    p->mapping.resize(index_limit);
    for (int32_t& m : p->mapping) m = rng.Next() % 4 == 0 ? -1 : static_cast<int32_t>(rng.Int(0, rows - 1));
  }
  const size_t n = static_cast<size_t>(rng.Int(0, 200));
  const bool include_last = rng.Next() % 2 == 0;
  p->indices64.resize(n);
  for (int64_t& v : p->indices64) v = rng.Int(0, static_cast<int64_t>(index_limit) - 1);
  // Bag boundaries: sorted cut points in [0, n], empty bags included.
  const size_t bags = static_cast<size_t>(rng.Int(0, 20));
  std::vector<int64_t> offsets{0};
  for (size_t b = 1; b < bags; ++b) offsets.push_back(rng.Int(offsets.back(), static_cast<int64_t>(n)));
  if (bags == 0) offsets.clear();
  if (include_last) offsets.push_back(bags == 0 ? 0 : static_cast<int64_t>(n));
  p->offsets64 = offsets;
  p->indices32.assign(p->indices64.begin(), p->indices64.end());
  p->offsets32.assign(p->offsets64.begin(), p->offsets64.end());
  const bool is64 = rng.Next() % 2 == 0;

  EmbeddingBagArgs& a = p->args;
  a = EmbeddingBagArgs();
  a.table = {p->table.data(), p->table.size(), rows, row_bytes, bits};
  a.indices = {is64 ? static_cast<const void*>(p->indices64.data()) : p->indices32.data(), n, is64};
  a.offsets = {is64 ? static_cast<const void*>(p->offsets64.data()) : p->offsets32.data(), offsets.size(), is64};
  a.include_last_offset = include_last;
  a.mode = mode;
  if (mode == EmbeddingBagMode::kSum && rng.Next() % 2 == 0) {
    p->weights.resize(n);
    for (float& w : p->weights) w = static_cast<float>(rng.Uniform(-2, 2));
    a.per_sample_weights = p->weights.data();
    a.per_sample_weights_len = n;
  }
  if (pruned) {
    a.pruned_weights = true;
    a.compressed_indices_mapping = p->mapping.data();
    a.compressed_indices_mapping_len = p->mapping.size();
  }
  if (rng.Next() % 3 == 0) {
    a.has_padding_idx = true;
    a.padding_idx = rng.Int(0, static_cast<int64_t>(index_limit) - 1);
  }
  EmbeddingBagOutputBags(a, &p->bags);
}

void TestLookups(Context& ctx, int bits, EmbeddingBagMode mode, uint64_t seed) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(seed);
  for (int trial = 0; trial < 60; ++trial) {
    Problem p;
    MakeProblem(rng, bits, mode, &p);
    const size_t dim = EmbeddingTableDim(p.args.table);
    std::vector<float> expected(p.bags * dim);
    EmbeddingBagRef(p.args, p.bags, expected.data());
    for (int threads : kThreadCounts) {
      SetNumThreads(threads);
      std::vector<float> out(p.bags * dim, -1.0f);
      const Status status = EmbeddingBagLookup(p.args, out.data(), out.size());
      if (!ctx.Check(status.ok(), "trial " + std::to_string(trial) + ": " + status.message())) break;
      for (size_t k = 0; k < out.size(); ++k) {
        if (BitsOfFloat(out[k]) != BitsOfFloat(expected[k])) {
          ctx.Fail("trial " + std::to_string(trial) + " threads " + std::to_string(threads) + ": bag " +
                   std::to_string(k / dim) + " element " + std::to_string(k % dim) + " is " + DescribeFloat(out[k]) +
                   ", reference " + DescribeFloat(expected[k]));
          break;
        }
      }
    }
    SetNumThreads(1);
  }
}

// Lookup with one thing broken: the error must be a RangeError naming the position.
void ExpectRangeError(Context& ctx, const EmbeddingBagArgs& args, size_t out_len, const std::string& names) {
  std::vector<float> out(out_len + 1);
  const Status status = EmbeddingBagLookup(args, out.data(), out_len);
  ctx.Check(status.kind() == ErrorKind::kRangeError && status.message().find(names) != std::string::npos,
            "expected a RangeError naming " + names + ", got: " + status.message());
}

QK_TEST(kIsa, "embedding/ops/errors") {
  // Two rows of dim 2 (8-bit).
  std::vector<uint8_t> table(2 * 10, 0);
  std::vector<int64_t> indices = {0, 1, 2};
  std::vector<int64_t> offsets = {0, 2};
  EmbeddingBagArgs a;
  a.table = {table.data(), table.size(), 2, 10, 8};
  a.indices = {indices.data(), 3, true};
  a.offsets = {offsets.data(), 2, true};
  ExpectRangeError(ctx, a, 4, "indices[2]");
  indices[2] = -1;
  ExpectRangeError(ctx, a, 4, "indices[2]");
  indices[2] = 1;
  offsets = {0, 4};
  ExpectRangeError(ctx, a, 4, "offsets[1]");
  offsets = {1, 2};
  ExpectRangeError(ctx, a, 4, "offsets[0]");
  std::vector<int64_t> decreasing = {0, 2, 1};
  a.offsets = {decreasing.data(), 3, true};
  ExpectRangeError(ctx, a, 6, "offsets[2]");
  offsets = {0, 2};
  a.offsets = {offsets.data(), 2, true};
  std::vector<float> weights = {1, 2};
  a.per_sample_weights = weights.data();
  a.per_sample_weights_len = 2;
  ExpectRangeError(ctx, a, 4, "perSampleWeights");
  a.per_sample_weights = nullptr;
  a.per_sample_weights_len = 0;
  std::vector<int32_t> mapping = {0, 5, -1};
  a.pruned_weights = true;
  a.compressed_indices_mapping = mapping.data();
  a.compressed_indices_mapping_len = 3;
  ExpectRangeError(ctx, a, 4, "compressedIndicesMapping[1]");
  a.pruned_weights = false;
  a.table.bytes = 19;  // one byte short of two rows
  ExpectRangeError(ctx, a, 4, "packed");
  a.table.bytes = 20;
  ExpectRangeError(ctx, a, 3, "output");
  a.include_last_offset = true;
  a.offsets = {offsets.data(), 0, true};
  ExpectRangeError(ctx, a, 0, "offsets");
}

// Indices are checked where each task reads them: with bags split over threads, the error
// still names the first bad position (not the one a faster task met), also for int32
// indices, with padding, and for indices after the last bag (include_last_offset), which
// no task reads.
QK_TEST(kIsa, "embedding/ops/index-errors-threads") {
  const size_t dim = 64, rows = 10, n = 4096, bags = 64;
  std::vector<uint8_t> table(rows * (dim + 8), 0);
  for (bool is64 : {true, false}) {
    std::vector<int64_t> indices64(n);
    std::vector<int32_t> indices32(n);
    auto set = [&](size_t i, int64_t v) {
      indices64[i] = v;
      indices32[i] = static_cast<int32_t>(v);
    };
    for (size_t i = 0; i < n; ++i) set(i, static_cast<int64_t>(i % rows));
    std::vector<int64_t> offsets(bags + 1);
    for (size_t b = 0; b <= bags; ++b) offsets[b] = static_cast<int64_t>(b * 62);  // the last ends at 3968
    EmbeddingBagArgs a;
    a.table = {table.data(), table.size(), rows, dim + 8, 8};
    a.indices = {is64 ? static_cast<const void*>(indices64.data()) : static_cast<const void*>(indices32.data()), n, is64};
    a.offsets = {offsets.data(), bags, true};
    for (int threads = 1; threads <= 4; ++threads) {
      SetNumThreads(threads);
      set(3000, 10);
      set(1000, -3);
      ExpectRangeError(ctx, a, bags * dim, "indices[1000]");
      a.has_padding_idx = true;
      a.padding_idx = -3;  // position 1000 is padding now: skipped, not an error
      ExpectRangeError(ctx, a, bags * dim, "indices[3000]");
      a.has_padding_idx = false;
      set(1000, 0);
      set(3000, 0);
      a.include_last_offset = true;
      a.offsets = {offsets.data(), bags + 1, true};
      set(4050, 99);  // after the last bag
      ExpectRangeError(ctx, a, bags * dim, "indices[4050]");
      set(4050, 0);
      std::vector<float> out(bags * dim);
      const Status ok = EmbeddingBagLookup(a, out.data(), out.size());
      ctx.Check(ok.ok(), "the repaired lookup: " + ok.message());
      a.include_last_offset = false;
      a.offsets = {offsets.data(), bags, true};
    }
    SetNumThreads(1);
  }
}

// A bag longer than one kernel call (the op adds it in pieces of 4096 rows): the same bits as
// the reference, 8-bit and 4-bit, with and without weights, at 1 and 2 threads.
QK_TEST(kIsa, "embedding/ops/long-bag") {
  Random rng(4242);
  for (int bits : {8, 4}) {
    for (size_t dim : {16, 64}) {
      const size_t rows = 50, n = 10000, row_bytes = bits == 8 ? dim + 8 : dim / 2 + 4;
      std::vector<uint8_t> table(rows * row_bytes);
      for (uint8_t& b : table) b = static_cast<uint8_t>(rng.Next());
      for (size_t r = 0; r < rows; ++r) {
        uint8_t* qparams = table.data() + r * row_bytes + (bits == 8 ? dim : dim / 2);
        if (bits == 8) {
          const float sb[2] = {static_cast<float>(rng.Uniform(0x1p-8, 0x1p-6)), static_cast<float>(rng.Uniform(-1, 1))};
          std::memcpy(qparams, sb, 8);
        } else {
          const uint16_t sb[2] = {static_cast<uint16_t>(0x1C00 + rng.Int(0, 0x7FF)), static_cast<uint16_t>(rng.Int(0, 0x3BFF))};
          std::memcpy(qparams, sb, 4);
        }
      }
      std::vector<int64_t> indices(n);
      for (int64_t& v : indices) v = rng.Int(0, static_cast<int64_t>(rows) - 1);
      std::vector<float> weights(n);
      for (float& w : weights) w = static_cast<float>(rng.Uniform(-2, 2));
      const std::vector<int64_t> offsets = {0, 3, 9000};  // bags of 3, 8997 and 1000 rows
      for (bool weighted : {false, true}) {
        EmbeddingBagArgs a;
        a.table = {table.data(), table.size(), rows, row_bytes, bits};
        a.indices = {indices.data(), n, true};
        a.offsets = {offsets.data(), offsets.size(), true};
        if (weighted) {
          a.per_sample_weights = weights.data();
          a.per_sample_weights_len = n;
        }
        std::vector<float> expected(offsets.size() * dim);
        EmbeddingBagRef(a, offsets.size(), expected.data());
        for (int threads : {1, 2}) {
          SetNumThreads(threads);
          std::vector<float> out(expected.size());
          const Status status = EmbeddingBagLookup(a, out.data(), out.size());
          if (!ctx.Check(status.ok(), status.message())) return;
          for (size_t k = 0; k < out.size(); ++k) {
            if (BitsOfFloat(out[k]) != BitsOfFloat(expected[k])) {
              ctx.Fail(std::to_string(bits) + "-bit dim " + std::to_string(dim) + (weighted ? " weighted" : "") +
                       " threads " + std::to_string(threads) + ": bag " + std::to_string(k / dim) + " element " +
                       std::to_string(k % dim) + " is " + DescribeFloat(out[k]) + ", reference " + DescribeFloat(expected[k]));
              SetNumThreads(1);
              return;
            }
          }
        }
        SetNumThreads(1);
      }
    }
  }
}

// fp16 rounding: every float of a sweep maps to its nearest half, ties to even.
QK_TEST(kIsa, "embedding/pack/float-to-half") {
  Random rng(77);
  for (int i = 0; i < 200000; ++i) {
    const float x = i < 100000 ? rng.AnyFloat() : FloatFromBits(0x33000000u + static_cast<uint32_t>(rng.Int(0, 0x14800000)));
    const uint16_t h = FloatToHalfBits(x);
    const float y = HalfBitsToFloat(h);
    if (std::isnan(x)) {
      if (!ctx.Check((h & 0x7FFFu) == 0x7E00u, "NaN " + DescribeFloat(x) + " gave a non-canonical half")) return;
      continue;
    }
    // Neighbours of h in magnitude must not be strictly closer (or equally close and even).
    const double dx = std::fabs(static_cast<double>(x) - y);
    for (int step : {-1, 1}) {
      const int magnitude = (h & 0x7FFF) + step;
      if (magnitude < 0 || magnitude > 0x7C00) continue;
      const float z = HalfBitsToFloat(static_cast<uint16_t>((h & 0x8000) | magnitude));
      const double dz = std::fabs(static_cast<double>(x) - z);
      const bool ok = std::isinf(y) ? std::fabs(x) >= 65520.0f : (dx < dz || (dx == dz && (h & 1) == 0));
      if (!ctx.Check(ok, "x = " + DescribeFloat(x) + " rounded to half " + std::to_string(h))) return;
    }
  }
}

// Prepack bytes do not depend on the thread count.
QK_TEST(kIsa, "embedding/pack/threads") {
  Random rng(5);
  const size_t rows = 3000, dim = 34;
  std::vector<float> weight(rows * dim);
  for (float& v : weight) v = static_cast<float>(rng.Uniform(-5, 5));
  for (int bits : {8, 4}) {
    for (bool optimized : {false, true}) {
      if (optimized && bits == 8) continue;
      size_t row_bytes = 0;
      EmbeddingPackedRowBytes(bits, dim, &row_bytes);
      std::vector<uint8_t> first;
      for (int threads : kThreadCounts) {
        SetNumThreads(threads);
        std::vector<uint8_t> packed(rows * row_bytes);
        const Status s = EmbeddingBagPrepack(bits, weight.data(), weight.size(), rows, dim, optimized, packed.data(),
                                             packed.size());
        if (!ctx.Check(s.ok(), s.message())) break;
        if (first.empty()) first = packed;
        ctx.Check(packed == first, "prepack bytes differ at " + std::to_string(threads) + " threads");
      }
      SetNumThreads(1);
    }
  }
  std::vector<uint8_t> out(100);
  ctx.Check(EmbeddingBagPrepack(4, weight.data(), weight.size(), 1, 3, false, out.data(), out.size()).kind() ==
                ErrorKind::kRangeError,
            "4-bit prepack of an odd dim must be a RangeError");
}

const bool kRegistered = [] {
  const char* mode_names[] = {"sum", "mean", "max"};
  for (int bits : {8, 4}) {
    for (int m = 0; m < 3; ++m) {
      const std::string name = std::string("embedding/ops/lookup/") + (bits == 8 ? "byte/" : "4bit/") + mode_names[m];
      RegisterTest(Mode::kIsa, name, [bits, m](Context& ctx) {
        TestLookups(ctx, bits, static_cast<EmbeddingBagMode>(m), 900 + static_cast<uint64_t>(bits * 10 + m));
      });
    }
  }
  return true;
}();

}  // namespace
}  // namespace test
}  // namespace qk
