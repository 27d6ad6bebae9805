// Quantized mean and concatenation (ops/reduce.h): torch 1.13's three mean paths, its fp32 reduction order, and row concatenation.
#include "ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "base/checked.h"
#include "base/expected.h"
#include "ops/elementwise.h"
#include "ops/quantize.h"
#include "ukernels/dispatch.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qk {
namespace {

// torch 1.13's fp32 sum of `size` values (SumKernel.cpp's cascade_sum with 4 levels), for
// `width` neighbouring columns at once: column g's values are base[i * stride + g] for i < size.
// Blocks of 2^power values accumulate into level 0, each full block is carried up a level, and
// the carry stops at the first level whose block is not yet complete; every add is one fp32
// rounding, as in torch's single-threaded order. Every column sees the same adds in the same
// order (the carries depend only on i), so each sum has the bits it has alone (kWidth = 1); the
// loops over g are lane-wise fp32 adds, which the compiler turns into SIMD adds, and the rows
// are read in memory order rather than one strided column at a time.
template <size_t kWidth>
void CascadeSumColumns(const float* base, size_t stride, size_t size, float* out) {
  constexpr int kLevels = 4;
  int ceil_log2 = 0;
  while ((size_t{1} << ceil_log2) < size) ++ceil_log2;
  const int power = std::max(4, ceil_log2 / kLevels);
  const size_t step = size_t{1} << power;
  const size_t mask = step - 1;
  float acc[kLevels][kWidth] = {};
  size_t i = 0;
  while (i + step <= size) {
    for (size_t j = 0; j < step; ++j, ++i) {
      const float* row = base + i * stride;
      for (size_t g = 0; g < kWidth; ++g) acc[0][g] += row[g];
    }
    for (int j = 1; j < kLevels; ++j) {
      for (size_t g = 0; g < kWidth; ++g) {
        acc[j][g] += acc[j - 1][g];
        acc[j - 1][g] = 0;
      }
      if ((i & (mask << (j * power))) != 0) break;
    }
  }
  for (; i < size; ++i) {
    const float* row = base + i * stride;
    for (size_t g = 0; g < kWidth; ++g) acc[0][g] += row[g];
  }
  for (int j = 1; j < kLevels; ++j) {
    for (size_t g = 0; g < kWidth; ++g) acc[0][g] += acc[j][g];
  }
  for (size_t g = 0; g < kWidth; ++g) out[g] = acc[0][g];
}

// torch's fp32 sum of one channel of a channels-last input over its spatial positions
// (`column` holds them in order). Columns inside a whole block of channels (32 with 8 or more
// channels: vectorized_outer_sum's 4 vectors of 8 floats; else 4: scalar_outer_sum) take the
// multi-row cascade; the others row_sum: 4 interleaved cascades (value i into partial i % 4),
// the tail into partial 0, then the partials in order.
float ChannelSum(const float* column, size_t size, size_t channel, size_t channels) {
  const size_t block = channels >= 8 ? 32 : 4;
  if (channel < channels / block * block) {
    float sum = 0;
    CascadeSumColumns<1>(column, 1, size, &sum);
    return sum;
  }
  const size_t rows = size / 4;
  float partials[4];
  for (size_t k = 0; k < 4; ++k) CascadeSumColumns<1>(column + k, 4, rows, &partials[k]);
  for (size_t i = rows * 4; i < size; ++i) partials[0] += column[i];
  return ((partials[0] + partials[1]) + partials[2]) + partials[3];
}

// memcpy of one row of a concatenation. Channels-last rows are one pixel's channels (tens of
// bytes, thousands of rows), where a libc call per row cost more than the copy: those move in
// 16-byte pieces the compiler inlines, the last one overlapping the one before.
inline void CopyRow(uint8_t* y, const uint8_t* x, size_t n) {
  if (n >= 256 || n < 16) {
    std::memcpy(y, x, n);
    return;
  }
  size_t i = 0;
  for (; i + 16 <= n; i += 16) std::memcpy(y + i, x + i, 16);
  if (i < n) std::memcpy(y + n - 16, x + n - 16, 16);
}

// The input's dims with size-1 dims dropped and neighbours that share the reduced flag merged
// (input and output are both contiguous, so merged dims index the same bytes).
struct MergedDims {
  size_t rank = 0;
  int64_t size[kMaxReduceRank] = {};
  bool reduced[kMaxReduceRank] = {};
};

MergedDims MergeDims(const MeanParams& p) {
  MergedDims m;
  for (size_t d = 0; d < p.rank; ++d) {
    if (p.shape[d] == 1) continue;
    if (m.rank > 0 && m.reduced[m.rank - 1] == p.reduced[d]) {
      m.size[m.rank - 1] *= p.shape[d];
    } else {
      m.size[m.rank] = p.shape[d];
      m.reduced[m.rank] = p.reduced[d];
      ++m.rank;
    }
  }
  return m;
}

// The row sums' path (RunRows) takes rows of at most this many values: every sum of 8-bit values
// is then below 2^24 in magnitude, exact in fp32, as is the count.
constexpr size_t kMaxRowsPathCount = size_t{1} << 16;

inline uint64_t LoadWord(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// The byte pairs of a word added into 4 16-bit lanes (each at most 2 * 255).
inline uint64_t PairSums(uint64_t w) {
  constexpr uint64_t kLow = 0x00FF00FF00FF00FFull;
  return (w & kLow) + ((w >> 8) & kLow);
}

// The sum of 4 16-bit lanes.
inline uint32_t FoldLanes(uint64_t lanes) {
  constexpr uint64_t kLow = 0x0000FFFF0000FFFFull;
  lanes = (lanes & kLow) + ((lanes >> 16) & kLow);
  return static_cast<uint32_t>(lanes) + static_cast<uint32_t>(lanes >> 32);
}

// The sum of n bytes at p as unsigned values (flip = 0) or as signed ones biased by 128 (flip =
// 0x80 in every byte: x ^ 0x80 = x + 128 for int8). Rows of 8 to 16 bytes (an NCHW input over
// 3x3 or 4x4 spatial dims) add in the 4 16-bit lanes of 64-bit words: too short for vector
// loops, and the compiler's byte loop was most of the op.
inline uint32_t RowByteSum(const uint8_t* p, size_t n, uint64_t flip) {
  uint32_t total = 0;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n >= 8 && n <= 16) {
    // One or two words, the second the one that ends the row (its first 16 - n bytes, already
    // summed, shifted out): no loop for the short rows of small spatial sizes.
    uint64_t lanes = PairSums(LoadWord(p) ^ flip);
    if (n > 8) lanes += PairSums((LoadWord(p + n - 8) ^ flip) >> (8 * (16 - n)));
    return FoldLanes(lanes);
  }
#endif
  // Longer rows: the plain loop, which the compiler vectorizes (and the shortest ones).
  for (size_t i = 0; i < n; ++i) total += static_cast<uint32_t>(p[i] ^ static_cast<uint8_t>(flip));
  return total;
}

// y[r] = nearbyint(float(sum of row r) / count) over `rows` rows of `n` (<= kMaxRowsPathCount)
// contiguous values: RunIntegers' formula, with the division in fp32. That is the same number:
// float(double(s) / double(n)) rounds twice, but for fp32 operands a double quotient rounded to
// fp32 is the correctly rounded fp32 quotient (53 >= 2 * 24 + 2 bits, the double-rounding bound
// for division), and s and n are exact in fp32 here. No scratch: sums go through a stack block.
template <typename T>
void RunRows(const T* x, size_t rows, size_t n, T* y) {
  if (n == 1) {
    // Rows of one value (every averaged dim of size 1): the mean is the value itself.
    std::memcpy(y, x, rows * sizeof(T));
    return;
  }
  const uint64_t flip = std::is_signed<T>::value ? 0x8080808080808080ull : 0;
  const int32_t bias = std::is_signed<T>::value ? 128 * static_cast<int32_t>(n) : 0;
  const float count = static_cast<float>(n);
  constexpr float kRound = 12582912.0f;  // RunIntegers' rounding (means lie in [-128, 255])
  constexpr size_t kBlock = 256;
  float sums[kBlock];
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(x);
#if defined(__SSE2__)
  // Rows of 2 to 16 bytes (NCHW over 3x3 or 4x4 spatial dims): one 16-byte load per row, the
  // bytes past the row masked off and the rest summed by psadbw. Only rows whose load stays
  // inside the input (r * n + 16 <= rows * n) take it; the last few go through RowByteSum.
  const size_t vector_rows = n <= 16 && rows * n >= 16 ? (rows * n - 16) / n + 1 : 0;
  alignas(16) uint8_t mask_bytes[16];
  for (size_t i = 0; i < 16; ++i) mask_bytes[i] = i < n ? 0xFF : 0;
  const __m128i mask = _mm_load_si128(reinterpret_cast<const __m128i*>(mask_bytes));
  const __m128i flip_bytes = _mm_set1_epi8(static_cast<char>(flip & 0xFF));
#else
  const size_t vector_rows = 0;
#endif
  for (size_t r0 = 0; r0 < rows; r0 += kBlock) {
    const size_t m = std::min(kBlock, rows - r0);
    size_t r = 0;
#if defined(__SSE2__)
    const size_t vm = vector_rows > r0 ? std::min(m, vector_rows - r0) : 0;
    for (; r < vm; ++r) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + (r0 + r) * n));
      const __m128i sad = _mm_sad_epu8(_mm_and_si128(_mm_xor_si128(v, flip_bytes), mask), _mm_setzero_si128());
      const int32_t total = _mm_cvtsi128_si32(sad) + _mm_cvtsi128_si32(_mm_srli_si128(sad, 8));
      sums[r] = static_cast<float>(total - bias);
    }
