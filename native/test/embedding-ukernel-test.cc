// Embedding bag kernel tests: every registered 8-bit / 4-bit bag kernel the CPU can run, against the reference, bit for bit.
//
// Each kernel adds `count` random rows (with and without per-sample weights) for every
// dim from 2 to 64 and a few up to 512 (4-bit: even dims), counts around the prefetch
// distance; the output row sits between sentinel guards so a write past dim shows.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/isa.h"
#include "harness.h"
#include "ops/embedding.h"
#include "reference/embedding-ref.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr float kSentinel = -12345.5f;
constexpr size_t kGuard = 16;

// Whether this --isa run covers a kernel of level `isa` (excluded above the level, skipped when the CPU lacks it).
bool KernelRuns(Context& ctx, Isa isa) {
  if (!IsaIsNative(isa) || IsaRank(isa) > IsaRank(GetOptions().isa)) {
    ctx.Exclude();
    return false;
  }
  if (!CpuSupports(GetCpuFeatures(), isa)) {
    ctx.Skip(std::string("this CPU cannot run ") + IsaName(isa) + " code");
    return false;
  }
  return true;
}

// A finite float from many magnitudes and both signs, including subnormals and zeros.
float QParamValue(Random& rng) {
  switch (rng.Int(0, 7)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return static_cast<float>(rng.Uniform(-1, 1) * 1e-40);  // subnormal
    case 3: return static_cast<float>((rng.Next() % 2 ? 1 : -1) * rng.LogUniform(-30, 30));
    default: return static_cast<float>(rng.Uniform(-2, 2));
  }
}

// A typical row's qparams, as quantizing a trained table gives them: scale in [2^-8, 2^-6),
// bias in (-1, 1). Bags of such rows take the kernels' fast paths.
void TypicalQParams(Random& rng, int bits, uint8_t* qparams) {
  if (bits == 8) {
    const float values[2] = {static_cast<float>(rng.Uniform(0x1p-8, 0x1p-6)), static_cast<float>(rng.Uniform(-1, 1))};
    std::memcpy(qparams, values, 8);
  } else {
    const uint16_t halves[2] = {static_cast<uint16_t>(0x1C00 + rng.Int(0, 0x7FF)),
                                static_cast<uint16_t>(rng.Int(0, 0x3BFF) | (rng.Int(0, 1) ? 0x8000 : 0))};
    std::memcpy(qparams, halves, 4);
  }
}

// A random packed table: bytes uniformly random, then the qparams replaced by finite values
// (4-bit: fp16 bit patterns, NaN and infinity excluded); `typical`: TypicalQParams instead.
std::vector<uint8_t> RandomTable(Random& rng, int bits, size_t rows, size_t dim, size_t row_bytes, bool typical = false) {
  std::vector<uint8_t> table(rows * row_bytes);
  for (uint8_t& b : table) b = static_cast<uint8_t>(rng.Next());
  for (size_t r = 0; r < rows; ++r) {
    uint8_t* qparams = table.data() + r * row_bytes + (bits == 8 ? dim : dim / 2);
    if (typical) {
      TypicalQParams(rng, bits, qparams);
    } else if (bits == 8) {
      for (int k = 0; k < 2; ++k) {
        const float v = QParamValue(rng);
        std::memcpy(qparams + 4 * k, &v, 4);
      }
    } else {
      for (int k = 0; k < 2; ++k) {
        uint16_t h = static_cast<uint16_t>(rng.Next());
        if ((h & 0x7C00u) == 0x7C00u) h = static_cast<uint16_t>(h & 0xBFFFu);  // no inf/NaN exponent
        qparams[2 * k] = static_cast<uint8_t>(h & 0xFF);
        qparams[2 * k + 1] = static_cast<uint8_t>(h >> 8);
      }
    }
  }
  return table;
}

