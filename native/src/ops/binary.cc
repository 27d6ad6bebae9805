// 1-bit convolution: packing of activations and weights, the implicit GEMM over XNOR-popcount tiles, the pad correction.
#include "ops/binary.h"

#include <cmath>
#include <cstring>
#include <string>

#include "base/checked.h"
#include "base/cpu.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "ops/qgemm.h"
#include "ukernels/dispatch.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// Output positions one task computes: a multiple of the tile's rows.
constexpr size_t kPositionsPerTask = 64;

inline bool IsMinusOne(float x, BinaryRule rule) { return rule == BinaryRule::kSign ? x < 0.0f : !(x > 0.0f); }

// The word of a group whose valid bits (channels below group_in) are all set: a group of -1 values.
inline uint64_t FullWord(size_t word, size_t group_in) {
  const size_t bits = group_in - word * 64;
  return bits >= 64 ? ~uint64_t{0} : ((uint64_t{1} << bits) - 1);
}

// Copies n words of a tap row (4 to a few dozen): inlined 32-byte moves, where a memcpy call
// per tap row cost more than the copy itself (three calls per output position of a 3x3 conv).
inline void CopyWords(uint64_t* dst, const uint64_t* src, size_t n) {
  size_t k = 0;
  for (; k + 4 <= n; k += 4) std::memcpy(dst + k, src + k, 4 * sizeof(uint64_t));
  for (; k < n; ++k) dst[k] = src[k];
}

// Where torch's tap t (row-major over the kernel, x fastest) sits in the K order of the packed
// words: x outermost, then z and y, then the channel words. For a 1-D kernel that is torch's
// order; for 2-D and 3-D it makes the words of one output position, over an input line's
// entries that each hold every (z, y) tap of one x (BinaryConv's line windows), one run.
inline size_t KOrderTap(const size_t k3[3], size_t t) {
  const size_t kx = t % k3[2], zy = t / k3[2];
  return kx * (k3[0] * k3[1]) + zy;
}

// Spatial sizes padded to 3 dims (leading 1s) so one loop nest serves 1-D, 2-D and 3-D.
struct Dims3 {
  size_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0};
};

Dims3 MakeDims3(const ConvGeometry& g, const size_t in_spatial[3], const size_t out_spatial[3]) {
  Dims3 r;
  for (int d = 0; d < g.dims; ++d) {
    const int e = 3 - g.dims + d;
    r.in[e] = in_spatial[d];
    r.out[e] = out_spatial[d];
    r.k[e] = g.kernel[d];
    r.s[e] = g.stride[d];
    r.d[e] = g.dilation[d];
    r.p[e] = g.pad_before[d];
  }
  return r;
}

}  // namespace

void BinaryPackActivations(const float* x, size_t batch, size_t channels, size_t positions, size_t groups,
                           BinaryRule rule, uint64_t* out) {
  const size_t group_in = channels / groups, gw = BinaryGroupWords(channels, groups);
  const size_t row_words = groups * gw;
  BinaryPackFn* pack = Dispatch().binary_pack;
  const uint32_t pack_rule = rule == BinaryRule::kSign ? kPackSign : kPackHeaviside;
  // Per image, group and word of 64 channels: the kernel reads each channel's plane in order
  // and writes that word of every position.
  for (size_t n = 0; n < batch; ++n) {
    const float* image = x + n * channels * positions;
    uint64_t* words = out + n * positions * row_words;
    for (size_t g = 0; g < groups; ++g) {
      for (size_t k = 0; k < gw; ++k) {
        const size_t c0 = g * group_in + k * 64;
        const size_t width = group_in - k * 64 < 64 ? group_in - k * 64 : 64;
        pack(width, positions, image + c0 * positions, positions, pack_rule, words + g * gw + k, row_words);
      }
    }
  }
}

void BinaryUnpackActivations(const uint64_t* bits, size_t batch, size_t channels, size_t positions, size_t groups,
                             float* out) {
  const size_t group_in = channels / groups, gw = BinaryGroupWords(channels, groups);
  const size_t row_words = groups * gw;
  for (size_t n = 0; n < batch; ++n) {
    for (size_t c = 0; c < channels; ++c) {
      const size_t g = c / group_in, cl = c % group_in;
      const uint64_t* words = bits + n * positions * row_words + g * gw + cl / 64;
      float* plane = out + (n * channels + c) * positions;
      for (size_t p = 0; p < positions; ++p) plane[p] = ((words[p * row_words] >> (cl % 64)) & 1) ? -1.0f : 1.0f;
    }
  }
}