#endif
    for (; r < m; ++r) {
      sums[r] = static_cast<float>(static_cast<int32_t>(RowByteSum(bytes + (r0 + r) * n, n, flip)) - bias);
    }
    // Lane-wise: the compiler makes this SIMD divisions.
    for (size_t r = 0; r < m; ++r) y[r0 + r] = static_cast<T>(static_cast<int32_t>((sums[r] / count + kRound) - kRound));
  }
}

template <typename T>
void SumIntegers(const T* x, const MeanParams& p, int64_t* sums) {
  // Merged dims, then one walk over the input in memory order.
  const MergedDims m = MergeDims(p);
  const size_t rank = m.rank;
  const int64_t* size = m.size;
  const bool* reduced = m.reduced;
  if (rank == 0) {
    sums[0] += x[0];
    return;
  }
  if (rank == 2 && !reduced[0] && reduced[1]) {
    // [rows][n] summed over n (a contiguous NCHW input over its spatial dims): one 32-bit sum
    // per row (n * 255 fits while n < 2^23), no odometer.
    const size_t rows = static_cast<size_t>(size[0]), n = static_cast<size_t>(size[1]);
    if (n < (size_t{1} << 23)) {
      for (size_t r = 0; r < rows; ++r, x += n) {
        int32_t s = 0;
        for (size_t i = 0; i < n; ++i) s += x[i];
        sums[r] += s;
      }
      return;
    }
  }
  int64_t out_stride[kMaxReduceRank];
  int64_t stride = 1;
  for (size_t d = rank; d-- > 0;) {
    out_stride[d] = reduced[d] ? 0 : stride;
    if (!reduced[d]) stride *= size[d];
  }
  const int64_t inner = size[rank - 1];
  int64_t index[kMaxReduceRank] = {};
  int64_t out = 0;
  size_t outer_count = 1;
  for (size_t d = 0; d + 1 < rank; ++d) outer_count *= static_cast<size_t>(size[d]);
  for (size_t o = 0; o < outer_count; ++o) {
    if (reduced[rank - 1]) {
      int64_t s = 0;
      for (int64_t i = 0; i < inner; ++i) s += x[i];
      sums[out] += s;
    } else {
      for (int64_t i = 0; i < inner; ++i) sums[out + i] += x[i];
    }
    x += inner;
    // Next outer index (odometer over dims 0..rank-2).
    for (size_t d = rank - 1; d-- > 0;) {
      out += out_stride[d];
      if (++index[d] < size[d]) break;
      out -= out_stride[d] * size[d];
      index[d] = 0;
    }
  }
}