// One bag of `count` random rows against the reference. `typical`: typical qparams, with one
// row of arbitrary qparams (any magnitude, zero, subnormal) at a random position in half of
// the tables, so that a bag's fast path is taken, or abandoned part way and redone.
bool CheckBag(Context& ctx, const std::string& name, EmbeddingBagU8Fn* kernel, int bits, size_t dim, size_t count,
              bool weighted, Random& rng, bool typical = false) {
  const size_t row_bytes = bits == 8 ? dim + 8 : dim / 2 + 4;
  const size_t rows = 1 + static_cast<size_t>(rng.Int(0, 40));
  std::vector<uint8_t> table = RandomTable(rng, bits, rows, dim, row_bytes, typical);
  if (typical && rng.Int(0, 1) == 1) {
    const std::vector<uint8_t> odd = RandomTable(rng, bits, 1, dim, row_bytes);
    const size_t at = static_cast<size_t>(rng.Int(0, static_cast<int64_t>(rows) - 1));
    std::memcpy(table.data() + at * row_bytes, odd.data(), row_bytes);
  }
  // Rows past `count` (up to lookahead) are the next bag's: prefetched, never added.
  const size_t lookahead = count + static_cast<size_t>(rng.Int(0, 20));
  std::vector<int64_t> indices(lookahead);
  std::vector<const uint8_t*> row_pointers(lookahead);
  std::vector<float> weights(lookahead);
  for (size_t i = 0; i < lookahead; ++i) {
    indices[i] = rng.Int(0, static_cast<int64_t>(rows) - 1);
    row_pointers[i] = table.data() + static_cast<size_t>(indices[i]) * row_bytes;
    weights[i] = static_cast<float>(rng.Uniform(-3, 3));
  }
  std::vector<float> out(dim + 2 * kGuard, kSentinel);
  std::fill(out.begin() + kGuard, out.begin() + kGuard + dim, 0.0f);
  kernel(dim, count, lookahead, row_pointers.data(), weighted ? weights.data() : nullptr, out.data() + kGuard);

  EmbeddingBagArgs args;
  args.table = {table.data(), table.size(), rows, row_bytes, bits};
  args.indices = {indices.data(), count, true};
  const int64_t zero = 0;
  args.offsets = {&zero, 1, true};
  if (weighted) {
    args.per_sample_weights = weights.data();
    args.per_sample_weights_len = count;
  }
  std::vector<float> expected(dim);
  EmbeddingBagRef(args, 1, expected.data());

  const std::string where = name + " dim=" + std::to_string(dim) + " count=" + std::to_string(count) +
                            (weighted ? " weighted" : "") + (typical ? " typical" : "");
  for (size_t g = 0; g < kGuard; ++g) {
    if (!ctx.Check(out[g] == kSentinel && out[kGuard + dim + g] == kSentinel, where + ": wrote outside the row")) {
      return false;
    }
  }
  for (size_t j = 0; j < dim; ++j) {
    const float got = out[kGuard + j];
    if (BitsOfFloat(got) != BitsOfFloat(expected[j])) {
      ctx.Fail(where + ": element " + std::to_string(j) + " is " + DescribeFloat(got) + ", reference " +
               DescribeFloat(expected[j]));
      return false;
    }
  }
  return true;
}

bool CheckDoubleRoundingRows(Context& ctx, const std::string& name, EmbeddingBagU8Fn* kernel, int bits);
bool CheckLargeSumRows(Context& ctx, const std::string& name, EmbeddingBagU8Fn* kernel);