// What both weight packers accept: a plain (zero-padded, not transposed) valid geometry and
// exactly its weight count.
static Status CheckPlainConvWeights(const ConvGeometry& g, size_t w_len) {
  if (g.transposed || g.padding_mode != ConvPaddingMode::kZeros) {
    return Status::RangeError("Expected a plain convolution (constant padding, not transposed) for geometry");
  }
  QK_RETURN_IF_ERROR(CheckConvGeometry(g));
  size_t count = 0;
  if (!ConvWeightCount(g, &count) || count != w_len) {
    return Status::RangeError(Expected(std::to_string(count) + " weight values", "weight", std::to_string(w_len)));
  }
  return Status::Ok();
}

Status CreateBinaryConvWeights(const ConvGeometry& g, const float* w, size_t w_len, float pad_value,
                               const float* bias, std::shared_ptr<const BinaryConvWeights>* out) {
  QK_RETURN_IF_ERROR(CheckPlainConvWeights(g, w_len));
  if (!std::isfinite(pad_value)) {
    return Status::RangeError(Expected("a finite number", "padValue", std::to_string(pad_value)));
  }
  auto bw = std::make_shared<BinaryConvWeights>();
  bw->geometry = g;
  bw->pad_value = pad_value;
  bw->taps = 1;
  for (int d = 0; d < g.dims; ++d) bw->taps *= g.kernel[d];
  bw->group_in = g.in_channels / g.groups;
  bw->group_out = g.out_channels / g.groups;
  bw->group_words = BinaryGroupWords(g.in_channels, g.groups);
  bw->kw = bw->taps * bw->group_words;
  bw->k_bits = bw->taps * bw->group_in;
  if (bw->kw > kXnorMaxWords) {
    return Status::RangeError(Expected("at most " + std::to_string(kXnorMaxWords * 64) + " bits per dot product",
                                       "kernelSize * inChannels / groups", std::to_string(bw->k_bits)));
  }
  size_t k3[3] = {1, 1, 1};
  for (int d = 0; d < g.dims; ++d) k3[3 - g.dims + d] = g.kernel[d];
  const size_t blocks = (bw->group_out + kXnorNR - 1) / kXnorNR;
  bw->packed.assign(g.groups * blocks * bw->kw * kXnorNR, 0);
  bw->tap_sums.assign(g.out_channels * bw->taps, 0);
  bw->rows.assign(g.out_channels * bw->kw, 0);
  for (size_t o = 0; o < g.out_channels; ++o) {
    const size_t grp = o / bw->group_out, ol = o % bw->group_out;
    uint64_t* block = bw->packed.data() + (grp * blocks + ol / kXnorNR) * bw->kw * kXnorNR;
    for (size_t c = 0; c < bw->group_in; ++c) {
      for (size_t t = 0; t < bw->taps; ++t) {
        const size_t index = (o * bw->group_in + c) * bw->taps + t;
        const float v = w[index];
        if (v != 1.0f && v != -1.0f) {
          return Status::RangeError(
              Expected("+1 or -1 (a binarized weight)", "weight[" + std::to_string(index) + "]", std::to_string(v)));
        }
        bw->tap_sums[o * bw->taps + t] += v < 0 ? -1 : 1;
        // K order: tap (KOrderTap), then the group's channel words (the im2col rows' order).
        if (v < 0) {
          const size_t k = KOrderTap(k3, t) * bw->group_words + c / 64;
          block[k * kXnorNR + ol % kXnorNR] |= uint64_t{1} << (c % 64);
          bw->rows[o * bw->kw + k] |= uint64_t{1} << (c % 64);
        }
      }
    }
  }
  if (bias != nullptr) bw->bias.assign(bias, bias + g.out_channels);
  *out = std::move(bw);
  return Status::Ok();
}

XnorGemmFn* SelectXnorGemm(const DispatchTable& table) {
  return GetCpuFeatures().avx512vpopcntdq ? table.xnor_gemm_vpopcnt : table.xnor_gemm;
}

XnorSignFn* SelectXnorSign(const DispatchTable& table) {
  return GetCpuFeatures().avx512vpopcntdq ? table.xnor_sign_vpopcnt : table.xnor_sign;
}