template <typename T>
void RunIntegers(const T* x, const MeanParams& p, size_t out_numel, size_t count, int64_t* sums, T* y) {
  std::fill(sums, sums + out_numel, int64_t{0});
  SumIntegers(x, p, sums);
  // A mean of bytes lies in [-128, 255], where adding and subtracting 1.5 * 2^23 rounds a float
  // to an integer exactly as nearbyint does (in the current rounding mode, like nearbyint): the
  // loop has no libm call per output and vectorizes.
  constexpr float kRound = 12582912.0f;
  for (size_t i = 0; i < out_numel; ++i) {
    const float total = static_cast<float>(static_cast<double>(sums[i]));
    const float mean = static_cast<float>(static_cast<double>(total) / static_cast<double>(count));
    y[i] = static_cast<T>(static_cast<int32_t>((mean + kRound) - kRound));
  }
}

void RunQnnpackGlobal(const uint8_t* x, size_t planes, size_t count, double scale, int64_t zero_point, uint8_t* y) {
  const float s = static_cast<float>(scale);
  const float denominator = static_cast<float>(static_cast<double>(s) * static_cast<double>(count));
  const float multiplier = static_cast<float>(static_cast<double>(s) / static_cast<double>(denominator));
  for (size_t plane = 0; plane < planes; ++plane) {
    int64_t sum = 0;
    const uint8_t* row = x + plane * count;
    for (size_t i = 0; i < count; ++i) sum += row[i];
    const float centered = static_cast<float>(static_cast<double>(sum) - static_cast<double>(count) * static_cast<double>(zero_point));
    const float t = static_cast<float>(static_cast<double>(centered) * static_cast<double>(multiplier));
    const double q = std::nearbyint(static_cast<double>(t)) + static_cast<double>(zero_point);
    y[plane] = static_cast<uint8_t>(std::min(255.0, std::max(0.0, q)));
  }
}

}  // namespace