void RegisterBagKernelTests(const char* name, Isa isa, EmbeddingBagU8Fn* kernel, int bits) {
  const std::string base = name;
  RegisterTest(Mode::kIsa, base + "/typical-rows", [=](Context& ctx) {
    if (!KernelRuns(ctx, isa)) return;
    Random rng(2000 + static_cast<uint64_t>(bits) * 7 + static_cast<uint64_t>(isa));
    for (size_t dim : {16, 32, 48, 64, 100, 128, 136, 256}) {
      for (size_t count : {1, 2, 7, 33, 100}) {
        for (int round = 0; round < 6; ++round) {
          if (!CheckBag(ctx, base, kernel, bits, dim, count, round % 2 == 1, rng, true)) return;
        }
      }
    }
  });
  RegisterTest(Mode::kIsa, base + "/double-rounding", [=](Context& ctx) {
    if (!KernelRuns(ctx, isa)) return;
    CheckDoubleRoundingRows(ctx, base, kernel, bits);
  });
  if (bits == 8) {
    RegisterTest(Mode::kIsa, base + "/large-sum", [=](Context& ctx) {
      if (!KernelRuns(ctx, isa)) return;
      CheckLargeSumRows(ctx, base, kernel);
    });
  }
  RegisterTest(Mode::kIsa, base + "/dims", [=](Context& ctx) {
    if (!KernelRuns(ctx, isa)) return;
    Random rng(1000 + static_cast<uint64_t>(bits) * 7 + static_cast<uint64_t>(isa));
    std::vector<size_t> dims;
    for (size_t d = 1; d <= 64; ++d) dims.push_back(d);
    for (size_t d : {95, 96, 127, 128, 129, 255, 256, 300, 511, 512}) dims.push_back(d);
    for (size_t dim : dims) {
      if (bits == 4 && dim % 2 != 0) continue;
      for (size_t count : {0, 1, 2, 3, 17, 40}) {
        for (bool weighted : {false, true}) {
          if (!CheckBag(ctx, base, kernel, bits, dim, count, weighted, rng)) return;
        }
      }
    }
  });
}

// Rows where PyTorch's double multiply-add and an fp32 FMA round differently: s * q lands
// on (or next to) a float rounding midpoint and t = out + bias is ~2^-60 of it, so only the double
// path is right. The SIMD kernels must notice that t's exponent is far from s's and take it.
// Returns false on the first mismatch.
bool CheckDoubleRoundingRows(Context& ctx, const std::string& name, EmbeddingBagU8Fn* kernel, int bits) {
  const size_t dim = 240;  // q = 1..240 (4-bit: q = j % 16)
  const size_t row_bytes = bits == 8 ? dim + 8 : dim / 2 + 4;
  size_t fp32_differs = 0;
  for (int k = 1; k <= 64; ++k) {
    const float s = 1.0f + static_cast<float>(k) * 0x1p-23f;
    for (int sign : {1, -1}) {
      // 8-bit: one row, scale s, bias +-2^-60. 4-bit (fp16 qparams cannot be that far apart):
      // row 0 (all q = 0, scale and bias 1, weight +-2^-70) leaves out = +-2^-70; row 1 (scale
      // 2^15, bias 0, weight s * 2^-15) then adds s * q to that.
      const float tiny = bits == 8 ? static_cast<float>(sign) * 0x1p-60f : static_cast<float>(sign) * 0x1p-70f;
      std::vector<uint8_t> table(2 * row_bytes, 0);
      uint8_t* row = table.data() + (bits == 8 ? 0 : row_bytes);
      std::vector<float> weights = {tiny, s * 0x1p-15f};
      if (bits == 8) {
        for (size_t j = 0; j < dim; ++j) row[j] = static_cast<uint8_t>(j + 1);
        std::memcpy(row + dim, &s, 4);
        std::memcpy(row + dim + 4, &tiny, 4);
      } else {
        for (size_t j = 0; j < dim; ++j) row[j / 2] = static_cast<uint8_t>(row[j / 2] | ((j % 16) << ((j % 2) * 4)));
        const uint16_t first[2] = {0x3C00, 0x3C00};
        const uint16_t second[2] = {0x7800, 0x0000};
        std::memcpy(table.data() + dim / 2, first, 4);
        std::memcpy(row + dim / 2, second, 4);
      }
      const size_t count = bits == 8 ? 1 : 2;
      const uint8_t* rows[2] = {table.data(), table.data() + row_bytes};
      std::vector<float> out(dim, 0.0f);
      kernel(dim, count, count, rows, bits == 4 ? weights.data() : nullptr, out.data());
      EmbeddingBagArgs args;
      args.table = {table.data(), table.size(), 2, row_bytes, bits};
      const int64_t indices[2] = {0, 1};
      const int64_t zero = 0;
      args.indices = {indices, count, true};
      args.offsets = {&zero, 1, true};
      if (bits == 4) {
        args.per_sample_weights = weights.data();
        args.per_sample_weights_len = 2;
      }
      std::vector<float> expected(dim);
      EmbeddingBagRef(args, 1, expected.data());
      for (size_t j = 0; j < dim; ++j) {
        const float q = bits == 8 ? static_cast<float>(j + 1) : static_cast<float>(j % 16);
        if (BitsOfFloat(std::fma(s, q, tiny)) != BitsOfFloat(expected[j])) ++fp32_differs;
        if (BitsOfFloat(out[j]) != BitsOfFloat(expected[j])) {
          ctx.Fail(name + " double-rounding row k=" + std::to_string(k) + " element " + std::to_string(j) + ": " +
                   DescribeFloat(out[j]) + ", reference " + DescribeFloat(expected[j]));
          return false;
        }
      }
    }
  }
  // The rows must really separate the two roundings, or this case proves nothing.
  return ctx.Check(fp32_differs > 0, name + ": no double-rounding row differed from an fp32 FMA");
}