Status BinaryConv(const BinaryConvWeights& w, const uint64_t* x_bits, size_t batch, const size_t in_spatial[3],
                  const BinaryConvOutput& out) {
  const ConvGeometry& g = w.geometry;
  size_t out_spatial[3];
  QK_RETURN_IF_ERROR(ConvOutputSize(g, in_spatial, out_spatial));
  const size_t in_positions = in_spatial[0] * (g.dims > 1 ? in_spatial[1] : 1) * (g.dims > 2 ? in_spatial[2] : 1);
  const size_t out_positions = out_spatial[0] * out_spatial[1] * out_spatial[2];
  if (out.bits != nullptr && (out.groups == 0 || g.out_channels % out.groups != 0)) {
    return Status::RangeError(Expected("a divisor of " + std::to_string(g.out_channels), "the next layer's groups",
                                       std::to_string(out.groups)));
  }
  const Dims3 dims3 = MakeDims3(g, in_spatial, out_spatial);
  const size_t *in3 = dims3.in, *out3 = dims3.out, *k3 = dims3.k, *s3 = dims3.s, *d3 = dims3.d, *p3 = dims3.p;
  XnorGemmFn* gemm = SelectXnorGemm(Dispatch());
  XnorSignFn* sign = SelectXnorSign(Dispatch());
  const size_t in_row = g.groups * w.group_words;  // words per input position
  const size_t blocks = (w.group_out + kXnorNR - 1) / kXnorNR;
  const size_t next_gw = out.bits ? BinaryGroupWords(g.out_channels, out.groups) : 0;
  const size_t next_row = out.bits ? out.groups * next_gw : 0;
  const size_t next_group_in = out.bits ? g.out_channels / out.groups : 1;
  const bool corrected = w.pad_value != -1.0f;
  const int32_t k_bits = static_cast<int32_t>(w.k_bits);
  // Bits out straight from the tiles (XnorSignFn): when an output is just the sign of the
  // integer D = K - 2 * count (no bias; a row with pads and a pad value other than -1 is
  // corrected first, below), and this layer's group of channels is whole bytes of one group of
  // the next layer. The bit is count > threshold:
  //   kSign (-1 when D < 0):      2 * count > K   <=>  count > K / 2
  //   kHeaviside (-1 when D <= 0): 2 * count >= K  <=>  count > (K + 1) / 2 - 1
  // The kernel writes bytes: byte b of a word holds its bits 8b..8b+7 on little-endian hosts only.
  const bool little_endian = [] {
    const uint64_t one = 1;
    uint8_t first = 0;
    std::memcpy(&first, &one, 1);
    return first == 1;
  }();
  const bool sign_tiles = little_endian && out.bits != nullptr && w.bias.empty() && w.group_out % 8 == 0 &&
                          next_group_in % w.group_out == 0;
  const int32_t threshold = out.rule == BinaryRule::kSign ? k_bits / 2 : (k_bits + 1) / 2 - 1;
  // The rows of a 1-D layer (one group, dilation 1) whose taps are all inside the input are
  // already contiguous words in the packed input, in K order: the tiles read them in place
  // (row r + 1 starts stride positions after row r), only the edge rows are copied.
  const bool direct_rows = g.groups == 1 && out3[0] == 1 && out3[1] == 1 && k3[0] == 1 && k3[1] == 1 && d3[2] == 1;
  // Line windows (2-D and 3-D, x dilation 1, pads of -1, so no row needs its padded taps):
  // instead of im2col, each output line (fixed z, y) of a task gets a buffer of entries, entry e
  // holding every (z, y) tap's words at input x = x0 + e. Output x's K words (KOrderTap's
  // order) are then the run of kx entries from x * sx, read in place, and the rows of a tile
  // on one line are sx entries apart. Each input word is copied kz * ky times instead of
  // kz * ky * kx times, and pads are written per entry rather than tested per tap and row.
  const bool line_windows = g.dims > 1 && d3[2] == 1 && !corrected;
  const size_t entry_words = k3[0] * k3[1] * w.group_words;
  const size_t tasks_per_image = (out_positions + kPositionsPerTask - 1) / kPositionsPerTask;
  // Where output channel o's bit goes in a position's words of the next layer (no division per element).
  std::vector<uint32_t> next_word(out.bits ? g.out_channels : 0);
  std::vector<uint64_t> next_mask(out.bits ? g.out_channels : 0);
  for (size_t o = 0; o < next_word.size(); ++o) {
    const size_t ng = o / next_group_in, nc = o % next_group_in;
    next_word[o] = static_cast<uint32_t>(ng * next_gw + nc / 64);
    next_mask[o] = uint64_t{1} << (nc % 64);
  }

  ParallelFor(batch * tasks_per_image, [&](size_t task) {
    const size_t n = task / tasks_per_image;
    const size_t p0 = (task % tasks_per_image) * kPositionsPerTask;
    const size_t rows = out_positions - p0 < kPositionsPerTask ? out_positions - p0 : kPositionsPerTask;
    // Scratch that is never read before it is written is left uninitialized: zeroing the
    // patches and the counts (82 KB a task on a 256-channel 3x3 layer) cost about 3% of a call.
    // The counts serve only tiles that are not sign tiles (or float output), so most bits-out
    // calls never allocate them.
    const std::unique_ptr<uint64_t[]> patches(new uint64_t[rows * w.kw]);
    // Line windows: lines of count rows take (count - 1) * sx + kx entries each.
    const size_t lines = line_windows ? (rows + out3[2] - 1) / out3[2] + 1 : 0;
    const std::unique_ptr<uint64_t[]> windows(
        line_windows ? new uint64_t[(rows * s3[2] + lines * k3[2]) * entry_words] : nullptr);
    const uint64_t* line_row[kPositionsPerTask];  // line windows: where row r's K words start
    const bool all_sign_tiles = sign_tiles && !corrected;
    const std::unique_ptr<int32_t[]> counts(all_sign_tiles ? nullptr : new int32_t[rows * w.group_out]);
    std::vector<uint32_t> padded(corrected ? rows * w.taps : 0);  // per row: its padded taps
    std::vector<uint32_t> padded_count(rows, 0);
    constexpr size_t max_tiles = (kPositionsPerTask + kXnorMR - 1) / kXnorMR;
    const uint64_t* tile_a[max_tiles];
    size_t tile_lda[max_tiles];
    bool tile_sign[max_tiles];
    std::vector<float> values(all_sign_tiles ? 0 : w.group_out);
    std::vector<uint64_t> lanes(out.floats ? (rows + kXnorNR - 1) / kXnorNR * kXnorNR * w.kw : 0);  // transposed tiles' positions
    const uint64_t* image = x_bits + n * in_positions * in_row;
    // Bits are ORed into zeroed words, except where the sign tiles write every byte: no
    // correction (so every tile is one) and next groups of whole words (no padding bits).
    if (out.bits && !(sign_tiles && !corrected && next_group_in % 64 == 0)) {
      std::memset(out.bits + (n * out_positions + p0) * next_row, 0, rows * next_row * sizeof(uint64_t));
    }
    // Whether row r's window lies inside the input (direct_rows only): its first input position.
    auto direct_start = [&](size_t r, int64_t* start) {
      const int64_t first = static_cast<int64_t>((p0 + r) * s3[2]) - static_cast<int64_t>(p3[2]);
      *start = first;
      return direct_rows && first >= 0 && first + static_cast<int64_t>(k3[2]) <= static_cast<int64_t>(in3[2]);
    };
    // Row r's K words when they are not copied into the patches: in the input (direct rows) or
    // in a line's windows; nullptr for a row of the patches.
    auto in_place = [&](size_t r) -> const uint64_t* {
      if (line_windows) return line_row[r];
      int64_t start = 0;
      return direct_start(r, &start) ? image + static_cast<size_t>(start) * in_row : nullptr;
    };
    const size_t in_place_stride = s3[2] * (line_windows ? entry_words : in_row);
    auto build_line_windows = [&](size_t grp) {
      uint64_t* buffer = windows.get();
      for (size_t r = 0; r < rows;) {
        const size_t line = (p0 + r) / out3[2], ox = (p0 + r) % out3[2];
        const size_t count = out3[2] - ox < rows - r ? out3[2] - ox : rows - r;
        const size_t entries = (count - 1) * s3[2] + k3[2];
        const size_t oz = line / out3[1], oy = line % out3[1];
        const int64_t x0 = static_cast<int64_t>(ox * s3[2]) - static_cast<int64_t>(p3[2]);
        // Entries whose x lies inside the input: [e_lo, e_hi); the others are pads in every tap.
        const int64_t width = static_cast<int64_t>(in3[2]), n_entries = static_cast<int64_t>(entries);
        const size_t e_lo = static_cast<size_t>(x0 >= 0 ? 0 : (-x0 < n_entries ? -x0 : n_entries));
        const size_t e_hi = static_cast<size_t>(x0 >= width ? static_cast<int64_t>(e_lo)
                                                : (width - x0 < n_entries ? width - x0 : n_entries));
        // Per (z, y) tap, the run of entries: one bounds test per tap and line instead of per entry.
        size_t slot = 0;  // the tap's words within an entry
        for (size_t kz = 0; kz < k3[0]; ++kz) {
          const int64_t iz = static_cast<int64_t>(oz * s3[0] + kz * d3[0]) - static_cast<int64_t>(p3[0]);
          for (size_t ky = 0; ky < k3[1]; ++ky, slot += w.group_words) {
            const int64_t iy = static_cast<int64_t>(oy * s3[1] + ky * d3[1]) - static_cast<int64_t>(p3[1]);
            const bool row_inside = iz >= 0 && iy >= 0 && iz < static_cast<int64_t>(in3[0]) && iy < static_cast<int64_t>(in3[1]);
            const size_t lo = row_inside ? e_lo : entries, hi = row_inside ? e_hi : entries;
            uint64_t* words = buffer + slot;
            for (size_t e = 0; e < lo; ++e)  // pads: -1
              for (size_t k = 0; k < w.group_words; ++k) words[e * entry_words + k] = FullWord(k, w.group_in);
            if (lo < hi) {
              const size_t q = (static_cast<size_t>(iz) * in3[1] + static_cast<size_t>(iy)) * in3[2] +
                               static_cast<size_t>(x0 + static_cast<int64_t>(lo));
              const uint64_t* src = image + q * in_row + grp * w.group_words;
              for (size_t e = lo; e < hi; ++e, src += in_row) CopyWords(words + e * entry_words, src, w.group_words);
            }
            for (size_t e = hi > lo ? hi : lo; e < entries; ++e)
              for (size_t k = 0; k < w.group_words; ++k) words[e * entry_words + k] = FullWord(k, w.group_in);
          }
        }
        for (size_t i = 0; i < count; ++i) line_row[r + i] = buffer + i * in_place_stride;
        buffer += entries * entry_words;
        r += count;
      }
    };
    for (size_t grp = 0; grp < g.groups; ++grp) {
      if (line_windows) build_line_windows(grp);
      // Otherwise im2col of the block: row r = the taps' words of output position p0 + r, in K order.
      // The output coordinates advance with r (no divisions per row).
      size_t oz = p0 / (out3[1] * out3[2]), oy = (p0 / out3[2]) % out3[1], ox = p0 % out3[2];
      auto next_position = [&] {
        if (++ox < out3[2]) return;
        ox = 0;
        if (++oy < out3[1]) return;
        oy = 0;
        ++oz;
      };
      for (size_t r = 0; r < rows && !line_windows; ++r, next_position()) {
        int64_t start = 0;
        if (direct_start(r, &start)) continue;  // read in place below (no pads either)
        uint64_t* dst = patches.get() + r * w.kw;
        size_t t = 0, npad = 0;
        for (size_t kz = 0; kz < k3[0]; ++kz) {
          const int64_t iz = static_cast<int64_t>(oz * s3[0] + kz * d3[0]) - static_cast<int64_t>(p3[0]);
          for (size_t ky = 0; ky < k3[1]; ++ky) {
            const int64_t iy = static_cast<int64_t>(oy * s3[1] + ky * d3[1]) - static_cast<int64_t>(p3[1]);
            const int64_t ix0 = static_cast<int64_t>(ox * s3[2]) - static_cast<int64_t>(p3[2]);
            if (g.groups == 1 && d3[2] == 1 && k3[0] * k3[1] == 1 && iz >= 0 && iy >= 0 && ix0 >= 0 && iz < static_cast<int64_t>(in3[0]) &&
                iy < static_cast<int64_t>(in3[1]) && ix0 + static_cast<int64_t>(k3[2]) <= static_cast<int64_t>(in3[2])) {
              // A 1-D row of taps inside the input, one group: its words are contiguous there
              // and in K order.
              const size_t q = (static_cast<size_t>(iz) * in3[1] + static_cast<size_t>(iy)) * in3[2] + static_cast<size_t>(ix0);
              CopyWords(dst + t * w.group_words, image + q * in_row, k3[2] * in_row);
              t += k3[2];
              continue;
            }
            for (size_t kx = 0; kx < k3[2]; ++kx, ++t) {
              const int64_t ix = static_cast<int64_t>(ox * s3[2] + kx * d3[2]) - static_cast<int64_t>(p3[2]);
              uint64_t* words = dst + KOrderTap(k3, t) * w.group_words;
              if (iz < 0 || iy < 0 || ix < 0 || iz >= static_cast<int64_t>(in3[0]) ||
                  iy >= static_cast<int64_t>(in3[1]) || ix >= static_cast<int64_t>(in3[2])) {
                // A pad: -1 in every channel; the correction below replaces it by pad_value.
                for (size_t k = 0; k < w.group_words; ++k) words[k] = FullWord(k, w.group_in);
                if (corrected) padded[r * w.taps + npad] = static_cast<uint32_t>(t);
                ++npad;
              } else {
                const size_t q = (static_cast<size_t>(iz) * in3[1] + static_cast<size_t>(iy)) * in3[2] +
                                 static_cast<size_t>(ix);
                CopyWords(words, image + q * in_row + grp * w.group_words, w.group_words);
              }
            }
          }
        }
        padded_count[r] = static_cast<uint32_t>(npad);
      }
      const uint64_t* group_weights = w.packed.data() + grp * blocks * w.kw * kXnorNR;
      if (out.floats) {
        // Float output, [out][positions]: the tiles run transposed (rows = 4 output channels from
        // w.rows, the 8-lane blocks = 8 positions), so each channel's counts come out as a run of
        // positions that converts to floats with one contiguous loop.
        const size_t pblocks = (rows + kXnorNR - 1) / kXnorNR;
        for (size_t r = 0; r < pblocks * kXnorNR; ++r) {
          const uint64_t* src = r < rows ? in_place(r) : nullptr;
          if (r < rows && src == nullptr) src = patches.get() + r * w.kw;
          uint64_t* dst = lanes.data() + (r / kXnorNR) * w.kw * kXnorNR + r % kXnorNR;
          for (size_t k = 0; k < w.kw; ++k) dst[k * kXnorNR] = src ? src[k] : 0;  // lanes past rows: zeros, never stored
        }
        for (size_t ol = 0; ol < w.group_out; ol += kXnorMR) {
          const size_t mr = w.group_out - ol < kXnorMR ? w.group_out - ol : kXnorMR;
          gemm(mr, rows, w.kw, w.rows.data() + (grp * w.group_out + ol) * w.kw, w.kw, lanes.data(),
               counts.get() + ol * rows, rows);
        }
        for (size_t ol = 0; ol < w.group_out; ++ol) {
          const size_t o = grp * w.group_out + ol;
          const int32_t* run = counts.get() + ol * rows;
          float* y = out.floats + (n * g.out_channels + o) * out_positions + p0;
          if (w.bias.empty()) {
            for (size_t r = 0; r < rows; ++r) y[r] = static_cast<float>(k_bits - 2 * run[r]);
          } else {
            const float bias = w.bias[o];
            for (size_t r = 0; r < rows; ++r) y[r] = static_cast<float>(k_bits - 2 * run[r]) + bias;
          }
          if (!corrected) continue;
          for (size_t r = 0; r < rows; ++r) {  // the rows with pads: the same formula as finish_row
            if (padded_count[r] == 0) continue;
            int64_t pad_sum = 0;
            for (uint32_t i = 0; i < padded_count[r]; ++i) pad_sum += w.tap_sums[o * w.taps + padded[r * w.taps + i]];
            const int64_t dot = static_cast<int64_t>(k_bits) - 2 * static_cast<int64_t>(run[r]);
            float v = static_cast<float>(dot + pad_sum) + w.pad_value * static_cast<float>(pad_sum);
            if (!w.bias.empty()) v = v + w.bias[o];
            y[r] = v;
          }
        }
        continue;
      }
      // Bits out, epilogue of one row from its counts: dot products, pad correction, bias (in a
      // row buffer, so the common case is one vectorizable loop); then the next layer's bits
      // through the precomputed word/mask.
      auto finish_row = [&](size_t r) {
        const size_t p = p0 + r;
        const int32_t* row_counts = counts.get() + r * w.group_out;
        for (size_t ol = 0; ol < w.group_out; ++ol) values[ol] = static_cast<float>(k_bits - 2 * row_counts[ol]);
        if (corrected && padded_count[r] != 0) {
          for (size_t ol = 0; ol < w.group_out; ++ol) {
            const size_t o = grp * w.group_out + ol;
            int64_t pad_sum = 0;
            for (uint32_t i = 0; i < padded_count[r]; ++i) pad_sum += w.tap_sums[o * w.taps + padded[r * w.taps + i]];
            const int64_t dot = static_cast<int64_t>(k_bits) - 2 * static_cast<int64_t>(row_counts[ol]);
            values[ol] = static_cast<float>(dot + pad_sum) + w.pad_value * static_cast<float>(pad_sum);
          }
        }
        if (!w.bias.empty()) {
          const float* bias = w.bias.data() + grp * w.group_out;
          for (size_t ol = 0; ol < w.group_out; ++ol) values[ol] = values[ol] + bias[ol];
        }
        uint64_t* y = out.bits + (n * out_positions + p) * next_row;
        const uint32_t* word = next_word.data() + grp * w.group_out;
        const uint64_t* mask = next_mask.data() + grp * w.group_out;
        // Branch-free: the signs are data, a branch on them mispredicts half the time.
        const BinaryRule rule = out.rule;
        const size_t count = w.group_out;
        for (size_t ol = 0; ol < count; ++ol) {
          y[word[ol]] |= mask[ol] & (uint64_t{0} - static_cast<uint64_t>(IsMinusOne(values[ol], rule)));
        }
      };
      // Per tile: where its rows are, and whether it can end in the sign kernel.
      const size_t tiles = (rows + kXnorMR - 1) / kXnorMR;
      for (size_t tile = 0; tile < tiles; ++tile) {
        const size_t r = tile * kXnorMR, mr = rows - r < kXnorMR ? rows - r : kXnorMR;
        tile_a[tile] = patches.get() + r * w.kw;
        tile_lda[tile] = w.kw;
        const uint64_t* first = in_place(r);
        bool uniform = first != nullptr;  // every row in place, in_place_stride apart (one line of windows)
        for (size_t i = 1; i < mr && uniform; ++i) uniform = in_place(r + i) == first + i * in_place_stride;
        if (uniform) {
          tile_a[tile] = first;
          tile_lda[tile] = in_place_stride;
        } else {
          for (size_t i = 0; i < mr; ++i) {  // a tile mixing in-place rows with others or across lines: copy them
            if (const uint64_t* src = in_place(r + i)) std::memcpy(patches.get() + (r + i) * w.kw, src, w.kw * sizeof(uint64_t));
          }
        }
        bool plain = true;  // no row of the tile needs the pad correction
        for (size_t i = 0; i < mr && corrected; ++i) plain = plain && padded_count[r + i] == 0;
        tile_sign[tile] = sign_tiles && plain;
        if (!tile_sign[tile]) {
          gemm(mr, w.group_out, w.kw, tile_a[tile], tile_lda[tile], group_weights, counts.get() + r * w.group_out, w.group_out);
          for (size_t i = 0; i < mr; ++i) finish_row(r + i);
        }
      }
      if (!sign_tiles) continue;
      // The sign tiles, all in one kernel call (a call per tile cost more than its setup is
      // worth); the kernel takes a slice of channels across all the task's rows at a time, so the
      // slice's weights stay in L1 while the rows go by.
      const size_t o0 = grp * w.group_out;
      uint8_t* bytes0 = reinterpret_cast<uint8_t*>(out.bits + (n * out_positions + p0) * next_row) +
                        (o0 / next_group_in) * next_gw * 8 + (o0 % next_group_in) / 8;
      XnorSignTile sign_list[max_tiles];
      size_t sign_count = 0;
      for (size_t tile = 0; tile < tiles; ++tile) {
        if (!tile_sign[tile]) continue;
        const size_t r = tile * kXnorMR, mr = rows - r < kXnorMR ? rows - r : kXnorMR;
        sign_list[sign_count++] = XnorSignTile{tile_a[tile], tile_lda[tile], mr, bytes0 + r * next_row * 8};
      }
      sign(sign_count, sign_list, w.group_out, w.kw, group_weights, threshold, next_row * 8);
    }
  });
  return Status::Ok();
}