Status MeanOp::Prepare(const MeanParams& params, std::shared_ptr<const MeanOp>* out) {
  if (params.dtype != QDType::kQUInt8 && params.dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "dtype", QDTypeName(params.dtype)));
  }
  if (params.rank > kMaxReduceRank) {
    return Status::RangeError(Expected("at most " + std::to_string(kMaxReduceRank) + " dims", "shape", std::to_string(params.rank) + " dims"));
  }
  auto op = std::shared_ptr<MeanOp>(new MeanOp());
  op->p_ = params;
  size_t numel = 1, out_numel = 1, count = 1;
  for (size_t d = 0; d < params.rank; ++d) {
    if (params.shape[d] < 0) return Status::RangeError(Expected("non-negative sizes", "shape", std::to_string(params.shape[d])));
    const size_t size = static_cast<size_t>(params.shape[d]);
    if (!CheckedMul(numel, size, &numel)) return Status::RangeError(Expected("a size whose product fits size_t", "shape", "larger"));
    if (params.reduced[d]) count *= size;  // <= numel: no overflow
    else out_numel *= size;
  }
  if (numel == 0 || count == 0) {
    return Status::RangeError(Expected("a non-empty input and non-empty reduced dims", "shape", std::to_string(numel) + " elements"));
  }
  QK_RETURN_IF_ERROR(CheckScale(params.scale, ScaleRule::kPositiveFiniteInFloat32, "positive number finite in float32", "scale",
                                [&] { return std::to_string(params.scale); }));
  const QRange range = QDTypeRange(params.dtype);
  QK_RETURN_IF_ERROR(CheckZeroPoint(params.zero_point, range.qmin, range.qmax, "zeroPoint"));
  const bool spatial4 = params.rank == 4 && !params.reduced[0] && !params.reduced[1] && params.reduced[2] && params.reduced[3];
  const bool spatial5 = params.rank == 5 && !params.reduced[0] && !params.reduced[1] && params.reduced[2] && params.reduced[3] &&
                        params.reduced[4];
  switch (params.mode) {
    case MeanMode::kQnnpackGlobal:
      if (params.dtype != QDType::kQUInt8 || !spatial4) {
        return Status::RangeError(Expected("a quint8 4-D input reduced over dims (2, 3)", "mode", "qnnpack global average"));
      }
      break;
    case MeanMode::kChannelsLastFloat:
      if (!spatial4 && !spatial5) {
        return Status::RangeError(Expected("a 4-D or 5-D input reduced over its spatial dims", "mode", "channels-last float"));
      }
      break;
    case MeanMode::kIntegers:
      break;
    default:
      return Status::RangeError(Expected("0, 1 or 2", "mode", std::to_string(static_cast<int>(params.mode))));
  }
  op->numel_ = numel;
  op->out_numel_ = out_numel;
  op->count_ = count;
  op->batch_ = params.rank >= 2 ? static_cast<size_t>(params.shape[0]) : 1;
  op->channels_ = params.rank >= 2 ? static_cast<size_t>(params.shape[1]) : 1;
  size_t scratch = 0;
  if (params.mode == MeanMode::kIntegers) {
    // Rows of the merged shape averaged whole (NCHW over its spatial dims, or everything): RunRows.
    const MergedDims m = MergeDims(params);
    if (m.rank <= 1 || (m.rank == 2 && !m.reduced[0] && m.reduced[1])) {
      const size_t n = m.rank == 0 || !m.reduced[m.rank - 1] ? 1 : static_cast<size_t>(m.size[m.rank - 1]);
      if (n <= kMaxRowsPathCount) {
        op->rows_path_ = true;
        op->row_count_ = n;
        op->rows_ = out_numel;
      }
    }
  }
  if (params.mode == MeanMode::kIntegers && !op->rows_path_) {
    if (!CheckedMul(out_numel, sizeof(int64_t), &scratch)) return Status::RangeError("qkernels: mean scratch does not fit size_t");
  } else if (params.mode == MeanMode::kChannelsLastFloat) {
    size_t floats = 0;
    if (!CheckedAdd(numel, count, &floats) || !CheckedAdd(floats, out_numel, &floats) || !CheckedMul(floats, sizeof(float), &scratch)) {
      return Status::RangeError("qkernels: mean scratch does not fit size_t");
    }
  }
  op->scratch_bytes_ = scratch;
  *out = std::move(op);
  return Status::Ok();
}

