// Convolution GEMM tiles straight on uint8 rows: the direct 1-D path over overlapping input windows (no im2col) and the tile loop shared with the implicit GEMM.
#include "ops/conv-direct.h"

#include <algorithm>
#include <cstring>

#include "base/threadpool.h"

namespace qk {

const PackedGemm* DirectGemmPack(const GemmWeights& weights) {
  std::shared_ptr<const PackedGemm> packed;
  if (!weights.PackedForActiveIsa(&packed).ok()) return nullptr;
  const PackedGemm* p = packed.get();
  if (p->exact_twin() != nullptr) p = p->exact_twin();
  // The pack lives as long as weights (GemmWeights keeps its per-ISA packs).
  return p->layout().a_format == GemmAFormat::kU8 ? p : nullptr;
}

void PrepareGemmStage(const PackedGemm& pack, const int32_t* bias_int, const float* bias_term, const float* multiplier,
                      const int32_t* w_zero_points, float lo, float hi, float y_zero_point_f, int32_t y_zero_point,
                      int32_t a_zero_point, ConvGemmStage* stage) {
  const size_t n = pack.n(), padded = pack.blocks() * pack.layout().nr;
  stage->pack = &pack;
  stage->bias_int.assign(padded, 0);
  stage->bias_term.assign(padded, 0.0f);
  stage->multiplier.assign(padded, 0.0f);
  std::copy(bias_int, bias_int + n, stage->bias_int.begin());
  std::copy(bias_term, bias_term + n, stage->bias_term.begin());
  std::copy(multiplier, multiplier + n, stage->multiplier.begin());
  stage->lo = lo;
  stage->hi = hi;
  stage->y_zero_point_f = y_zero_point_f;
  stage->y_zero_point = y_zero_point;
  stage->a_zero_point = a_zero_point;
  stage->row_terms = std::any_of(w_zero_points, w_zero_points + n, [](int32_t zp) { return zp != 0; });
}

namespace {

// The output-stage constants of column block b (the microkernels read NR of each).
GemmU8Params BlockParams(const ConvGemmStage& stage, size_t n0) {
  return GemmU8Params{stage.a_zero_point,       stage.bias_int.data() + n0, stage.bias_term.data() + n0,
                      stage.multiplier.data() + n0, stage.lo,                 stage.hi,
                      stage.y_zero_point_f,     stage.y_zero_point};
}

}  // namespace

void RunGemmTiles(const ConvGemmStage& stage, size_t m, const uint8_t* a, size_t a_stride, const int32_t* row_terms,
                  uint8_t* y, size_t ldy, size_t first_block, size_t end_block) {
  const PackedGemm& p = *stage.pack;
  const GemmLayout& l = p.layout();
  const size_t n = p.n();
  // Column blocks outside, row tiles inside: the block's packed weights (k x NR bytes) stay in
  // L1 while the tiles walk the rows (which the callers keep to about 48 KiB, in L2).
  for (size_t b = first_block; b < std::min(end_block, p.blocks()); ++b) {
    const size_t n0 = b * l.nr, nc = std::min(l.nr, n - n0);
    const GemmU8Params params = BlockParams(stage, n0);
    for (size_t i = 0; i < m; i += l.mr) {
      l.u8_kernel(std::min(l.mr, m - i), nc, p.kpad(), a + i * a_stride, a_stride, row_terms + i, p.block(b),
                  y + i * ldy + n0, ldy, &params);
    }
  }
}

void RunIgemmTiles(const ConvGemmStage& stage, size_t m, const uint8_t* const* a, size_t segments,
                   size_t segment_bytes, const int32_t* row_terms, uint8_t* y, size_t ldy) {
  const PackedGemm& p = *stage.pack;
  const GemmLayout& l = p.layout();
  const size_t n = p.n();
  // As RunGemmTiles: a column block's weights stay in L1 while the tiles walk the rows.
  for (size_t b = 0; b < p.blocks(); ++b) {
    const size_t n0 = b * l.nr, nc = std::min(l.nr, n - n0);
    const GemmU8Params params = BlockParams(stage, n0);
    for (size_t i = 0; i < m; i += l.mr) {
      l.igemm_kernel(std::min(l.mr, m - i), nc, segments, segment_bytes, a + i * segments, row_terms + i, p.block(b),
                     y + i * ldy + n0, ldy, &params);
    }
  }
}

void RunIgemmStridedTiles(const ConvGemmStage& stage, size_t m, const uint8_t* const* a, size_t a_stride,
                          size_t segments, size_t segment_bytes, const int32_t* row_terms, uint8_t* y, size_t ldy) {
  const PackedGemm& p = *stage.pack;
  const GemmLayout& l = p.layout();
  const size_t n = p.n();
  // The run starts of each tile's first row: a's, moved down by the tile's rows.
  thread_local std::vector<const uint8_t*> starts;
  starts.resize(segments);
  for (size_t b = 0; b < p.blocks(); ++b) {
    const size_t n0 = b * l.nr, nc = std::min(l.nr, n - n0);
    const GemmU8Params params = BlockParams(stage, n0);
    for (size_t i = 0; i < m; i += l.mr) {
      for (size_t s = 0; s < segments; ++s) starts[s] = a[s] + i * a_stride;
      l.igemm_strided_kernel(std::min(l.mr, m - i), nc, segments, segment_bytes, starts.data(), a_stride,
                             row_terms + i, p.block(b), y + i * ldy + n0, ldy, &params);
    }
  }
}

int32_t GemmRowTerm(const uint8_t* row, size_t k, int32_t a_zero_point) {
  uint32_t sum = 0;
  for (size_t i = 0; i < k; ++i) sum += row[i];
  return static_cast<int32_t>(static_cast<uint32_t>(k) * static_cast<uint32_t>(a_zero_point) - sum);
}

namespace {

// Output pixels per task of the direct 1-D path.
constexpr size_t kRowsPerTask = 256;

// The outputs [first, last) of a pass that read their window straight from x: every tap inside
// the input (where every padding mode reads the coordinate itself) and kpad bytes from the
// window's start inside the image (first >= last when there are none).
void DirectRange(const Conv1dDirectPass& pass, size_t* first, size_t* last) {
  const Conv1dDirectShape& s = pass.shape;
  const size_t span = std::max(s.taps * s.channels, pass.stage.pack->kpad()), image = s.in_w * s.channels;
  *first = s.out_w;
  *last = 0;
  for (size_t o = 0; o < s.out_w; ++o) {
    const long start = static_cast<long>(o * s.stride) - s.pad;
    if (start >= 0 && static_cast<size_t>(start) * s.channels + span <= image) {
      *first = std::min(*first, o);
      *last = o + 1;
    }
  }
}

// Row i of an edge panel (T: the pack's A format): the window of output o gathered from xi, x_zp
// for padding; returns its row term (0 without row terms).
template <typename T>
int32_t GatherWindow(const Conv1dDirectShape& s, const uint8_t* xi, size_t o, int32_t x_zero_point, bool row_terms,
                     T* row) {
  uint32_t sum = 0;
  for (size_t t = 0; t < s.taps; ++t) {
    const long coordinate = s.map(static_cast<long>(o * s.stride + t) - s.pad);
    const uint8_t* pixel = coordinate >= 0 ? xi + static_cast<size_t>(coordinate) * s.channels : nullptr;
    T* out = row + t * s.channels;
    if (pixel == nullptr) {
      std::fill(out, out + s.channels, static_cast<T>(x_zero_point));
      sum += static_cast<uint32_t>(x_zero_point) * static_cast<uint32_t>(s.channels);
    } else {
      for (size_t c = 0; c < s.channels; ++c) {
        out[c] = pixel[c];
        sum += pixel[c];
      }
    }
  }
  const uint32_t k = static_cast<uint32_t>(s.taps * s.channels);
  return row_terms ? static_cast<int32_t>(k * static_cast<uint32_t>(x_zero_point) - sum) : 0;
}

// Outputs [o0, o1) of image n of one pass.
void RunConv1dDirectTask(const Conv1dDirectPass& pass, size_t first, size_t last, size_t n, size_t o0, size_t o1,
                         const uint8_t* x, int32_t x_zero_point, uint8_t* y) {
  const ConvGemmStage& stage = pass.stage;
  const Conv1dDirectShape& s = pass.shape;
  const PackedGemm& p = *stage.pack;
  const size_t k = s.taps * s.channels;
  const uint8_t* xi = x + n * s.in_w * s.channels;
  // Output o of this pass is pixel out_first + o * out_step of its image.
  uint8_t* yi = y + (n * s.out_image + s.out_first) * s.out_channels;
  const size_t ldy = s.out_step * s.out_channels;
  // The window of output o starts at input pixel o * stride - pad (non-negative for the direct rows).
  const auto window = [&](size_t o) { return static_cast<size_t>(static_cast<long>(o * s.stride) - s.pad); };
  thread_local std::vector<int32_t> terms;
  thread_local std::vector<uint8_t> panel;
  terms.resize(o1 - o0);
  // Direct rows: window sums from per-pixel channel sums (each input pixel summed once).
  const size_t a = std::min(o1, std::max(o0, first)), b = std::max(a, std::min(o1, last));
  if (a < b && !stage.row_terms) std::fill(terms.begin() + (a - o0), terms.begin() + (b - o0), 0);
  if (a < b && stage.row_terms) {
    const size_t p0 = window(a), p1 = window(b - 1) + s.taps;
    thread_local std::vector<uint32_t> prefix;
    prefix.assign(p1 - p0 + 1, 0);
    for (size_t q = p0; q < p1; ++q) {
      uint32_t sum = 0;
      const uint8_t* pixel = xi + q * s.channels;
      for (size_t c = 0; c < s.channels; ++c) sum += pixel[c];
      prefix[q - p0 + 1] = prefix[q - p0] + sum;
    }
    for (size_t o = a; o < b; ++o) {
      const size_t start = window(o) - p0;
      const uint32_t sum = prefix[start + s.taps] - prefix[start];
      terms[o - o0] = static_cast<int32_t>(static_cast<uint32_t>(k) * static_cast<uint32_t>(x_zero_point) - sum);
    }
  }
  // An int16 pack (kS16) reads the windows from an int16 copy of the pixels they span (DirectRange
  // keeps kpad values from every window's start inside the image): twice their bytes, against
  // an im2col and A panel of k values per output.
  const bool wide = p.layout().a_format == GemmAFormat::kS16;
  if (a < b && !wide) {
    RunGemmTiles(stage, b - a, xi + window(a) * s.channels, s.stride * s.channels, terms.data() + (a - o0),
                 yi + a * ldy, ldy);
  }
  if (a < b && wide) {
    thread_local std::vector<int16_t> widened;
    const size_t begin = window(a) * s.channels, end = window(b - 1) * s.channels + p.kpad();
    widened.resize(end - begin);
    for (size_t i = begin; i < end; ++i) widened[i - begin] = xi[i];
    RunGemmTiles(stage, b - a, reinterpret_cast<const uint8_t*>(widened.data()), 2 * s.stride * s.channels,
                 terms.data() + (a - o0), yi + a * ldy, ldy);
  }
  // The edges: gathered rows (x_zp for padding), zero past k, in the A format of their pack.
  const ConvGemmStage& edge = pass.edge.pack != nullptr ? pass.edge : stage;
  const bool edge_wide = edge.pack->layout().a_format == GemmAFormat::kS16;
  auto gather = [&](size_t g0, size_t g1) {
    if (g0 >= g1) return;
    const size_t row_bytes = edge.pack->a_row_bytes();
    panel.assign((g1 - g0) * row_bytes, 0);
    for (size_t o = g0; o < g1; ++o) {
      uint8_t* row = panel.data() + (o - g0) * row_bytes;
      terms[o - o0] = edge_wide
                          ? GatherWindow(s, xi, o, x_zero_point, edge.row_terms, reinterpret_cast<int16_t*>(row))
                          : GatherWindow(s, xi, o, x_zero_point, edge.row_terms, row);
    }
    RunGemmTiles(edge, g1 - g0, panel.data(), row_bytes, terms.data() + (g0 - o0), yi + g0 * ldy, ldy);
  };
  gather(o0, a);
  gather(b, o1);
}

}  // namespace

void RunConv1dDirect(const std::vector<Conv1dDirectPass>& passes, const uint8_t* x, int32_t x_zero_point, uint8_t* y) {
  // Tasks [task_begin[i], task_begin[i + 1]) are pass i's: image-major chunks of kRowsPerTask outputs.
  std::vector<size_t> task_begin(passes.size() + 1, 0), first(passes.size()), last(passes.size());
  double task_ns = 0;
  for (size_t i = 0; i < passes.size(); ++i) {
    const Conv1dDirectShape& s = passes[i].shape;
    DirectRange(passes[i], &first[i], &last[i]);
    const size_t chunks = (s.out_w + kRowsPerTask - 1) / kRowsPerTask;
    task_begin[i + 1] = task_begin[i] + s.batch * chunks;
    task_ns = std::max(task_ns, static_cast<double>(std::min(s.out_w, kRowsPerTask) * s.taps * s.channels *
                                                    s.out_channels) / kMacsPerNs);
  }
  ParallelFor(task_begin.back(), task_ns, [&](size_t task) {
    const size_t i = static_cast<size_t>(std::upper_bound(task_begin.begin(), task_begin.end(), task) -
                                         task_begin.begin()) - 1;
    const Conv1dDirectShape& s = passes[i].shape;
    const size_t chunks = (s.out_w + kRowsPerTask - 1) / kRowsPerTask, local = task - task_begin[i];
    const size_t n = local / chunks, o0 = local % chunks * kRowsPerTask, o1 = std::min(s.out_w, o0 + kRowsPerTask);
    RunConv1dDirectTask(passes[i], first[i], last[i], n, o0, o1, x, x_zero_point, y);
  });
}

}  // namespace qk