Status CreateLowBitConvWeights(const ConvGeometry& g, const int8_t* w, size_t w_len, float w_scale, float a_scale,
                               int32_t a_zero_point, uint8_t pad_level, const float* bias,
                               std::shared_ptr<const LowBitConvWeights>* out) {
  QK_RETURN_IF_ERROR(CheckPlainConvWeights(g, w_len));
  if (!(w_scale > 0) || !std::isfinite(w_scale) || !(a_scale > 0) || !std::isfinite(a_scale)) {
    return Status::RangeError("Expected positive finite scales for the weight and input levels");
  }
  if (a_zero_point < 0 || a_zero_point > 255) {
    return Status::RangeError("Expected an input zero point in [0, 255] but received " + std::to_string(a_zero_point));
  }
  auto lw = std::make_shared<LowBitConvWeights>();
  lw->geometry = g;
  lw->taps = 1;
  for (int d = 0; d < g.dims; ++d) lw->taps *= g.kernel[d];
  lw->group_in = g.in_channels / g.groups;
  lw->group_out = g.out_channels / g.groups;
  const size_t k = lw->group_in * lw->taps;
  std::vector<int32_t> zero_points(lw->group_out, 0);
  for (size_t grp = 0; grp < g.groups; ++grp) {
    GemmWeightsDesc desc;
    desc.n = lw->group_out;
    desc.k = k;
    desc.w = w + grp * lw->group_out * k;  // torch's rows [out][in / groups][taps] are the GEMM's rows
    desc.w_zero_points = zero_points.data();
    std::shared_ptr<GemmWeights> gemm;
    QK_RETURN_IF_ERROR(GemmWeights::Create(desc, &gemm));
    lw->gemms.push_back(std::move(gemm));
  }
  lw->w_scales.assign(g.out_channels, w_scale);
  if (bias != nullptr) lw->bias.assign(bias, bias + g.out_channels);
  lw->a_scale = a_scale;
  lw->a_zero_point = a_zero_point;
  lw->pad_level = pad_level;
  *out = std::move(lw);
  return Status::Ok();
}