// The other side of the window: t far above s. Row 0 (q = 0, bias T = 2^14) leaves out = T;
// row 1 (scale s = 5237765 * 2^-40, bias 0, q = 205) adds s * q = (2^30 + 1) * 2^-40, just
// above half an ulp of T, by so little that the double sum drops it: PyTorch's double path
// ties to T, an fp32 FMA rounds up. Both rows have the same scale, so only the bound on the
// largest |t| (not the scale range) can send the bag to the exact path. 8-bit only: 4-bit
// products (q < 16) span too few bits to separate the two roundings this way. Two
// columns of 205 (one in each half of the first 32) between columns of 0, dims 32 and 64,
// with and without weights of 1.
bool CheckLargeSumRows(Context& ctx, const std::string& name, EmbeddingBagU8Fn* kernel) {
  const float s = 5237765.0f * 0x1p-40f, big = 0x1p14f;
  for (size_t dim : {32, 64}) {
    for (bool weighted : {false, true}) {
      const size_t row_bytes = dim + 8;
      std::vector<uint8_t> table(2 * row_bytes, 0);
      const float zero_bias = 0.0f;
      std::memcpy(table.data() + dim, &s, 4);
      std::memcpy(table.data() + dim + 4, &big, 4);
      uint8_t* second = table.data() + row_bytes;
      second[3] = 205;
      second[dim - 9] = 205;
      std::memcpy(second + dim, &s, 4);
      std::memcpy(second + dim + 4, &zero_bias, 4);
      const uint8_t* rows[2] = {table.data(), second};
      const float weights[2] = {1.0f, 1.0f};
      std::vector<float> out(dim, 0.0f);
      kernel(dim, 2, 2, rows, weighted ? weights : nullptr, out.data());
      EmbeddingBagArgs args;
      args.table = {table.data(), table.size(), 2, row_bytes, 8};
      const int64_t indices[2] = {0, 1};
      const int64_t zero = 0;
      args.indices = {indices, 2, true};
      args.offsets = {&zero, 1, true};
      std::vector<float> expected(dim);
      EmbeddingBagRef(args, 1, expected.data());
      // The case must separate the roundings: the fp32 FMA of column 3 differs from the reference.
      if (!ctx.Check(BitsOfFloat(std::fma(s, 205.0f, big)) != BitsOfFloat(expected[3]),
                     name + ": the large-sum row does not separate the two roundings")) {
        return false;
      }
      for (size_t j = 0; j < dim; ++j) {
        if (BitsOfFloat(out[j]) != BitsOfFloat(expected[j])) {
          ctx.Fail(name + " large-sum row dim=" + std::to_string(dim) + (weighted ? " weighted" : "") + " element " +
                   std::to_string(j) + ": " + DescribeFloat(out[j]) + ", reference " + DescribeFloat(expected[j]));
          return false;
        }
      }
    }
  }
  return true;
}

// The 8-bit and 4-bit kernels share one signature; the slot says which format a kernel reads.
bool RegisterAll() {
#define QK_UKERNEL(slot, type, isa, function)                                                  \
  if (std::string(#slot) == "qu8_embedding_bag") RegisterBagKernelTests(#function, Isa::isa, &function, 8); \
  if (std::string(#slot) == "qu4_embedding_bag") RegisterBagKernelTests(#function, Isa::isa, &function, 4);
#include "ukernels/embedding/registry.inc"
#undef QK_UKERNEL
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace test
}  // namespace qk