Status MeanOp::Run(const void* const* inputs, void* output, void* scratch) const {
  const bool is_signed = p_.dtype == QDType::kQInt8;
  switch (p_.mode) {
    case MeanMode::kQnnpackGlobal:
      RunQnnpackGlobal(static_cast<const uint8_t*>(inputs[0]), batch_ * channels_, count_, p_.scale, p_.zero_point,
                       static_cast<uint8_t*>(output));
      return Status::Ok();
    case MeanMode::kIntegers:
      if (rows_path_) {
        if (is_signed) {
          RunRows(static_cast<const int8_t*>(inputs[0]), rows_, row_count_, static_cast<int8_t*>(output));
        } else {
          RunRows(static_cast<const uint8_t*>(inputs[0]), rows_, row_count_, static_cast<uint8_t*>(output));
        }
        return Status::Ok();
      }
      if (is_signed) {
        RunIntegers(static_cast<const int8_t*>(inputs[0]), p_, out_numel_, count_, static_cast<int64_t*>(scratch),
                    static_cast<int8_t*>(output));
      } else {
        RunIntegers(static_cast<const uint8_t*>(inputs[0]), p_, out_numel_, count_, static_cast<int64_t*>(scratch),
                    static_cast<uint8_t*>(output));
      }
      return Status::Ok();
    case MeanMode::kChannelsLastFloat: {
      // The input is [batch][spatial][channels] in memory; torch dequantizes it, sums each
      // channel's column in its reduction order, divides, and quantizes with the same qparams.
      float* values = static_cast<float*>(scratch);
      float* column = values + numel_;
      float* means = column + count_;
      QK_RETURN_IF_ERROR(DequantizePerTensor(inputs[0], numel_, p_.dtype, numel_, p_.scale, p_.zero_point, values, numel_));
      // Channels inside whole blocks (ChannelSum's first case) 16 at a time, in one pass over the rows.
      const size_t block = channels_ >= 8 ? 32 : 4;
      const size_t blocked = channels_ / block * block;
      constexpr size_t kWidth = 16;
      for (size_t b = 0; b < batch_; ++b) {
        size_t c = 0;
        for (; c + kWidth <= blocked; c += kWidth) {
          float* sums = means + b * channels_ + c;
          CascadeSumColumns<kWidth>(values + b * count_ * channels_ + c, channels_, count_, sums);
          for (size_t g = 0; g < kWidth; ++g) sums[g] = static_cast<float>(static_cast<double>(sums[g]) / static_cast<double>(count_));
        }
        for (; c < channels_; ++c) {
          const float* base = values + b * count_ * channels_ + c;
          for (size_t i = 0; i < count_; ++i) column[i] = base[i * channels_];
          const float sum = ChannelSum(column, count_, c, channels_);
          means[b * channels_ + c] = static_cast<float>(static_cast<double>(sum) / static_cast<double>(count_));
        }
      }
      return QuantizePerTensor(means, out_numel_, p_.scale, p_.zero_point, p_.dtype, output, out_numel_);
    }
  }
  return Status::Error("qkernels: mean: unknown mode");
}