Status CheckLowBitInput(LowBitInput input, int64_t bits, int64_t max_bits) {
  if (input != LowBitInput::kSign && input != LowBitInput::kHeaviside && input != LowBitInput::kDoReFa) {
    return Status::RangeError(Expected("input quantization code 0 (sign), 1 (heaviside) or 2 (inputdorefa)", "inputQuantization",
                                       std::to_string(static_cast<int>(input))));
  }
  if (input == LowBitInput::kDoReFa && (bits < 1 || bits > max_bits)) {
    return Status::RangeError(Expected("an integer in [1, " + std::to_string(max_bits) + "] (inputdorefa bits" +
                                           (max_bits <= 7 ? " on the int8 kernels)" : ")"),
                                       "bits", std::to_string(bits)));
  }
  return Status::Ok();
}

void QuantizeActivations(const float* x, size_t count, LowBitInput input, int bits, float* y) {
  if (input != LowBitInput::kDoReFa) {
    const bool sign = input == LowBitInput::kSign;
    for (size_t i = 0; i < count; ++i) y[i] = (sign ? !(x[i] < 0) : x[i] > 0) ? 1.0f : -1.0f;
    return;
  }
  // In fp32 as torch: each of clamp, * n, round (half to even), / n rounds once; NaN passes
  // through, and -0 clamps to +0 (as lib/binary's Math.max(-0, 0) did).
  const float n = static_cast<float>((1 << bits) - 1);
  for (size_t i = 0; i < count; ++i) {
    const float v = x[i];
    const float c = v <= 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    y[i] = std::nearbyint(c * n) / n;
  }
}

void LowBitInputLevels(const float* x, size_t count, LowBitInput input, int bits, uint8_t* levels) {
  if (input != LowBitInput::kDoReFa) {
    // +-1 at zero point 1: -1 is level 0, +1 level 2.
    const bool sign = input == LowBitInput::kSign;
    for (size_t i = 0; i < count; ++i) levels[i] = (sign ? !(x[i] < 0) : x[i] > 0) ? 2 : 0;
    return;
  }
  // round(clamp(x, 0, 1) * n) in fp32, half to even; the quantized value r / n is level r + n.
  // NaN (clamped to NaN by bitorch, level NaN + n, stored as 0 by lib/ before) is level 0.
  const int n = (1 << bits) - 1;
  const float nf = static_cast<float>(n);
  for (size_t i = 0; i < count; ++i) {
    const float v = x[i];
    if (std::isnan(v)) {
      levels[i] = 0;
      continue;
    }
    const float c = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    levels[i] = static_cast<uint8_t>(static_cast<int>(std::nearbyint(c * nf)) + n);
  }
}

Status LowBitConv(const LowBitConvWeights& w, const uint8_t* x, size_t batch, const size_t in_spatial[3], float* y) {
  const ConvGeometry& g = w.geometry;
  size_t out_spatial[3];
  QK_RETURN_IF_ERROR(ConvOutputSize(g, in_spatial, out_spatial));
  const Dims3 dims3 = MakeDims3(g, in_spatial, out_spatial);
  const size_t *in3 = dims3.in, *out3 = dims3.out, *k3 = dims3.k, *s3 = dims3.s, *d3 = dims3.d, *p3 = dims3.p;
  const size_t in_positions = in3[0] * in3[1] * in3[2], out_positions = out3[0] * out3[1] * out3[2];
  const size_t k = w.group_in * w.taps;
  std::vector<uint8_t> rows(out_positions * k);
  std::vector<float> result(out_positions * w.group_out);
  for (size_t n = 0; n < batch; ++n) {
    for (size_t grp = 0; grp < g.groups; ++grp) {
      // im2col in torch's weight order (channel, then taps), pads at the pad value's level.
      for (size_t p = 0; p < out_positions; ++p) {
        const size_t oz = p / (out3[1] * out3[2]), oy = (p / out3[2]) % out3[1], ox = p % out3[2];
        uint8_t* row = rows.data() + p * k;
        for (size_t c = 0; c < w.group_in; ++c) {
          const uint8_t* plane = x + (n * g.in_channels + grp * w.group_in + c) * in_positions;
          size_t t = 0;
          for (size_t kz = 0; kz < k3[0]; ++kz) {
            const int64_t iz = static_cast<int64_t>(oz * s3[0] + kz * d3[0]) - static_cast<int64_t>(p3[0]);
            for (size_t ky = 0; ky < k3[1]; ++ky) {
              const int64_t iy = static_cast<int64_t>(oy * s3[1] + ky * d3[1]) - static_cast<int64_t>(p3[1]);
              for (size_t kx = 0; kx < k3[2]; ++kx, ++t) {
                const int64_t ix = static_cast<int64_t>(ox * s3[2] + kx * d3[2]) - static_cast<int64_t>(p3[2]);
                const bool inside = iz >= 0 && iy >= 0 && ix >= 0 && iz < static_cast<int64_t>(in3[0]) &&
                                    iy < static_cast<int64_t>(in3[1]) && ix < static_cast<int64_t>(in3[2]);
                row[c * w.taps + t] = inside ? plane[(static_cast<size_t>(iz) * in3[1] + static_cast<size_t>(iy)) * in3[2] +
                                                     static_cast<size_t>(ix)]
                                             : w.pad_level;
              }
            }
          }
        }
      }
      const float* bias = w.bias.empty() ? nullptr : w.bias.data() + grp * w.group_out;
      QK_RETURN_IF_ERROR(QGemmF32(*w.gemms[grp], out_positions, rows.data(), k, w.a_scale, w.a_zero_point,
                                  w.w_scales.data() + grp * w.group_out, bias, false, result.data(), w.group_out));
      for (size_t ol = 0; ol < w.group_out; ++ol) {
        float* plane = y + (n * g.out_channels + grp * w.group_out + ol) * out_positions;
        for (size_t p = 0; p < out_positions; ++p) plane[p] = result[p * w.group_out + ol];
      }
    }
  }
  return Status::Ok();
}

}  // namespace qk