Status ConcatOp::Prepare(const ConcatParams& params, std::shared_ptr<const ConcatOp>* out) {
  if (params.count == 0 || params.count > kMaxConcatInputs) {
    return Status::RangeError(Expected("1 to " + std::to_string(kMaxConcatInputs) + " tensors", "tensors",
                                       std::to_string(params.count) + " tensors"));
  }
  // The parameter name of input k, made only for an error message.
  const auto name = [](size_t k) { return "tensors[" + std::to_string(k) + "]"; };
  auto op = std::shared_ptr<ConcatOp>(new ConcatOp());
  op->rows_ = params.rows;
  op->count_ = params.count;
  size_t row = 0;
  for (size_t k = 0; k < params.count; ++k) {
    if (!CheckedMul(params.rows, params.row_bytes[k], &op->input_bytes_[k]) || !CheckedAdd(row, params.row_bytes[k], &row)) {
      return Status::RangeError(Expected("sizes whose product fits size_t", name(k), "larger"));
    }
    if (params.vector_bytes[k] > params.row_bytes[k]) {
      return Status::RangeError(Expected("a vector length of at most its row length " + std::to_string(params.row_bytes[k]),
                                         "vectorLengths", std::to_string(params.vector_bytes[k])));
    }
    if (params.requantize[k].op != LookupOp::kRequantize || params.requantize[k].dtype != params.requantize[0].dtype) {
      return Status::RangeError(Expected("a requantization of the first tensor's dtype", name(k), "another lookup"));
    }
    op->row_bytes_[k] = params.row_bytes[k];
    op->vector_bytes_[k] = params.vector_bytes[k];
    QK_RETURN_IF_ERROR(SharedLookupTables(params.requantize[k], &op->tables_[k]));
  }
  if (!CheckedMul(params.rows, row, &op->output_bytes_)) {
    return Status::RangeError(Expected("an output whose size fits size_t", "tensors", "larger"));
  }
  *out = std::move(op);
  return Status::Ok();
}

Status ConcatOp::Run(const void* const* inputs, void* output, void*) const {
  LookupX8Fn* lut = Dispatch().x8_lut;  // read once: a concurrent SetMaxIsa never splits one call
  uint8_t* y = static_cast<uint8_t*>(output);
  for (size_t r = 0; r < rows_; ++r) {
    for (size_t k = 0; k < count_; ++k) {
      const size_t n = row_bytes_[k];
      const uint8_t* x = static_cast<const uint8_t*>(inputs[k]) + r * n;
      if (n == 0) continue;
      const LookupTables& tables = *tables_[k];
      if (tables.identity) {
        CopyRow(y, x, n);
      } else if (tables.one_table) {
        lut(n, x, tables.table[0], y);
      } else {
        const size_t v = vector_bytes_[k];
        if (v > 0) lut(v, x, tables.table[1], y);
        if (n > v) lut(n - v, x + v, tables.table[0], y + v);
      }
      y += n;
    }
  }
  return Status::Ok();
}

}  // namespace qk
