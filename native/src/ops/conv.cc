// Quantized convolution ops: shape checks, weight packing, and the depthwise / direct-GEMM / implicit-GEMM / transposed paths.
#include "ops/conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "base/checked.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "ops/conv-direct.h"
#include "ops/qgemm.h"
#include "ops/strided-copy.h"
#include "ukernels/dispatch.h"
#include "ukernels/gemm/requant-scalar.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {

// ---- the packed forms -----------------------------------------------------------------

// The indirect GEMM's runs are padded to this many bytes: the largest KR of the layouts that
// have an indirect kernel (gemm/registry.inc), so one packing serves every ISA level.
constexpr size_t kIgemmSegmentAlign = 4;

// One stride phase of a (transposed) convolution: the taps it uses along each dim and its
// GEMM weights per group. An ordinary convolution is one phase with every tap.
struct ConvPhase {
  size_t residue[3] = {0, 0, 0};     // transposed: outputs o with (o + pad_before) % stride == residue
  std::vector<size_t> taps[3];       // kernel indices along D, H, W (the K order: D, H, W, then channel)
  size_t k = 0;                      // taps[0].size() * taps[1].size() * taps[2].size() * in_channels / groups
  std::vector<std::shared_ptr<GemmWeights>> gemm;  // per group; empty when k == 0
  // The indirect GEMM's weights (ordinary convolutions, not 1x1): the k values of a row as
  // `segments` runs of segment_len consecutive values, each packed into segment_bytes =
  // round_up(segment_len, kIgemmSegmentAlign) columns whose extra ones hold zero weights. With
  // `lines` a run is one (D, H) tap's W line (kw * in_channels bytes, consecutive in
  // channels_last when the line lies inside the input); otherwise one tap's channels of the group.
  std::vector<std::shared_ptr<GemmWeights>> igemm;  // per group; empty when not built
  size_t segments = 0, segment_len = 0, segment_bytes = 0;
  bool lines = false;
};

struct ConvPacked {
  bool depthwise = false;
  std::vector<int16_t> dw_weights;  // ukernels/conv/conv.h's layout
  std::vector<int8_t> dw_quads;     // its quads layout when every w16 fits int8, else empty
  std::vector<ConvPhase> phases;    // implicit GEMM (also the 1x1 direct GEMM: one phase, one tap)
  // A transposed convolution whose kernel equals its stride (dilation 1; an upsampling layer):
  // each phase has one tap, and every phase reads output o's input pixel floor((o + pad) / stride),
  // so all phases are one GEMM per input pixel: per group, the phases' rows stacked (phase-major,
  // PlanPhases' order), n = phases * out_channels / groups, k = in_channels / groups as one
  // indirect run of RoundUp(k, kIgemmSegmentAlign) bytes. Empty for other geometries.
  std::vector<std::shared_ptr<GemmWeights>> stacked;
};

namespace {

// ---- error messages ---------------------------------------------------------------------

std::string Tuple(const size_t* v, int dims) {
  std::string s = "[";
  for (int i = 0; i < dims; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

const char* PaddingModeName(ConvPaddingMode mode) {
  switch (mode) {
    case ConvPaddingMode::kZeros: return "zeros";
    case ConvPaddingMode::kReflect: return "reflect";
    case ConvPaddingMode::kReplicate: return "replicate";
    case ConvPaddingMode::kCircular: return "circular";
  }
  return "unknown";
}

// ---- the geometry as three spatial dims D, H, W (1-D: D = H = 1; 2-D: D = 1) ---------------

struct Shape3 {
  size_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3];
};

Shape3 ToShape3(const ConvGeometry& g, const size_t in_spatial[3], const size_t out_spatial[3]) {
  Shape3 s{};
  const int skip = 3 - g.dims;
  for (int j = 0; j < 3; ++j) {
    const bool used = j >= skip;
    const int d = j - skip;
    s.in[j] = used ? in_spatial[d] : 1;
    s.out[j] = used ? out_spatial[d] : 1;
    s.kernel[j] = used ? g.kernel[d] : 1;
    s.stride[j] = used ? g.stride[d] : 1;
    s.dilation[j] = used ? g.dilation[d] : 1;
    s.pad[j] = used ? g.pad_before[d] : 0;
  }
  return s;
}

// The kernel as three dims (unused: 1).
void Kernel3(const ConvGeometry& g, size_t kernel[3]) {
  const int skip = 3 - g.dims;
  for (int j = 0; j < 3; ++j) kernel[j] = j >= skip ? g.kernel[j - skip] : 1;
}

// Along one dim: the output coordinates a phase computes and, for each of them and each tap of
// the phase, the input coordinate it reads (-1: padding, or no input for a transposed tap).
struct AxisTable {
  std::vector<size_t> outputs;
  size_t taps = 0;
  std::vector<long> input;         // [outputs.size()][taps]
  std::vector<uint8_t> run;        // per output: 1 when its taps read consecutive input coordinates
};

// The input coordinate output o's tap k reads along dim, before any padding or mapping (may lie
// outside [0, in)). Transposed: o reads (o + pad - k * dilation) / stride, called only for the
// taps of o's phase, where the division is exact. PaddedSource of it is where the tap reads.
long RawCoordinate(const ConvGeometry& g, const Shape3& s, int dim, size_t o, size_t k) {
  const long stride = static_cast<long>(s.stride[dim]), dilation = static_cast<long>(s.dilation[dim]);
  const long pad = static_cast<long>(s.pad[dim]), tap = static_cast<long>(k), out = static_cast<long>(o);
  if (!g.transposed) return out * stride - pad + tap * dilation;
  return (out + pad - tap * dilation) / stride;  // an exact multiple of stride: no rounding
}

// Fills t (every entry written, so a table reused from an earlier call keeps only its capacity).
void BuildAxisTable(const ConvGeometry& g, const Shape3& s, int dim, const ConvPhase& phase, AxisTable* table) {
  AxisTable& t = *table;
  const std::vector<size_t>& taps = phase.taps[dim];
  t.taps = taps.size();
  const long in = static_cast<long>(s.in[dim]);
  // Sized up front and written by index: a long 1-D convolution has out * taps entries per call.
  size_t count = 0;
  for (size_t o = 0; o < s.out[dim]; ++o) count += !g.transposed || (o + s.pad[dim]) % s.stride[dim] == phase.residue[dim];
  t.outputs.resize(count);
  t.input.resize(count * taps.size());
  t.run.resize(count);
  size_t row = 0;
  for (size_t o = 0; o < s.out[dim]; ++o) {
    if (g.transposed && (o + s.pad[dim]) % s.stride[dim] != phase.residue[dim]) continue;
    t.outputs[row] = o;
    long* input = t.input.data() + row * taps.size();
    bool run = true;
    for (size_t i = 0; i < taps.size(); ++i) {
      // Transposed convolutions pad with zeros only: PaddedSource is -1 outside the input.
      const long coordinate = PaddedSource(RawCoordinate(g, s, dim, o, taps[i]), in, g.padding_mode);
      input[i] = coordinate;
      run = run && coordinate >= 0 && (i == 0 || coordinate == input[i - 1] + 1);
    }
    t.run[row++] = run ? 1 : 0;
  }
}

// What a conv call builds beside its output (axis tables, GEMM stages, the indirect path's
// padding runs), in per-thread storage kept between calls: built fresh per call, a traced
// conv on a small tensor spent about a sixth of its time in malloc and free (perf). One
// path of one call uses it at a time (the paths run one after another; their tasks on other
// threads read the caller's storage, which stays put until the ParallelFor returns).
// ReleaseLargeRunBuffers drops what a large call grew, as ConvU8 does with its layout copies.
// Depthwise's axis tables and interior columns, kept for the next call of the same geometry: a
// long 1-D depthwise conv (4000 outputs x 5 taps) spent a tenth of its time rebuilding them.
struct DepthwiseTables {
  bool valid = false;
  Shape3 s{};
  ConvPaddingMode mode{};
  AxisTable axes[3];
  size_t interior_begin = 0, interior_end = 0;  // output columns whose W taps read their own pixels
  bool padded_lines = false;                    // some D/H tap line lies in the zero padding
};

struct RunBuffers {
  AxisTable axes[3];
  ConvPhase all_taps;                 // depthwise: every tap of the kernel
  DepthwiseTables depthwise;
  std::vector<ConvGemmStage> stages;  // per group
  std::vector<size_t> run_end;
  std::vector<uint8_t> zero_run;      // also depthwise's padding row and zero line
  std::vector<uint8_t> zero_line;
  std::vector<int16_t> zero_run16;
  std::vector<uint8_t> edge_blocks;   // the indirect W lines' edges per input line (RunIndirectLines)
  size_t Bytes() const {
    size_t bytes = run_end.capacity() * sizeof(size_t) + zero_run.capacity() + zero_line.capacity() +
                   edge_blocks.capacity() +
                   zero_run16.capacity() * sizeof(int16_t);
    for (const AxisTable* set : {axes, depthwise.axes}) {
      for (int d = 0; d < 3; ++d) {
        const AxisTable& a = set[d];
        bytes += a.outputs.capacity() * sizeof(size_t) + a.input.capacity() * sizeof(long) + a.run.capacity();
      }
    }
    for (const ConvGemmStage& stage : stages) bytes += stage.bias_int.capacity() * 12;  // three arrays of 4 bytes
    return bytes;
  }
};

RunBuffers& ThreadRunBuffers() {
  thread_local RunBuffers buffers;
  return buffers;
}

void ReleaseLargeRunBuffers() {
  constexpr size_t kKeepBytes = size_t{1} << 20;
  RunBuffers& buffers = ThreadRunBuffers();
  if (buffers.Bytes() > kKeepBytes) buffers = RunBuffers();
}

// ---- layout transposes ------------------------------------------------------------------

// One tile of dst[c][r] = src[r][c] (rows r0..r1, columns c0..c1): the strided copy's tiled
// byte transpose (ops/strided-copy.h), the one byte transpose of the ops.
// TransposeBytes(s, s_stride, d, d_stride, n, m) writes d[x * d_stride + y] = s[x + y * s_stride]:
// here x = c - c0 and y = r - r0.
void TransposeTile(const uint8_t* src, size_t rows, size_t cols, size_t r0, size_t r1, size_t c0, size_t c1,
                   uint8_t* dst) {
  TransposeBytes(src + r0 * cols + c0, static_cast<int64_t>(cols), dst + c0 * rows + r0, static_cast<int64_t>(rows),
                 static_cast<int64_t>(c1 - c0), static_cast<int64_t>(r1 - r0));
}

// [batch][rows][cols] -> [batch][cols][rows], in tiles so both sides stay in cache
// (contiguous <-> channels_last).
// A task is a band of up to 64 rows by kBandCols columns: a few-channel input (rows = C = 16
// of a conv3d) is one row band, and splitting it along the columns too is what lets the second
// thread share the transpose.
void Transpose(const uint8_t* src, size_t batch, size_t rows, size_t cols, uint8_t* dst) {
  constexpr size_t kTile = 64, kBandCols = 16 * kTile;
  const size_t row_tiles = (rows + kTile - 1) / kTile, col_bands = (cols + kBandCols - 1) / kBandCols;
  const double task_ns = static_cast<double>(std::min(rows, kTile) * std::min(cols, kBandCols)) / kBytesPerNs;
  ParallelFor(batch * row_tiles * col_bands, task_ns, [src, dst, rows, cols, row_tiles, col_bands](size_t task) {
    const size_t band = task % col_bands, tile = task / col_bands;
    const size_t n = tile / row_tiles, r0 = tile % row_tiles * kTile, r1 = std::min(rows, r0 + kTile);
    const size_t c_end = std::min(cols, (band + 1) * kBandCols);
    for (size_t c0 = band * kBandCols; c0 < c_end; c0 += kTile) {
      TransposeTile(src + n * rows * cols, rows, cols, r0, r1, c0, std::min(c_end, c0 + kTile), dst + n * rows * cols);
    }
  });
}

// Per-call buffers reused by the tasks that run on one thread.
std::vector<uint8_t>& ThreadScratch(size_t which) {
  thread_local std::vector<uint8_t> buffers[2];
  return buffers[which];
}

// ---- the paths ---------------------------------------------------------------------------

struct ConvCall {
  const ConvWeights* w;
  Shape3 s;
  size_t batch;
  const uint8_t* x;  // channels_last
  uint8_t* y;        // channels_last
  float x_scale, y_scale;
  double x_scale_f64, y_scale_f64;
  int32_t x_zp, y_zp, y_min;
  QEngine engine;
  // Per output channel, GEMM's output stage (OutputStageFor); y_zp_f / y_zp_i from OutputZeroPoints.
  // The prepared op's stage when it has one (read in place: a run copies nothing), else `own`.
  const int32_t* bias_int = nullptr;
  const float* bias_term = nullptr;
  const float* multiplier = nullptr;
  OutputStage own;
  float y_zp_f;
  int32_t y_zp_i;
  // Applied per block by the paths that write call.y in whole blocks of pixels (null: none, or
  // ConvU8 applies it after the conv); a path that did sets epilogue_applied.
  const ConvEpilogue* epilogue = nullptr;
  bool epilogue_applied = false;
};

// Hands [begin, end) of the output to the call's per-block epilogue, if any.
inline void BlockDone(const ConvCall& call, size_t begin, size_t end) {
  if (call.epilogue != nullptr) call.epilogue->fn(call.epilogue->context, begin, end);
}

// Depthwise: pieces of output rows per task through an indirection buffer; a piece spans about
// kDwBytes of input pixels so that the kernel's passes over it (one per channel block) hit L1.
constexpr size_t kDwBytes = 16 * 1024;

void RunDepthwise(ConvCall& call) {
  const ConvGeometry& g = call.w->geometry;
  const ConvPacked& packed = *call.w->packed;
  const Shape3& s = call.s;
  const size_t channels = g.in_channels;
  RunBuffers& buffers = ThreadRunBuffers();
  DepthwiseTables& tables = buffers.depthwise;
  AxisTable* axes = tables.axes;
  if (!tables.valid || tables.mode != g.padding_mode || std::memcmp(&tables.s, &s, sizeof(Shape3)) != 0) {
    tables.valid = false;  // until every table below is built
    ConvPhase& all = buffers.all_taps;
    for (int d = 0; d < 3; ++d) {
      all.taps[d].resize(s.kernel[d]);
      for (size_t k = 0; k < s.kernel[d]; ++k) all.taps[d][k] = k;
      BuildAxisTable(g, s, d, all, &axes[d]);
    }
    // The output columns whose W taps all read the input pixel they name (no padding, no
    // mapping): a contiguous range, computed by the row kernel without an indirection buffer.
    tables.interior_begin = s.out[2];
    tables.interior_end = 0;
    for (size_t ow = 0; ow < s.out[2]; ++ow) {
      bool inside = true;
      for (size_t kw = 0; kw < s.kernel[2]; ++kw) {
        const long want = static_cast<long>(ow * s.stride[2] + kw * s.dilation[2]) - static_cast<long>(s.pad[2]);
        inside = inside && want >= 0 && axes[2].input[ow * s.kernel[2] + kw] == want;
      }
      if (inside) {
        tables.interior_begin = std::min(tables.interior_begin, ow);
        tables.interior_end = ow + 1;
      }
    }
    // A line (D, H tap) of zero padding reads a row of x_zp bytes in the interior.
    tables.padded_lines = false;
    for (int d = 0; d < 2; ++d) {
      for (long coordinate : axes[d].input) tables.padded_lines = tables.padded_lines || coordinate < 0;
    }
    tables.s = s;
    tables.mode = g.padding_mode;
    tables.valid = true;
  }
  const size_t interior_begin = tables.interior_begin, interior_end = tables.interior_end;
  const bool padded_lines = tables.padded_lines;
  const size_t taps = s.kernel[0] * s.kernel[1] * s.kernel[2];
  std::vector<uint8_t>& padding = buffers.zero_run;
  padding.assign(channels, static_cast<uint8_t>(call.x_zp));
  DwconvU8Params params;
  params.x_zero_point = call.x_zp;
  params.quads = packed.dw_quads.empty() ? nullptr : packed.dw_quads.data();
  params.bias_int = call.bias_int;
  params.bias_term = call.bias_term;
  params.multiplier = call.multiplier;
  params.lo = static_cast<float>(call.y_min - call.y_zp);
  params.hi = static_cast<float>(255 - call.y_zp);
  params.y_zero_point_f = call.y_zp_f;
  params.y_zero_point = call.y_zp_i;
  DwconvU8Fn* kernel = Dispatch().qu8qs8_dwconv;
  DwconvRowU8Fn* row_kernel = Dispatch().qu8qs8_dwconv_row;
  std::vector<uint8_t>& zero_row = buffers.zero_line;
  zero_row.assign(padded_lines ? s.in[2] * channels : 0, static_cast<uint8_t>(call.x_zp));
  const size_t piece = std::max<size_t>(16, std::min<size_t>(256, kDwBytes / channels));
  const size_t chunks = (s.out[2] + piece - 1) / piece;
  const size_t rows = call.batch * s.out[0] * s.out[1];
  // Depthwise multiply-adds run at about a quarter of the GEMM's rate (16-bit pairs, memory-bound).
  const double dw_task_ns = static_cast<double>(std::min(piece, s.out[2]) * channels * taps) / (kMacsPerNs / 4);
  ParallelFor(rows * chunks, dw_task_ns, [&](size_t task) {
    const size_t row = task / chunks, w0 = task % chunks * piece, w1 = std::min(s.out[2], w0 + piece);
    const size_t n = row / (s.out[0] * s.out[1]), od = row / s.out[1] % s.out[0], oh = row % s.out[1];
    thread_local std::vector<const uint8_t*> indirection;
    indirection.resize((w1 - w0) * taps);
    const uint8_t** pointers = indirection.data();
    const uint8_t* image = call.x + n * s.in[0] * s.in[1] * s.in[2] * channels;
    // The input lines (D, H taps) of this output row; null where they read padding.
    const size_t lines = s.kernel[0] * s.kernel[1];
    const uint8_t* line[64];
    std::vector<const uint8_t*> many_lines;
    const uint8_t** line_ptr = line;
    if (lines > 64) {
      many_lines.resize(lines);
      line_ptr = many_lines.data();
    }
    for (size_t kd = 0; kd < s.kernel[0]; ++kd) {
      const long id = axes[0].input[od * s.kernel[0] + kd];
      for (size_t kh = 0; kh < s.kernel[1]; ++kh) {
        const long ih = axes[1].input[oh * s.kernel[1] + kh];
        line_ptr[kd * s.kernel[1] + kh] =
            (id < 0 || ih < 0) ? nullptr
                               : image + (static_cast<size_t>(id) * s.in[1] + static_cast<size_t>(ih)) * s.in[2] * channels;
      }
    }
    const size_t kw_taps = s.kernel[2];
    uint8_t* out = call.y + ((row * s.out[2]) + w0) * channels;
    // Pixels [a, b) of the piece through the indirection buffer (the edges that read padding).
    auto indirect = [&](size_t a, size_t b) {
      if (a >= b) return;
      for (size_t ow = a; ow < b; ++ow) {
        const uint8_t** p = pointers + (ow - a) * taps;
        const long* iw = &axes[2].input[ow * kw_taps];
        for (size_t l = 0; l < lines; ++l) {
          const uint8_t* base = line_ptr[l];
          for (size_t kw = 0; kw < kw_taps; ++kw) {
            *p++ = (base != nullptr && iw[kw] >= 0) ? base + static_cast<size_t>(iw[kw]) * channels : padding.data();
          }
        }
      }
      kernel(channels, b - a, taps, pointers, packed.dw_weights.data(), out + (a - w0) * channels, channels, &params);
    };
    // The interior: every tap of these pixels reads the input pixel ow * stride - pad + kw * dilation
    // of its line (a padded line reads the row of x_zp bytes), one base pointer per tap.
    const size_t a = std::min(w1, std::max(w0, interior_begin)), b = std::max(a, std::min(w1, interior_end));
    indirect(w0, a);
    if (a < b) {
      const uint8_t** base = pointers;
      for (size_t l = 0; l < lines; ++l) {
        const uint8_t* line = line_ptr[l] != nullptr ? line_ptr[l] : zero_row.data();
        for (size_t kw = 0; kw < kw_taps; ++kw) {
          *base++ = line + (a * s.stride[2] - s.pad[2] + kw * s.dilation[2]) * channels;
        }
      }
      row_kernel(channels, b - a, taps, pointers, s.stride[2] * channels, packed.dw_weights.data(),
                 out + (a - w0) * channels, channels, &params);
    }
    indirect(b, w1);
    BlockDone(call, (row * s.out[2] + w0) * channels, (row * s.out[2] + w1) * channels);
  });
}

// The fields of a call that its output stage reads (GroupRequant): ConvU8 and ConvOutputStage
// set them the same way, so a stage made ahead is the one ConvU8 would make.
void SetStageFields(ConvCall* call, const ConvWeights& w, double x_scale64, int32_t x_zero_point, double y_scale64,
                    int32_t y_zero_point, bool relu, QEngine engine) {
  call->w = &w;
  call->x_scale = static_cast<float>(x_scale64);
  call->y_scale = static_cast<float>(y_scale64);
  call->x_zp = x_zero_point;
  call->y_zp = y_zero_point;
  call->y_min = relu ? y_zero_point : 0;
  call->x_scale_f64 = x_scale64;
  call->y_scale_f64 = y_scale64;
  call->engine = engine;
}

GemmRequant GroupRequant(const ConvCall& call, size_t first_channel) {
  GemmRequant rq;
  rq.a_scale = call.x_scale;
  rq.a_zero_point = call.x_zp;
  rq.w_scales = call.w->w_scales.data() + first_channel;
  rq.bias = call.w->bias.empty() ? nullptr : call.w->bias.data() + first_channel;
  rq.y_scale = call.y_scale;
  rq.y_zero_point = call.y_zp;
  rq.y_min = call.y_min;
  rq.y_max = 255;
  rq.engine = call.engine;
  rq.a_scale_f64 = call.x_scale_f64;
  rq.y_scale_f64 = call.y_scale_f64;
  rq.w_scales_f64 = call.w->w_scales_f64.data() + first_channel;
  rq.w_per_channel = call.w->per_channel;
  return rq;
}

// Points call's per-channel output stage at `stage` (made ahead for these qparams) when it
// covers every channel, else at the call's own, and sets the output zero points.
void UseOutputStage(ConvCall* call, const OutputStage* stage) {
  const size_t n = call->w->geometry.out_channels;
  const GemmRequant whole = GroupRequant(*call, 0);
  if (stage == nullptr || stage->bias_int.size() < n || stage->bias_term.size() < n || stage->multiplier.size() < n) {
    call->own = MakeOutputStage(whole, n);
    stage = &call->own;
  }
  call->bias_int = stage->bias_int.data();
  call->bias_term = stage->bias_term.data();
  call->multiplier = stage->multiplier.data();
  OutputZeroPoints(whole, &call->y_zp_f, &call->y_zp_i);
}

// The epilogue of a conv whose path made no per-block calls: the whole output (elems bytes), in
// chunks over the threads.
void EpilogueInChunks(const ConvEpilogue& epilogue, size_t elems) {
  constexpr size_t kChunk = 16384;
  const size_t chunks = (elems + kChunk - 1) / kChunk;
  ParallelFor(chunks, static_cast<double>(std::min(elems, kChunk)) / kBytesPerNs,
              [&](size_t c) { epilogue.fn(epilogue.context, c * kChunk, std::min(elems, (c + 1) * kChunk)); });
}

// The GEMM stage of pack for the output channels from first_channel on (ops/conv-direct.h).
void PrepareStage(const ConvCall& call, const PackedGemm& pack, size_t first_channel, ConvGemmStage* stage) {
  PrepareGemmStage(pack, call.bias_int + first_channel, call.bias_term + first_channel,
                   call.multiplier + first_channel, call.w->w_zero_points.data() + first_channel,
                   static_cast<float>(call.y_min - call.y_zp),
                   static_cast<float>(255 - call.y_zp), call.y_zp_f, call.y_zp_i, call.x_zp, stage);
}

// The uint8-row GEMM stage of one (phase, group) GEMM, when the active ISA's pack reads uint8
// rows (ops/conv-direct.h); false otherwise (the caller goes through QGemmU8).
bool DirectStage(const ConvCall& call, const GemmWeights& weights, size_t first_channel, ConvGemmStage* stage) {
  const PackedGemm* pack = DirectGemmPack(weights);
  if (pack == nullptr) return false;
  PrepareStage(call, *pack, first_channel, stage);
  return true;
}

// The pack a group runs at the active level on rows read from x (and, with padding, rows holding
// x_zp): the level's pack, or its exact twin when that is a kPairProof pack without a proof for
// these rows (its weight pairs not safe, and some byte the rows can read > 127: an input byte, or
// x_zp). The pass over x (*x7bit: -1 until taken, then whether every byte of x is <= 127) is
// taken once per call and only when a pack has a twin. Null: no pack for the active level.
const PackedGemm* ProvenPack(const ConvCall& call, const GemmWeights& weights, size_t input_bytes, bool padding,
                             int* x7bit) {
  std::shared_ptr<const PackedGemm> packed;
  if (!weights.PackedForActiveIsa(&packed).ok()) return nullptr;
  const PackedGemm* p = packed.get();  // lives as long as weights (GemmWeights keeps its packs)
  if (p->exact_twin() == nullptr) return p;
  if (padding && call.x_zp > 127) return p->exact_twin();
  if (*x7bit < 0) *x7bit = ActivationsAre7Bit(1, input_bytes, call.x, input_bytes) ? 1 : 0;
  return *x7bit == 1 ? p : p->exact_twin();
}


// Output pixels per task of the direct 1x1 path.
constexpr size_t kPointwiseRows = 128;

// 1x1, stride 1, no padding: the channels_last input is A (rows = pixels, lda = in_channels).
// With a uint8-row pack (ProvenPack's choice: the rows are x alone) and k a whole number of k
// groups the tiles read the input in place; with AVX2's exact int16 twin each task widens its
// rows into per-thread scratch (in L2, no A panel of the whole call).
Status RunPointwise(ConvCall& call) {
  const ConvGeometry& g = call.w->geometry;
  const ConvPhase& phase = call.w->packed->phases[0];
  const size_t icg = g.in_channels / g.groups, ocg = g.out_channels / g.groups;
  const size_t m = call.batch * call.s.out[0] * call.s.out[1] * call.s.out[2];
  int x7bit = -1;
  for (size_t group = 0; group < g.groups; ++group) {
    ConvGemmStage stage;
    const PackedGemm* pack = ProvenPack(call, *phase.gemm[group], m * g.in_channels, false, &x7bit);
    const GemmAFormat format = pack == nullptr ? GemmAFormat::kS8Flip : pack->layout().a_format;
    const bool wide = format == GemmAFormat::kS16;
    if ((format == GemmAFormat::kU8 && pack->kpad() == icg) || wide) {
      PrepareStage(call, *pack, group * ocg, &stage);
      const size_t row_tasks = (m + kPointwiseRows - 1) / kPointwiseRows;
      // Few pixels (the 7x7 and 14x14 ends of a network, with hundreds of channels): the columns
      // are split too, so that every thread has work; a task is then (row block, column band).
      const size_t blocks = stage.pack->blocks();
      const size_t wanted = 4 * static_cast<size_t>(GetNumThreads());
      const size_t bands = row_tasks >= wanted ? 1 : std::min(blocks, (wanted + row_tasks - 1) / row_tasks);
      const size_t per_band = (blocks + bands - 1) / bands;
      const double pw_task_ns =
          static_cast<double>(std::min(m, kPointwiseRows) * icg * per_band * stage.pack->layout().nr) / kMacsPerNs;
      ParallelFor(row_tasks * bands, pw_task_ns, [&](size_t task) {
        const size_t rt = task / bands, band = task % bands;
        const size_t r0 = rt * kPointwiseRows, r1 = std::min(m, r0 + kPointwiseRows);
        int32_t terms[kPointwiseRows];
        const uint8_t* a = call.x + r0 * g.in_channels + group * icg;
        for (size_t r = r0; r < r1; ++r) {
          terms[r - r0] = stage.row_terms ? GemmRowTerm(a + (r - r0) * g.in_channels, icg, call.x_zp) : 0;
        }
        size_t lda = g.in_channels;
        if (wide) {  // rows of kpad int16 values, zero past icg (they meet zero weights)
          const size_t kpad = stage.pack->kpad();
          thread_local std::vector<int16_t> widened;
          widened.resize((r1 - r0) * kpad);
          for (size_t r = 0; r < r1 - r0; ++r) {
            int16_t* row = widened.data() + r * kpad;
            for (size_t c = 0; c < icg; ++c) row[c] = a[r * g.in_channels + c];
            std::fill(row + icg, row + kpad, int16_t{0});
          }
          a = reinterpret_cast<const uint8_t*>(widened.data());
          lda = 2 * kpad;
        }
        RunGemmTiles(stage, r1 - r0, a, lda, terms, call.y + r0 * g.out_channels + group * ocg, g.out_channels,
                     band * per_band, (band + 1) * per_band);
        if (g.groups == 1 && bands == 1) BlockDone(call, r0 * g.out_channels, r1 * g.out_channels);
      });
      // With column bands a row block is finished by several tasks: the epilogue runs after.
      call.epilogue_applied = g.groups == 1 && bands == 1;
      continue;
    }
    QK_RETURN_IF_ERROR(QGemmU8(*phase.gemm[group], m, call.x + group * icg, g.in_channels,
                               GroupRequant(call, group * ocg), call.y + group * ocg, g.out_channels));
  }
  return Status::Ok();
}

// A 1-D convolution the windows path (RunConv1dWindows) is for: groups 1, dilation 1, and when
// transposed a kernel at least the stride (every stride phase has taps).
bool Conv1dWindowsGeometry(const ConvGeometry& g) {
  return g.dims == 1 && g.groups == 1 && g.dilation[0] == 1 && (!g.transposed || g.kernel[0] >= g.stride[0]);
}

// A 1-D convolution of Conv1dWindowsGeometry whose packs read uint8 or int16 rows (ProvenPack's
// choice: AVX2's 4x16c4 under its proof, else its exact 6x16c2 twin on int16 windows): the
// windows of the input are the GEMM's rows (ops/conv-direct.h), no im2col. A transposed one runs
// each stride phase so: the phase's taps, listed from the last kernel index down (PlanPhases),
// read consecutive input pixels, and its next output reads them one pixel further on, so a phase
// is an ordinary convolution of stride 1 whose outputs are every stride-th output pixel. False:
// not applicable.
bool RunConv1dWindows(const ConvCall& call) {
  const ConvGeometry& g = call.w->geometry;
  const ConvPacked& packed = *call.w->packed;
  if (!Conv1dWindowsGeometry(g) || packed.depthwise || (!g.transposed && packed.phases.size() != 1)) return false;
  const Shape3& s = call.s;
  const long in_w = static_cast<long>(s.in[2]);
  const ConvPaddingMode mode = g.padding_mode;
  std::vector<Conv1dDirectPass> passes(packed.phases.size());
  int x7bit = -1;
  const size_t input_bytes = call.batch * s.in[2] * g.in_channels;
  auto row_format = [](const PackedGemm* p) {
    return p != nullptr && (p->layout().a_format == GemmAFormat::kU8 || p->layout().a_format == GemmAFormat::kS16);
  };
  for (size_t i = 0; i < passes.size(); ++i) {
    const ConvPhase& phase = packed.phases[i];
    if (phase.k == 0) return false;
    // The windows read x alone; the gathered edge rows may hold x_zp (their own proof).
    const PackedGemm* pack = ProvenPack(call, *phase.gemm[0], input_bytes, false, &x7bit);
    const PackedGemm* edge = ProvenPack(call, *phase.gemm[0], input_bytes, true, &x7bit);
    if (!row_format(pack) || !row_format(edge)) return false;
    PrepareStage(call, *pack, 0, &passes[i].stage);
    if (edge != pack) PrepareStage(call, *edge, 0, &passes[i].edge);
    Conv1dDirectShape& shape = passes[i].shape;
    shape.batch = call.batch;
    shape.in_w = s.in[2];
    shape.channels = g.in_channels;
    shape.out_channels = g.out_channels;
    shape.taps = phase.taps[2].size();
    shape.out_image = s.out[2];
    shape.map = [in_w, mode](long p) { return static_cast<long>(PaddedSource(p, in_w, mode)); };
    if (!g.transposed) {
      shape.out_w = s.out[2];
      shape.stride = s.stride[2];
      shape.pad = static_cast<long>(s.pad[2]);
      continue;
    }
    // The phase's outputs: o = first + u * stride for u < out_w; output u's window starts where
    // the first tap of output first reads, plus u.
    const size_t stride = s.stride[2], first = (phase.residue[2] + stride - s.pad[2] % stride) % stride;
    shape.out_w = first < s.out[2] ? (s.out[2] - first + stride - 1) / stride : 0;
    shape.stride = 1;
    shape.pad = -RawCoordinate(g, s, 2, first, phase.taps[2][0]);
    shape.out_first = first;
    shape.out_step = stride;
  }
  RunConv1dDirect(passes, call.x, call.x_zp, call.y);
  return true;
}

// dst[0, n) = src[0, n) for the short runs of an im2col row (a libc call costs more than the
// copy): 16-byte moves, the last one overlapping the previous.
inline void CopyBytes(uint8_t* dst, const uint8_t* src, size_t n) {
  if (n < 16) {  // two overlapping 8- or 4-byte moves (stem convs: runs of 3 to 12 bytes)
    if (n >= 8) {
      std::memcpy(dst, src, 8);
      std::memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
      std::memcpy(dst, src, 4);
      std::memcpy(dst + n - 4, src + n - 4, 4);
    } else {
      for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    }
    return;
  }
  size_t i = 0;
  for (; i + 16 <= n; i += 16) std::memcpy(dst + i, src + i, 16);
  if (i < n) std::memcpy(dst + n - 16, src + n - 16, 16);
}

// Rows of about this many bytes of im2col per block: the block and the weights stay in L2.
constexpr size_t kBlockBytes = 48 * 1024;

// Implicit GEMM for one phase: blocks of output pixels are gathered (im2col, K order D, H, W taps
// then channel) into per-thread scratch and multiplied by the phase's group weights. Ordinary
// convolutions write the GEMM output in place (rows are consecutive pixels); transposed phases
// write a block and copy each row to its pixel.
Status RunPhase(ConvCall& call, const ConvPhase& phase) {
  const ConvGeometry& g = call.w->geometry;
  const Shape3& s = call.s;
  const size_t icg = g.in_channels / g.groups, ocg = g.out_channels / g.groups;
  RunBuffers& buffers = ThreadRunBuffers();
  AxisTable* axes = buffers.axes;
  for (int d = 0; d < 3; ++d) BuildAxisTable(g, s, d, phase, &axes[d]);
  const size_t n0 = axes[0].outputs.size(), n1 = axes[1].outputs.size(), n2 = axes[2].outputs.size();
  const size_t per_image = n0 * n1 * n2, rows = call.batch * per_image;
  if (rows == 0) return Status::Ok();
  const size_t out_pixels = s.out[0] * s.out[1] * s.out[2];
  const size_t in_pixels = s.in[0] * s.in[1] * s.in[2];
  auto output_pixel = [&](size_t row) {
    const size_t n = row / per_image, r = row % per_image;
    const size_t a0 = r / (n1 * n2), a1 = r / n2 % n1, a2 = r % n2;
    return n * out_pixels + (axes[0].outputs[a0] * s.out[1] + axes[1].outputs[a1]) * s.out[2] + axes[2].outputs[a2];
  };
  if (phase.k == 0) {
    call.epilogue_applied = false;  // ConvU8 applies it after the conv
    // No tap reaches these outputs (transposed, stride > kernel span): acc = 0, only the bias.
    std::vector<uint8_t> value(g.out_channels);
    for (size_t c = 0; c < g.out_channels; ++c) {
      value[c] = static_cast<uint8_t>(RequantizeGemmValue(0, call.bias_int[c], call.bias_term[c], call.multiplier[c],
                                                          static_cast<float>(call.y_min - call.y_zp),
                                                          static_cast<float>(255 - call.y_zp), call.y_zp_f,
                                                          call.y_zp_i));
    }
    for (size_t row = 0; row < rows; ++row) {
      std::memcpy(call.y + output_pixel(row) * g.out_channels, value.data(), g.out_channels);
    }
    return Status::Ok();
  }
  const size_t k = phase.k;
  const size_t block = std::max<size_t>(16, std::min<size_t>(512, kBlockBytes / k / 8 * 8));
  const size_t blocks = (rows + block - 1) / block;
  const bool whole_runs = g.groups == 1;  // a run of taps along W is one copy of taps * channels bytes
  std::vector<Status> errors(blocks * g.groups);
  // With uint8-row packs the rows are gathered straight into the kernels' A layout (rows
  // a_row_bytes apart, zero past k) and the tiles run on them: no second copy into a panel.
  std::vector<ConvGemmStage>& stages = buffers.stages;
  stages.resize(g.groups);
  bool direct = true;
  for (size_t group = 0; group < g.groups && direct; ++group) {
    direct = DirectStage(call, *phase.gemm[group], group * ocg, &stages[group]);
  }
  // An ordinary convolution with one group writes whole rows of pixels (row == output pixel)
  // per task: the epilogue runs on each block as it is written.
  const bool block_epilogue = call.epilogue != nullptr && !g.transposed && g.groups == 1;
  call.epilogue_applied = block_epilogue;
  // Direct rows are kpad bytes apart (the kernels read kpad bytes of a row; alignment does not matter).
  const size_t row_bytes = direct ? stages[0].pack->kpad() : k;
  const double block_task_ns = static_cast<double>(std::min(rows, block) * k * ocg) / kMacsPerNs;
  ParallelFor(blocks * g.groups, block_task_ns, [&](size_t task) {
    const size_t b = task / g.groups, group = task % g.groups;
    const size_t r0 = b * block, r1 = std::min(rows, r0 + block);
    std::vector<uint8_t>& a = ThreadScratch(0);
    a.resize(block * row_bytes);
    // Everything the gather reads, in locals: its uint8_t stores may alias any memory, so
    // values read through call, g, s or axes would be reloaded after every copy.
    const size_t channels = g.in_channels, image_bytes = in_pixels * channels;
    const size_t taps0 = axes[0].taps, taps1 = axes[1].taps, taps2 = axes[2].taps, run_bytes = taps2 * icg;
    const size_t height = s.in[1], line_bytes = s.in[2] * channels;
    const long* table0 = axes[0].input.data();
    const long* table1 = axes[1].input.data();
    const long* table2 = axes[2].input.data();
    const uint8_t* runs = axes[2].run.data();
    const uint8_t* x = call.x + group * icg;
    const int zero_point = call.x_zp;
    uint8_t* rows_out = a.data();
    // The row's (image, D, H, W) indices, advanced row by row (no divisions per row).
    size_t n = r0 / per_image, a0 = r0 % per_image / (n1 * n2), a1 = r0 / n2 % n1, a2 = r0 % n2;
    for (size_t row = r0; row < r1; ++row, ++a2) {
      if (a2 == n2) {
        a2 = 0;
        if (++a1 == n1) {
          a1 = 0;
          if (++a0 == n0) {
            a0 = 0;
            ++n;
          }
        }
      }
      const uint8_t* image = x + n * image_bytes;
      uint8_t* dst = rows_out + (row - r0) * row_bytes;
      for (size_t i = k; i < row_bytes; ++i) dst[i] = 0;
      const long* in0 = table0 + a0 * taps0;
      const long* in1 = table1 + a1 * taps1;
      const long* in2 = table2 + a2 * taps2;
      const bool run = whole_runs && runs[a2];
      for (size_t t0 = 0; t0 < taps0; ++t0) {
        for (size_t t1 = 0; t1 < taps1; ++t1) {
          const bool line = in0[t0] >= 0 && in1[t1] >= 0;
          const uint8_t* src_line =
              image + (static_cast<size_t>(line ? in0[t0] : 0) * height + static_cast<size_t>(line ? in1[t1] : 0)) *
                          line_bytes;
          if (line && run) {
            CopyBytes(dst, src_line + static_cast<size_t>(in2[0]) * channels, run_bytes);
            dst += run_bytes;
            continue;
          }
          for (size_t t2 = 0; t2 < taps2; ++t2, dst += icg) {
            if (line && in2[t2] >= 0) {
              CopyBytes(dst, src_line + static_cast<size_t>(in2[t2]) * channels, icg);
            } else {
              std::memset(dst, zero_point, icg);
            }
          }
        }
      }
    }
    if (direct) {
      thread_local std::vector<int32_t> terms;
      terms.resize(r1 - r0);
      for (size_t row = r0; row < r1; ++row) {
        terms[row - r0] = stages[group].row_terms ? GemmRowTerm(a.data() + (row - r0) * row_bytes, k, call.x_zp) : 0;
      }
      if (!g.transposed) {
        RunGemmTiles(stages[group], r1 - r0, a.data(), row_bytes, terms.data(),
                     call.y + output_pixel(r0) * g.out_channels + group * ocg, g.out_channels);
        if (block_epilogue) BlockDone(call, r0 * g.out_channels, r1 * g.out_channels);
        return;
      }
      std::vector<uint8_t>& out = ThreadScratch(1);
      out.resize(block * ocg);
      RunGemmTiles(stages[group], r1 - r0, a.data(), row_bytes, terms.data(), out.data(), ocg);
      for (size_t row = r0; row < r1; ++row) {
        std::memcpy(call.y + output_pixel(row) * g.out_channels + group * ocg, out.data() + (row - r0) * ocg, ocg);
      }
      return;
    }
    const GemmRequant rq = GroupRequant(call, group * ocg);
    if (!g.transposed) {
      errors[task] = QGemmU8(*phase.gemm[group], r1 - r0, a.data(), k, rq,
                             call.y + output_pixel(r0) * g.out_channels + group * ocg, g.out_channels);
      if (block_epilogue && errors[task].ok()) BlockDone(call, r0 * g.out_channels, r1 * g.out_channels);
      return;
    }
    std::vector<uint8_t>& out = ThreadScratch(1);
    out.resize(block * ocg);
    errors[task] = QGemmU8(*phase.gemm[group], r1 - r0, a.data(), k, rq, out.data(), ocg);
    for (size_t row = r0; row < r1; ++row) {
      std::memcpy(call.y + output_pixel(row) * g.out_channels + group * ocg, out.data() + (row - r0) * ocg, ocg);
    }
  });
  for (const Status& e : errors) QK_RETURN_IF_ERROR(e);
  return Status::Ok();
}

// The pack the indirect GEMM of one group runs at the active level (ProvenPack's). Null: no
// indirect kernel for that layout or A format (the caller gathers).
const PackedGemm* IndirectPack(const ConvCall& call, const GemmWeights& weights, size_t input_bytes, int* proof) {
  const PackedGemm* p = ProvenPack(call, weights, input_bytes, true, proof);
  if (p == nullptr) return nullptr;
  const GemmAFormat format = p->layout().a_format;
  if (p->layout().igemm_kernel == nullptr || (format != GemmAFormat::kU8 && format != GemmAFormat::kS16)) return nullptr;
  return p;
}

// Output lines (image, D, H) per task at most; 8 lines give the edge columns' GEMMs full tiles.
constexpr size_t kLinesPerTask = 8;
// The W-lines path needs an interior of at least this many pixels per line (two tiles of 8 rows):
// a shorter one leaves its tiles mostly empty, where the per-pixel pointers fill whole tiles
// across lines.
constexpr size_t kLinesMinInterior = 16;

// The indirect GEMM over whole output lines (W-line runs, groups 1, uint8 A, a layout with a
// strided indirect kernel): the pixels of a line whose W taps are inside the input read run r at
// the line's start + p * stride * C, so the strided kernel takes the line's run starts once (no
// pointer per pixel and run, which took 12% of a conv3d's time, perf). Those pixels are a
// stretch [lo, hi) of every line; each edge column o outside it is one indirect GEMM over the
// task's lines (its rows n2 output pixels apart), its runs pointers into the per-input-line copies
// of the few padded pixels the edges read (a copy per output line and run took 4.5% of the
// conv3d's time, perf). False when the geometry does not suit (the caller keeps a pointer per
// run).
bool RunIndirectLines(ConvCall& call, const ConvPhase& phase, const ConvGemmStage& stage, const AxisTable* axes,
                      const std::vector<uint32_t>& pixel_sums, bool row_terms) {
  const ConvGeometry& g = call.w->geometry;
  const GemmLayout& layout = stage.pack->layout();
  if (!phase.lines || g.groups != 1 || layout.igemm_strided_kernel == nullptr ||
      layout.a_format != GemmAFormat::kU8) {
    return false;
  }
  const Shape3& s = call.s;
  const size_t channels = g.in_channels, taps0 = axes[0].taps, taps1 = axes[1].taps, taps2 = axes[2].taps;
  const size_t lines = taps0 * taps1, segments = phase.segments, run_len = phase.segment_len;
  const size_t run_bytes = phase.segment_bytes, n2 = s.out[2], width = s.in[2], step = s.stride[2] * channels;
  if (segments != lines) return false;
  // The stretch: taps consecutive and in place, starts one W stride apart, each run (with its
  // bytes past run_len) inside its input line.
  const long* table2 = axes[2].input.data();
  size_t lo = 0;
  while (lo < n2 && !axes[2].run[lo]) ++lo;
  size_t hi = lo;
  while (hi < n2 && axes[2].run[hi] &&
         table2[hi * taps2] == table2[lo * taps2] + static_cast<long>((hi - lo) * s.stride[2]) &&
         static_cast<size_t>(table2[hi * taps2]) * channels + run_bytes <= width * channels) {
    ++hi;
  }
  const size_t count = hi - lo, edges = n2 - count;
  if (count < kLinesMinInterior || 4 * edges > count) return false;
  const size_t n1 = s.out[1], per_image_lines = s.out[0] * n1, total_lines = call.batch * per_image_lines;
  const size_t oc = g.out_channels;
  RunBuffers& buffers = ThreadRunBuffers();
  // A D/H tap line in the padding reads this row of x_zp for every pixel of the stretch.
  std::vector<uint8_t>& zero_line = buffers.zero_line;
  zero_line.assign((count - 1) * step + run_bytes, static_cast<uint8_t>(call.x_zp));
  const uint8_t* zero = zero_line.data();
  // Each input line's edge blocks: the padded W coordinates the edge columns read (left: those of
  // the columns before the stretch, right: after it), holding x_zp or the pixel a padding mode maps
  // there. Built once per call (a few pixels per input line, read by every output line whose taps
  // reach that line), so an edge pixel's run is a pointer into its line's block.
  const size_t stride_w = s.stride[2], left_pixels = lo == 0 ? 0 : (lo - 1) * stride_w + taps2;
  const size_t right_pixels = hi == n2 ? 0 : (n2 - 1 - hi) * stride_w + taps2;
  const size_t block_bytes = (left_pixels + right_pixels) * channels, input_lines = call.batch * s.in[0] * s.in[1];
  std::vector<uint8_t>& edge_blocks = buffers.edge_blocks;
  edge_blocks.resize(input_lines * block_bytes + (run_bytes - run_len));  // a run may read past its values
  {
    uint8_t* block = edge_blocks.data();
    const uint8_t* x = call.x;
    const uint8_t zero_point = static_cast<uint8_t>(call.x_zp);
    for (size_t line = 0; line < input_lines; ++line, block += block_bytes) {
      const uint8_t* source = x + line * width * channels;
      for (size_t o = 0; o < n2; ++o) {
        if (o == lo) o = hi;  // past the stretch
        if (o >= n2) break;
        const size_t first_pixel = o < lo ? o * stride_w : left_pixels + (o - hi) * stride_w;
        for (size_t t2 = 0; t2 < taps2; ++t2) {
          const long in = table2[o * taps2 + t2];
          uint8_t* to = block + (first_pixel + t2) * channels;
          if (in >= 0) {
            CopyBytes(to, source + static_cast<size_t>(in) * channels, channels);
          } else {
            std::memset(to, zero_point, channels);
          }
        }
      }
    }
    std::memset(edge_blocks.data() + input_lines * block_bytes, 0, run_bytes - run_len);
  }
  const uint8_t* blocks = edge_blocks.data();
  const size_t per_task = std::min(kLinesPerTask, std::max<size_t>(1, total_lines / 16));
  const size_t tasks = (total_lines + per_task - 1) / per_task;
  const bool block_epilogue = call.epilogue != nullptr;
  call.epilogue_applied = block_epilogue;
  const double task_ns = static_cast<double>(per_task * n2 * phase.k * oc) / kMacsPerNs;
  ParallelFor(tasks, task_ns, [&](size_t task) {
    const size_t l0 = task * per_task, l1 = std::min(total_lines, l0 + per_task), task_lines = l1 - l0;
    // Everything the loops read, in locals: the gathers' byte stores may alias any memory.
    const size_t taps_0 = taps0, taps_1 = taps1, taps_2 = taps2, tap_lines = lines, icg = channels;
    const size_t height = s.in[1], line_width = width, out_w = n2, out_c = oc;
    const long* table0 = axes[0].input.data();
    const long* table1 = axes[1].input.data();
    const long* columns = table2;
    const uint8_t* x = call.x;
    const uint8_t* zero_row = zero;
    const uint32_t* sums = pixel_sums.data();
    const int zero_point = call.x_zp;
    const uint32_t padding_sum = static_cast<uint32_t>(icg) * static_cast<uint32_t>(zero_point);
    const uint32_t zero_term = static_cast<uint32_t>(phase.k) * static_cast<uint32_t>(zero_point);
    // Per task line and tap line: the input pixel its line starts at (in the whole batch), or
    // kNone for a line in the padding.
    constexpr size_t kNone = SIZE_MAX;
    thread_local std::vector<size_t> line_starts, line_index;  // the latter: the input line (its edge block)
    thread_local std::vector<const uint8_t*> starts;
    thread_local std::vector<int32_t> terms, column_terms;
    line_starts.resize(task_lines * tap_lines);
    line_index.resize(task_lines * tap_lines);
    starts.resize(tap_lines);
    terms.resize(count);
    column_terms.resize(edges * task_lines);
    size_t* first = line_starts.data();
    size_t* input_line = line_index.data();
    for (size_t r = 0; r < task_lines; ++r) {
      const size_t line = l0 + r, n = line / per_image_lines, a0 = line % per_image_lines / n1, a1 = line % n1;
      for (size_t t0 = 0; t0 < taps_0; ++t0) {
        for (size_t t1 = 0; t1 < taps_1; ++t1) {
          const long i0 = table0[a0 * taps_0 + t0], i1 = table1[a1 * taps_1 + t1];
          const size_t j = r * tap_lines + t0 * taps_1 + t1;
          input_line[j] = (n * s.in[0] + static_cast<size_t>(i0)) * height + static_cast<size_t>(i1);
          first[j] = i0 >= 0 && i1 >= 0 ? input_line[j] * line_width : kNone;
        }
      }
    }
    // Row term of output pixel o of task line r (k * x_zp - the sum of its k values).
    auto row_term = [&](size_t r, size_t o) {
      uint32_t sum = 0;
      const long* in2 = columns + o * taps_2;
      for (size_t l = 0; l < tap_lines; ++l) {
        const size_t start = first[r * tap_lines + l];
        for (size_t t2 = 0; t2 < taps_2; ++t2) {
          sum += start != kNone && in2[t2] >= 0 ? sums[start + static_cast<size_t>(in2[t2])] : padding_sum;
        }
      }
      return static_cast<int32_t>(zero_term - sum);
    };
    // The edge pixels' runs: pointers into their input lines' edge blocks (or the row of x_zp),
    // per edge column e its task lines' rows.
    thread_local std::vector<const uint8_t*> edge_runs;
    edge_runs.resize(edges * task_lines * tap_lines);
    int32_t* edge_terms = column_terms.data();
    for (size_t e = 0; e < edges; ++e) {
      const size_t o = e < lo ? e : e - lo + hi;
      const size_t offset = (o < lo ? o * stride_w : left_pixels + (o - hi) * stride_w) * icg;
      for (size_t r = 0; r < task_lines; ++r) {
        const uint8_t** runs = edge_runs.data() + (e * task_lines + r) * tap_lines;
        for (size_t l = 0; l < tap_lines; ++l) {
          const size_t start = first[r * tap_lines + l];
          runs[l] = start == kNone ? zero_row : blocks + input_line[r * tap_lines + l] * block_bytes + offset;
        }
        if (row_terms) edge_terms[e * task_lines + r] = row_term(r, o);
      }
    }
    // The stretch of each line: the strided kernel on x in place.
    const size_t stretch_offset = static_cast<size_t>(columns[lo * taps_2]) * icg;
    for (size_t r = 0; r < task_lines; ++r) {
      for (size_t l = 0; l < tap_lines; ++l) {
        const size_t start = first[r * tap_lines + l];
        starts[l] = start == kNone ? zero_row : x + start * icg + stretch_offset;
      }
      for (size_t a = 0; a < count && row_terms; ++a) terms[a] = row_term(r, lo + a);
      RunIgemmStridedTiles(stage, count, starts.data(), step, segments, run_bytes, terms.data(),
                           call.y + ((l0 + r) * out_w + lo) * out_c, out_c);
    }
    // Each edge column: one indirect GEMM over the task's lines, rows n2 output pixels apart.
    for (size_t e = 0; e < edges; ++e) {
      const size_t o = e < lo ? e : e - lo + hi;
      RunIgemmTiles(stage, task_lines, edge_runs.data() + e * task_lines * tap_lines, segments, run_bytes,
                    edge_terms + e * task_lines, call.y + (l0 * out_w + o) * out_c, out_w * out_c);
    }
    if (block_epilogue) BlockDone(call, l0 * out_w * out_c, l1 * out_w * out_c);
  });
  return true;
}

// Indirect GEMM (XNNPACK's igemm idea) for an ordinary convolution whose active pack has an
// indirect kernel: no im2col. Each output pixel's row is the phase's runs (a tap's channels or a
// W line of taps) read in place through pointers; a run in the padding points at a row of x_zp
// values, and the few runs that are not in place (a W line crossing the padding or a padding
// mode's mapping, or one whose segment_bytes would read past the end of x) are gathered into
// per-thread scratch. Row terms come from per-pixel channel sums (each input byte summed once).
// A layout whose A format is int16 (AVX2's exact 6x16c2) reads a copy of x widened once per call
// (twice the input's bytes, against an im2col of k bytes per output pixel), the runs and the
// padding row in int16 too. False: not applicable (the caller runs RunPhase).
bool RunIndirect(ConvCall& call, const ConvPhase& phase) {
  const ConvGeometry& g = call.w->geometry;
  if (g.transposed || phase.igemm.empty()) return false;
  const size_t icg = g.in_channels / g.groups, ocg = g.out_channels / g.groups;
  const size_t channels = g.in_channels, in_pixels = call.s.in[0] * call.s.in[1] * call.s.in[2];
  const size_t input_bytes = call.batch * in_pixels * channels;
  RunBuffers& buffers = ThreadRunBuffers();
  std::vector<ConvGemmStage>& stages = buffers.stages;
  stages.resize(g.groups);
  bool row_terms = false, wide = false;
  int proof = -1;
  for (size_t group = 0; group < g.groups; ++group) {
    ConvGemmStage& stage = stages[group];
    const PackedGemm* pack = IndirectPack(call, *phase.igemm[group], input_bytes, &proof);
    if (pack == nullptr || phase.segment_bytes % pack->layout().kr != 0) return false;
    PrepareGemmStage(*pack, call.bias_int + group * ocg, call.bias_term + group * ocg,
                     call.multiplier + group * ocg, call.w->w_zero_points.data() + group * ocg,
                     static_cast<float>(call.y_min - call.y_zp), static_cast<float>(255 - call.y_zp), call.y_zp_f,
                     call.y_zp_i, call.x_zp, &stage);
    row_terms = row_terms || stage.row_terms;
    wide = wide || pack->layout().a_format == GemmAFormat::kS16;
  }
  const Shape3& s = call.s;
  AxisTable* axes = buffers.axes;
  for (int d = 0; d < 3; ++d) BuildAxisTable(g, s, d, phase, &axes[d]);
  const size_t n1 = s.out[1], n2 = s.out[2], per_image = s.out[0] * n1 * n2, rows = call.batch * per_image;
  if (rows == 0) return true;
  // run_end[o]: the end of the stretch of W outputs from o on whose taps read consecutive input
  // pixels (o itself when its taps do not).
  std::vector<size_t>& run_end = buffers.run_end;
  run_end.assign(n2 + 1, n2);
  for (size_t o = n2; o-- > 0;) run_end[o] = axes[2].run[o] ? run_end[o + 1] : o;
  // The int16 copy of x, in parallel pieces of 64 KiB.
  std::unique_ptr<int16_t[]> x16(wide ? new int16_t[input_bytes] : nullptr);  // every element written below
  if (wide) {
    constexpr size_t kPiece = 64 * 1024;
    const uint8_t* x = call.x;
    int16_t* out = x16.get();
    ParallelFor((input_bytes + kPiece - 1) / kPiece, static_cast<double>(kPiece) / kBytesPerNs, [=](size_t piece) {
      const size_t end = std::min(input_bytes, (piece + 1) * kPiece);
      for (size_t i = piece * kPiece; i < end; ++i) out[i] = x[i];
    });
  }
  // Per (input pixel, group): the sum of the group's channels, for the row terms.
  std::vector<uint32_t> pixel_sums;
  if (row_terms) {
    pixel_sums.resize(call.batch * in_pixels * g.groups);
    for (size_t p = 0; p < call.batch * in_pixels; ++p) {
      for (size_t group = 0; group < g.groups; ++group) {
        const uint8_t* v = call.x + p * channels + group * icg;
        uint32_t sum = 0;
        for (size_t c = 0; c < icg; ++c) sum += v[c];
        pixel_sums[p * g.groups + group] = sum;
      }
    }
  }
  std::vector<uint8_t>& zero_run = buffers.zero_run;
  std::vector<int16_t>& zero_run16 = buffers.zero_run16;
  zero_run.assign(phase.segment_bytes, static_cast<uint8_t>(call.x_zp));
  zero_run16.assign(wide ? phase.segment_bytes : 0, static_cast<int16_t>(call.x_zp));
  if (!wide && RunIndirectLines(call, phase, stages[0], axes, pixel_sums, row_terms)) return true;
  const size_t segments = phase.segments, run_len = phase.segment_len, run_bytes = phase.segment_bytes;
  const size_t k = phase.k;
  const size_t block = std::max<size_t>(16, std::min<size_t>(512, kBlockBytes / k / 8 * 8));
  const size_t blocks = (rows + block - 1) / block;
  const bool block_epilogue = call.epilogue != nullptr && g.groups == 1;
  call.epilogue_applied = block_epilogue;
  const double task_ns = static_cast<double>(std::min(rows, block) * k * ocg) / kMacsPerNs;
  ParallelFor(blocks * g.groups, task_ns, [&](size_t task) {
    const size_t b = task / g.groups, group = task % g.groups;
    const size_t r0 = b * block, r1 = std::min(rows, r0 + block);
    const ConvGemmStage& stage = stages[group];
    // The group's A format: bytes of x, or the int16 copy (every offset below is in bytes of it).
    const size_t e = stage.pack->layout().a_format == GemmAFormat::kS16 ? 2 : 1;
    const uint8_t* source = e == 2 ? reinterpret_cast<const uint8_t*>(x16.get()) : call.x;
    thread_local std::vector<const uint8_t*> pointers;
    thread_local std::vector<int32_t> terms;
    pointers.resize((r1 - r0) * segments);
    terms.resize(r1 - r0);
    // Gathered runs, at most one per (row, run) of the block; only the edges write here.
    std::vector<uint8_t>& gathered = ThreadScratch(0);
    const size_t run_size = run_bytes * e;  // a run's bytes in the A format
    if (gathered.size() < (r1 - r0) * segments * run_size) gathered.resize((r1 - r0) * segments * run_size);
    // Everything the loops read, in locals: the gathers' uint8_t stores may alias any memory.
    const size_t taps0 = axes[0].taps, taps1 = axes[1].taps, taps2 = axes[2].taps, lines = taps0 * taps1;
    const size_t height = s.in[1], width = s.in[2], groups = g.groups;
    const long* table0 = axes[0].input.data();
    const long* table1 = axes[1].input.data();
    const long* table2 = axes[2].input.data();
    const uint8_t* runs = axes[2].run.data();
    const uint8_t* zero = e == 2 ? reinterpret_cast<const uint8_t*>(zero_run16.data()) : zero_run.data();
    // A run starting after this would read past x (or its copy).
    const uintptr_t limit = reinterpret_cast<uintptr_t>(source + input_bytes * e) - run_size;
    const size_t pixel_bytes = channels * e, run_len_bytes = run_len * e, icg_bytes = icg * e;
    const int zero_point = call.x_zp;
    // count values of x_zp in the A format at dst (a tap of a gathered line in the padding).
    auto fill_zero_point = [e, zero_point](uint8_t* dst, size_t count) {
      if (e == 1) {
        std::memset(dst, zero_point, count);
        return;
      }
      const int16_t v = static_cast<int16_t>(zero_point);
      for (size_t i = 0; i < count; ++i) std::memcpy(dst + 2 * i, &v, 2);
    };
    const uint32_t padding_sum = static_cast<uint32_t>(icg) * static_cast<uint32_t>(zero_point);
    const uint32_t zero_term = static_cast<uint32_t>(k) * static_cast<uint32_t>(zero_point);
    const uint32_t* sums = pixel_sums.data();
    const bool by_lines = phase.lines;
    // Per (D, H) tap of the current output line: the first pixel of its input line (padding: none).
    thread_local std::vector<size_t> line_pixels;
    thread_local std::vector<uint8_t> line_valid;
    line_pixels.resize(lines);
    line_valid.resize(lines);
    size_t* line_pixel = line_pixels.data();
    thread_local std::vector<size_t> pixel_offsets;  // per W output of a stretch: its first tap's byte offset
    pixel_offsets.resize(n2);
    size_t* offsets = pixel_offsets.data();
    uint8_t* valid = line_valid.data();
    const uint8_t** p = pointers.data();
    int32_t* term = terms.data();
    uint8_t* scratch = gathered.data();
    // Output lines (image, D, H) one at a time: their line bases once, then the pixels along W.
    for (size_t row = r0; row < r1;) {
      const size_t n = row / per_image, a0 = row % per_image / (n1 * n2), a1 = row / n2 % n1, first = row % n2;
      const size_t last = std::min(n2, first + (r1 - row));
      row += last - first;
      const size_t image_pixel = n * in_pixels;
      const uint8_t* image = source + (image_pixel * channels + group * icg) * e;
      for (size_t t0 = 0; t0 < taps0; ++t0) {
        for (size_t t1 = 0; t1 < taps1; ++t1) {
          const long i0 = table0[a0 * taps0 + t0], i1 = table1[a1 * taps1 + t1];
          const size_t l = t0 * taps1 + t1;
          valid[l] = i0 >= 0 && i1 >= 0;
          line_pixel[l] = valid[l] ? (static_cast<size_t>(i0) * height + static_cast<size_t>(i1)) * width : 0;
        }
      }
      auto row_term = [&](const long* in2) {
        if (!row_terms) return int32_t{0};
        uint32_t sum = 0;
        for (size_t l = 0; l < lines; ++l) {
          for (size_t t2 = 0; t2 < taps2; ++t2) {
            sum += valid[l] && in2[t2] >= 0
                       ? sums[(image_pixel + line_pixel[l] + static_cast<size_t>(in2[t2])) * groups + group]
                       : padding_sum;
          }
        }
        return static_cast<int32_t>(zero_term - sum);
      };
      size_t general_end = first;  // pixels before this go the general way (their stretch failed the check)
      for (size_t a2 = first; a2 < last;) {
        if (a2 >= general_end) {
          // Pixels [a2, end) whose W taps are all inside the input and consecutive, when none of
          // their runs reads past x: every pointer is its line's base plus the pixel's offset.
          // Run r of pixel a: its line's first tap byte + r's tap offset + the pixel's offset.
          // Written run by run (a strided column of the block's pointers), pixel offsets once.
          const size_t end = std::min(last, run_end[a2]), count = end - a2, per_line = segments / lines;
          size_t highest = 0;  // the largest pixel offset (a padding mode's map need not increase along W)
          for (size_t a = 0; a < count; ++a) {
            offsets[a] = static_cast<size_t>(table2[(a2 + a) * taps2]) * pixel_bytes;
            highest = std::max(highest, offsets[a]);
          }
          bool in_place = count > 0;
          for (size_t l = 0; l < lines && in_place; ++l) {
            const uint8_t* last_run = image + (line_pixel[l] + per_line - 1) * pixel_bytes + highest;
            in_place = !valid[l] || reinterpret_cast<uintptr_t>(last_run) <= limit;
          }
          if (in_place) {
            for (size_t a = 0; a < count; ++a) term[a] = row_term(table2 + (a2 + a) * taps2);
            for (size_t l = 0; l < lines; ++l) {
              for (size_t t = 0; t < per_line; ++t) {
                const uint8_t** column = p + l * per_line + t;
                if (!valid[l]) {
                  for (size_t a = 0; a < count; ++a) column[a * segments] = zero;
                  continue;
                }
                const uint8_t* start = image + (line_pixel[l] + t) * pixel_bytes;
                for (size_t a = 0; a < count; ++a) column[a * segments] = start + offsets[a];
              }
            }
            p += count * segments;
            term += count;
            scratch += count * segments * run_size;
            a2 = end;
            continue;
          }
          general_end = end;
        }
        // One pixel the general way: runs in the padding, gathered lines, the end of x.
        const long* in2 = table2 + a2 * taps2;
        *term++ = row_term(in2);
        ++a2;
        if (by_lines && runs[a2 - 1]) {  // the line's bytes in place unless they would end past x
          const size_t offset = static_cast<size_t>(in2[0]) * pixel_bytes;
          for (size_t l = 0; l < lines; ++l, scratch += run_size) {
            const uint8_t* src = image + line_pixel[l] * pixel_bytes + offset;
            if (!valid[l]) {
              src = zero;
            } else if (reinterpret_cast<uintptr_t>(src) > limit) {
              std::memcpy(scratch, src, run_len_bytes);
              src = scratch;
            }
            *p++ = src;
          }
          continue;
        }
        if (by_lines) {  // a line crossing the padding or mapped coordinates: gathered
          for (size_t l = 0; l < lines; ++l, scratch += run_size) {
            if (!valid[l]) {
              *p++ = zero;
              continue;
            }
            const uint8_t* src_line = image + line_pixel[l] * pixel_bytes;
            for (size_t t2 = 0; t2 < taps2; ++t2) {
              if (in2[t2] >= 0) {
                std::memcpy(scratch + t2 * icg_bytes, src_line + static_cast<size_t>(in2[t2]) * pixel_bytes, icg_bytes);
              } else {
                fill_zero_point(scratch + t2 * icg_bytes, icg);
              }
            }
            *p++ = scratch;
          }
          continue;
        }
        for (size_t l = 0; l < lines; ++l) {  // one run per tap
          const uint8_t* src_line = image + line_pixel[l] * pixel_bytes;
          for (size_t t2 = 0; t2 < taps2; ++t2, scratch += run_size) {
            const uint8_t* src = zero;
            if (valid[l] && in2[t2] >= 0) src = src_line + static_cast<size_t>(in2[t2]) * pixel_bytes;
            if (src != zero && reinterpret_cast<uintptr_t>(src) > limit) {
              std::memcpy(scratch, src, run_len_bytes);
              src = scratch;
            }
            *p++ = src;
          }
        }
      }
    }
    RunIgemmTiles(stage, r1 - r0, pointers.data(), segments, run_bytes, terms.data(),
                  call.y + r0 * g.out_channels + group * ocg, g.out_channels);
    if (block_epilogue) BlockDone(call, r0 * g.out_channels, r1 * g.out_channels);
  });
  return true;
}

// ---- packing --------------------------------------------------------------------------

bool IsDepthwise(const ConvGeometry& g) {
  return !g.transposed && g.groups == g.in_channels && g.out_channels == g.in_channels && g.groups > 1;
}

bool IsPointwise(const ConvGeometry& g) {
  if (g.transposed) return false;
  for (int d = 0; d < g.dims; ++d) {
    if (g.kernel[d] != 1 || g.stride[d] != 1 || g.pad_before[d] != 0 || g.pad_after[d] != 0) return false;
  }
  return true;
}

// The phases of a geometry with their tap lists (weights not yet packed).
std::vector<ConvPhase> PlanPhases(const ConvGeometry& g) {
  size_t kernel[3], stride[3] = {1, 1, 1}, dilation[3] = {1, 1, 1};
  Kernel3(g, kernel);
  const int skip = 3 - g.dims;
  for (int d = skip; d < 3; ++d) {
    stride[d] = g.stride[d - skip];
    dilation[d] = g.dilation[d - skip];
  }
  const size_t residues[3] = {g.transposed ? stride[0] : 1, g.transposed ? stride[1] : 1,
                              g.transposed ? stride[2] : 1};
  std::vector<ConvPhase> phases;
  for (size_t r0 = 0; r0 < residues[0]; ++r0) {
    for (size_t r1 = 0; r1 < residues[1]; ++r1) {
      for (size_t r2 = 0; r2 < residues[2]; ++r2) {
        ConvPhase phase;
        const size_t r[3] = {r0, r1, r2};
        size_t taps = 1;
        for (int d = 0; d < 3; ++d) {
          phase.residue[d] = r[d];
          for (size_t k = 0; k < kernel[d]; ++k) {
            // Transposed: output o reads input (o + pad - k * dilation) / stride, an integer only for
            // the taps with k * dilation = o + pad (mod stride).
            if (!g.transposed || (k * dilation[d]) % stride[d] == r[d]) phase.taps[d].push_back(k);
          }
          // Transposed: from the last kernel index down, so that the taps read increasing input
          // coordinates (consecutive ones with dilation 1): the K order of the windows path
          // (RunConv1dWindows) and of whole-run copies in RunPhase. Any order gives the same sums.
          if (g.transposed) std::reverse(phase.taps[d].begin(), phase.taps[d].end());
          taps *= phase.taps[d].size();
        }
        phase.k = taps * (g.in_channels / g.groups);
        phases.push_back(std::move(phase));
      }
    }
  }
  return phases;
}

// The GEMM weights of one phase and group: row j (output channel group * ocg + j), column
// tap * icg + c with taps in the phase's D, H, W order.
Status PackPhase(const ConvGeometry& g, const int8_t* w, const std::vector<int32_t>& w_zero_points, ConvPhase* phase) {
  size_t kernel[3];
  Kernel3(g, kernel);
  const size_t all_taps = kernel[0] * kernel[1] * kernel[2];
  const size_t icg = g.in_channels / g.groups, ocg = g.out_channels / g.groups;
  if (phase->k == 0) return Status::Ok();
  std::vector<int8_t> rows(ocg * phase->k);
  for (size_t group = 0; group < g.groups; ++group) {
    for (size_t j = 0; j < ocg; ++j) {
      int8_t* dst = rows.data() + j * phase->k;
      for (size_t k0 : phase->taps[0]) {
        for (size_t k1 : phase->taps[1]) {
          for (size_t k2 : phase->taps[2]) {
            const size_t tap = (k0 * kernel[1] + k1) * kernel[2] + k2;
            for (size_t c = 0; c < icg; ++c) {
              *dst++ = g.transposed ? w[((group * icg + c) * ocg + j) * all_taps + tap]
                                    : w[((group * ocg + j) * icg + c) * all_taps + tap];
            }
          }
        }
      }
    }
    GemmWeightsDesc desc;
    desc.n = ocg;
    desc.k = phase->k;
    desc.w = rows.data();
    desc.w_zero_points = w_zero_points.data() + group * ocg;
    std::shared_ptr<GemmWeights> gemm;
    QK_RETURN_IF_ERROR(GemmWeights::Create(desc, &gemm));
    phase->gemm.push_back(std::move(gemm));
    if (phase->segments == 0) continue;
    // The same rows with each run of segment_len values followed by zero columns up to segment_bytes.
    std::vector<int8_t> spread(ocg * phase->segments * phase->segment_bytes, 0);
    for (size_t j = 0; j < ocg; ++j) {
      for (size_t r = 0; r < phase->segments; ++r) {
        std::memcpy(spread.data() + (j * phase->segments + r) * phase->segment_bytes,
                    rows.data() + j * phase->k + r * phase->segment_len, phase->segment_len);
      }
    }
    desc.k = phase->segments * phase->segment_bytes;
    desc.w = spread.data();
    QK_RETURN_IF_ERROR(GemmWeights::Create(desc, &gemm));
    phase->igemm.push_back(std::move(gemm));
  }
  return Status::Ok();
}

// Chooses the indirect GEMM's runs of a phase (not 1x1, not the 1-D windows): W lines when a line's
// taps are consecutive input pixels whose channels are all the group's (groups 1, dilation 1
// along W, not transposed), else one run per tap.
void PlanIndirectRuns(const ConvGeometry& g, ConvPhase* phase) {
  if (IsPointwise(g) || phase->k == 0) return;
  // 1-D, groups 1, dilation 1: the windows path (RunConv1dWindows) takes these wherever the
  // indirect kernel would, so no second pack.
  if (!g.transposed && Conv1dWindowsGeometry(g)) return;
  const size_t icg = g.in_channels / g.groups, kw = g.kernel[g.dims - 1];
  // A transposed phase's W taps skip kernel indices (their runs are not a W line of the kernel):
  // one run per tap (the prepared run's indirection, PrepareConvRun; the per-call path gathers them).
  phase->lines = !g.transposed && g.groups == 1 && g.dilation[g.dims - 1] == 1 && kw > 1;
  phase->segment_len = phase->lines ? kw * icg : icg;
  phase->segments = phase->k / phase->segment_len;
  phase->segment_bytes = RoundUp(phase->segment_len, kIgemmSegmentAlign);
}

// ConvPacked::stacked, for the geometries it describes (else nothing).
Status PackStackedPhases(const ConvGeometry& g, const int8_t* w, const std::vector<int32_t>& w_zero_points,
                         ConvPacked* packed) {
  if (!g.transposed) return Status::Ok();
  for (int d = 0; d < g.dims; ++d) {
    if (g.kernel[d] != g.stride[d] || g.dilation[d] != 1) return Status::Ok();
  }
  size_t kernel[3];
  Kernel3(g, kernel);
  const size_t taps = kernel[0] * kernel[1] * kernel[2];  // one per phase: phase r's tap is r
  const size_t icg = g.in_channels / g.groups, ocg = g.out_channels / g.groups;
  const size_t run_bytes = RoundUp(icg, kIgemmSegmentAlign);
  std::vector<int8_t> rows(taps * ocg * run_bytes);
  std::vector<int32_t> zero_points(taps * ocg);
  for (size_t group = 0; group < g.groups; ++group) {
    std::fill(rows.begin(), rows.end(), 0);
    for (size_t tap = 0; tap < taps; ++tap) {
      for (size_t j = 0; j < ocg; ++j) {
        zero_points[tap * ocg + j] = w_zero_points[group * ocg + j];
        for (size_t c = 0; c < icg; ++c) {
          rows[(tap * ocg + j) * run_bytes + c] = w[((group * icg + c) * ocg + j) * taps + tap];
        }
      }
    }
    GemmWeightsDesc desc;
    desc.n = taps * ocg;
    desc.k = run_bytes;
    desc.w = rows.data();
    desc.w_zero_points = zero_points.data();
    std::shared_ptr<GemmWeights> gemm;
    QK_RETURN_IF_ERROR(GemmWeights::Create(desc, &gemm));
    packed->stacked.push_back(std::move(gemm));
  }
  return Status::Ok();
}

std::vector<int16_t> PackDepthwise(const ConvGeometry& g, const int8_t* w, const std::vector<int32_t>& w_zero_points) {
  size_t kernel[3];
  Kernel3(g, kernel);
  const size_t taps = kernel[0] * kernel[1] * kernel[2], channels = g.in_channels;
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  std::vector<int16_t> packed((taps + 1) / 2 * padded * 2, 0);
  for (size_t c = 0; c < channels; ++c) {
    for (size_t t = 0; t < taps; ++t) {
      packed[((t / 2) * padded + c) * 2 + t % 2] = static_cast<int16_t>(w[c * taps + t] - w_zero_points[c]);
    }
  }
  return packed;
}

// The quads layout of the same weights (ukernels/conv/conv.h), or empty when some w - w_zp
// does not fit int8 or there is no full block of 32 channels.
std::vector<int8_t> PackDepthwiseQuads(const ConvGeometry& g, const int8_t* w, const std::vector<int32_t>& w_zero_points) {
  size_t kernel[3];
  Kernel3(g, kernel);
  const size_t taps = kernel[0] * kernel[1] * kernel[2], blocks = g.in_channels / kDwconvQuadChannels;
  const size_t quads = (taps + 3) / 4;
  std::vector<int8_t> packed(blocks * quads * kDwconvQuadBytes, 0);
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t q = 0; q < quads; ++q) {
      for (size_t v = 0; v < 4; ++v) {
        for (size_t i = 0; i < 8; ++i) {
          const size_t c = b * kDwconvQuadChannels + DwconvQuadChannel(v, i);
          for (size_t j = 0; j < 4 && 4 * q + j < taps; ++j) {
            const int32_t value = w[c * taps + 4 * q + j] - w_zero_points[c];
            if (value < -128 || value > 127) return {};
            packed[(b * quads + q) * kDwconvQuadBytes + (v * 8 + i) * 4 + j] = static_cast<int8_t>(value);
          }
        }
      }
    }
  }
  return packed;
}

Status CheckQuantScale(float scale, const char* parameter) {
  return CheckScale(scale, ScaleRule::kPositiveFinite, "positive finite number", parameter, [&] { return std::to_string(scale); });
}

Status CheckActivationZeroPoint(int32_t zero_point, const char* parameter) {
  return CheckZeroPoint(zero_point, 0, 255, parameter);
}

}  // namespace

// ---- the prepared run (PrepareConvRun) --------------------------------------------------

// What a conv of one input shape, layout and qparams keeps from its Prepare so that a run only
// runs (ConvOp's, for a traced plan or a module's repeated calls): XNNPACK's indirection buffer.
// The run copies the input once into a padded channels_last image (the border holds x_zp, or the
// pixels a padding mode maps there; a contiguous input is transposed by the same copy), so every
// run of every output row lies inside that image: each row's run starts are pixel indices fixed
// at Prepare, and the run adds the image's address. A transposed convolution's phases are
// ordinary convolutions over the same image (their taps outside the input read the border), each
// written straight into its strided output pixels.
struct ConvRun {
  struct Phase {
    size_t k = 0, segments = 0, segment_len = 0, segment_bytes = 0;
    size_t rows = 0;                       // output rows per image
    size_t line_rows = 0;                  // transposed: rows per output line (W outputs of the phase)
    std::vector<uint32_t> pixels;          // [rows][segments]: the padded pixel each run starts at
    std::vector<size_t> line_out;          // transposed: the output pixel of each line's first row
    std::vector<ConvGemmStage> stages[2];  // per group: [0] with the proof (or no twin), [1] without
    // Gathered rows (PrepareGatherStages): > 0 when the rows' runs are copied into rows of this
    // many bytes and run by the direct GEMM of gather_stages (per group) instead of the indirect one.
    size_t gather_kpad = 0;
    std::vector<ConvGemmStage> gather_stages;
  };
  // Rows [first, end) of one image, phase and group (transposed: lines [first, end)).
  struct Task {
    size_t phase, group, n, first, end;
  };
  Isa isa = Isa::kScalar;                  // the level the stages' packs run at
  std::shared_ptr<const ConvPacked> packed;  // keeps the stages' packs alive
  size_t batch = 0, channels = 0, out_channels = 0, icg = 0, ocg = 0;
  size_t in[3] = {1, 1, 1}, padded[3] = {1, 1, 1};
  std::vector<long> source[3];             // per padded coordinate: the input coordinate it holds, -1: x_zp
  size_t in_pixels = 0, padded_pixels = 0, out_pixels = 0, out_elems = 0;
  bool contiguous_in = false, transpose_out = false, transposed = false, block_epilogue = false;
  size_t before[3] = {0, 0, 0};            // border pixels before the input along each dim
  bool plain_border = false;               // every border pixel holds x_zp (no padding mode maps there)
  bool twins = false;                      // a pack has an exact twin: the run takes the proof
  bool wide[2] = {false, false};           // a group's pack of that choice reads int16 A
  size_t out_step = 1;                     // output pixels between rows of a transposed line
  int32_t x_zp = 0;
  std::vector<Phase> phases;
  std::vector<Task> tasks;
  double task_ns = 0;
  // Stacked phases (PrepareStackedRun): phases[0] is the one GEMM, rows the padded pixels; row r's
  // results go out by copies [copy_begin[r], copy_begin[r + 1]) (bytes of the row's columns from
  // src to output pixel dst of the image, at the group's first channel).
  struct Copy {
    uint32_t src, dst, bytes;
  };
  bool stacked = false;
  std::vector<uint32_t> copy_begin;
  std::vector<Copy> copies;
};

namespace {

// Prepared runs index pixels of the padded image in 32 bits and keep one run start per (row, run)
// of an image: they are for the small convolutions whose per-call setup matters. Larger ones take
// the per-call paths, which read the input in place.
constexpr size_t kRunMaxStarts = size_t{1} << 16;
constexpr size_t kRunMaxPaddedBytes = size_t{1} << 20;
// An ordinary convolution's per-call path reads its input in place, where the prepared run first
// copies it: past about an L1 of input the copy costs more than the setup it saves (a 32x28x28
// conv ran 15% slower prepared). Transposed ones stay faster prepared at every size measured (the
// per-call path gathers each phase's rows): they keep kRunMaxPaddedBytes. So do ordinary ones
// with at most kRunFewChannels input channels (the stems): a pixel is a few bytes while
// the per-call path sets up kh runs per output pixel (a 3->16 3x3 s2 stem on 96x96, 27 KiB of
// input, ran 25% faster prepared, the 7x7 3->64 15%; doc/conv.md path 8).
constexpr size_t kRunMaxPaddedBytesConv = size_t{16} << 10;
constexpr size_t kRunFewChannels = 4;
// Zero bytes past the padded image: a run reads up to segment_bytes - segment_len (< 4) values
// past its last one, which meet zero weights.
constexpr size_t kRunSlack = 16;
// Transposed lines of at least this many rows are written by the kernel in place (two tiles of
// the widest MR, 8); shorter ones through a block.
constexpr size_t kRunLineRows = 16;
// Rows per piece of a gathered task (ConvRun::Phase::gather_kpad): a 7x7 stem's 64 rows of 148
// bytes and its 64 columns of weights (the same size) stay in L1 while the tiles run.
constexpr size_t kGatherRows = 64;

// The phase's row structure along one dim: its outputs and, per output and tap, RawCoordinate.
struct RawAxis {
  std::vector<size_t> outputs;
  std::vector<long> raw;  // [outputs.size()][taps]
  size_t taps = 0;
};

RawAxis BuildRawAxis(const ConvGeometry& g, const Shape3& s, int dim, const ConvPhase& phase) {
  RawAxis axis;
  axis.taps = phase.taps[dim].size();
  for (size_t o = 0; o < s.out[dim]; ++o) {
    if (g.transposed && (o + s.pad[dim]) % s.stride[dim] != phase.residue[dim]) continue;
    axis.outputs.push_back(o);
    for (size_t k : phase.taps[dim]) axis.raw.push_back(RawCoordinate(g, s, dim, o, k));
  }
  return axis;
}

// The image of run.padded pixels (channels_last, batch images) the runs read, from x.
void FillPadded(const ConvRun& run, const uint8_t* x, uint8_t* dst) {
  const size_t c_count = run.channels, line_pixels = run.padded[2];
  const uint8_t zp = static_cast<uint8_t>(run.x_zp);
  if (run.plain_border) {
    // The input as a block inside a border of x_zp: the border set at once, then the input's lines
    // copied (channels_last) or transposed (contiguous: channel c of a line is a row of plane c).
    // In locals: the byte stores may alias anything, so fields read through run would be reloaded.
    const size_t image_bytes = run.padded_pixels * c_count, in_pixels = run.in_pixels, width = run.in[2];
    if (run.padded_pixels != run.in_pixels) std::memset(dst, zp, run.batch * image_bytes);
    for (size_t n = 0; n < run.batch; ++n) {
      for (size_t d = 0; d < run.in[0]; ++d) {
        for (size_t h = 0; h < run.in[1]; ++h) {
          const size_t first = (d * run.in[1] + h) * run.in[2];  // the line's first pixel in the input image
          const size_t padded_line = (d + run.before[0]) * run.padded[1] + h + run.before[1];
          uint8_t* line = dst + n * image_bytes + (padded_line * line_pixels + run.before[2]) * c_count;
          if (!run.contiguous_in) {
            std::memcpy(line, x + (n * run.in_pixels + first) * c_count, run.in[2] * c_count);
            continue;
          }
          for (size_t c = 0; c < c_count; ++c) {
            const uint8_t* plane = x + (n * c_count + c) * in_pixels + first;
            for (size_t w = 0; w < width; ++w) line[w * c_count + c] = plane[w];
          }
        }
      }
    }
    return;
  }
  const long* source2 = run.source[2].data();
  for (size_t n = 0; n < run.batch; ++n) {
    for (size_t pd = 0; pd < run.padded[0]; ++pd) {
      for (size_t ph = 0; ph < run.padded[1]; ++ph, dst += line_pixels * c_count) {
        const long sd = run.source[0][pd], sh = run.source[1][ph];
        if (sd < 0 || sh < 0) {
          std::memset(dst, zp, line_pixels * c_count);
          continue;
        }
        const size_t line_in_image = static_cast<size_t>(sd) * run.in[1] + static_cast<size_t>(sh);
        const size_t first = n * run.in_pixels + line_in_image * run.in[2];
        if (!run.contiguous_in) {
          const uint8_t* line = x + first * c_count;
          for (size_t pw = 0; pw < line_pixels; ++pw) {
            if (source2[pw] < 0) {
              std::memset(dst + pw * c_count, zp, c_count);
            } else {
              CopyBytes(dst + pw * c_count, line + static_cast<size_t>(source2[pw]) * c_count, c_count);
            }
          }
          continue;
        }
        // Contiguous: channel c of the line is a row of plane c (the transpose to channels_last).
        const size_t pixel_in_image = first - n * run.in_pixels;
        for (size_t c = 0; c < c_count; ++c) {
          const uint8_t* plane = x + (n * c_count + c) * run.in_pixels + pixel_in_image;
          for (size_t pw = 0; pw < line_pixels; ++pw) dst[pw * c_count + c] = source2[pw] < 0 ? zp : plane[source2[pw]];
        }
      }
    }
  }
}

// Rows of about RunIndirect's block of bytes of A per task.
size_t RunBlockRows(size_t k) { return std::max<size_t>(16, std::min<size_t>(512, kBlockBytes / k / 8 * 8)); }

// ph->stages for the per-group indirect GEMMs `gemms` at the active level, for both choices of
// the proof, with call's output stage (each column's constants `tiles` times over: the stacked
// phases). False when a group's pack cannot run the prepared way.
bool PrepareRunStages(const std::vector<std::shared_ptr<GemmWeights>>& gemms, const ConvCall& call, size_t tiles,
                      ConvRun* run, ConvRun::Phase* ph) {
  const float lo = static_cast<float>(call.y_min - call.y_zp), hi = static_cast<float>(255 - call.y_zp);
  const size_t ocg = run->ocg, n = tiles * ocg;
  std::vector<int32_t> bias_int(n), w_zero_points(n);
  std::vector<float> bias_term(n), multiplier(n);
  for (int choice = 0; choice < 2; ++choice) {
    ph->stages[choice].resize(gemms.size());
    for (size_t group = 0; group < gemms.size(); ++group) {
      std::shared_ptr<const PackedGemm> pack;
      if (!gemms[group]->PackedForActiveIsa(&pack).ok()) return false;
      const PackedGemm* p = pack.get();  // lives as long as the weights (run->packed)
      run->twins = run->twins || p->exact_twin() != nullptr;
      if (choice == 1 && p->exact_twin() != nullptr) p = p->exact_twin();
      const GemmAFormat format = p->layout().a_format;
      if (p->layout().igemm_kernel == nullptr || (format != GemmAFormat::kU8 && format != GemmAFormat::kS16) ||
          ph->segment_bytes % p->layout().kr != 0) {
        return false;
      }
      run->wide[choice] = run->wide[choice] || format == GemmAFormat::kS16;
      for (size_t i = 0; i < n; ++i) {
        const size_t c = group * ocg + i % ocg;
        bias_int[i] = call.bias_int[c];
        bias_term[i] = call.bias_term[c];
        multiplier[i] = call.multiplier[c];
        w_zero_points[i] = call.w->w_zero_points[c];
      }
      PrepareGemmStage(*p, bias_int.data(), bias_term.data(), multiplier.data(), w_zero_points.data(), lo, hi,
                       call.y_zp_f, call.y_zp_i, call.x_zp, &ph->stages[choice][group]);
    }
  }
  return true;
}

// Gathered rows for an ordinary convolution whose runs waste much of the indirect GEMM's work
// on their padding to segment_bytes (3-channel stems: the 7x7's 21-byte lines read as 24, K 147
// padded to 168; the 3x3's 9-byte lines as 12, 27 to 36): when the direct GEMM's k (the runs
// back to back, rounded up to its KR) is at least an eighth smaller, each task copies its rows'
// runs into rows of that many bytes (a few 16/32-byte moves per run from the padded image) and
// runs the uint8-row GEMM on them, which also drops the kernel's pointer per run. Only where the
// direct pack reads uint8 rows and is exact for any input (avx512vnni, scalar). Leaves
// ph->gather_kpad 0 otherwise.
void PrepareGatherStages(const ConvPhase& phase, const ConvCall& call, ConvRun::Phase* ph) {
  const ConvGeometry& g = call.w->geometry;
  if (g.transposed || ph->segment_bytes == ph->segment_len || phase.gemm.size() != g.groups) return;
  const size_t ocg = g.out_channels / g.groups;
  std::vector<ConvGemmStage> stages(g.groups);
  for (size_t group = 0; group < g.groups; ++group) {
    if (!DirectStage(call, *phase.gemm[group], group * ocg, &stages[group])) return;
    const size_t kpad = stages[group].pack->kpad();
    if (kpad < phase.k || (ph->segments * ph->segment_bytes - kpad) * 8 < kpad) return;
  }
  ph->gather_kpad = stages[0].pack->kpad();
  ph->gather_stages = std::move(stages);
}

// The stacked phases' run (ConvPacked::stacked): one GEMM row per padded input pixel, its
// phases * ocg columns copied to the output pixels they are (those inside the output).
bool PrepareStackedRun(const ConvWeights& w, const ConvCall& call, const long before[3], ConvRun* run) {
  const Shape3& s = call.s;
  const size_t phases = s.stride[0] * s.stride[1] * s.stride[2];
  // (row, phase) pairs are about the output pixels (those the padding crops among them).
  size_t pairs = 0;
  if (!CheckedMul(run->padded_pixels, phases, &pairs) || pairs > 2 * kRunMaxStarts) return false;
  run->stacked = true;
  ConvRun::Phase ph;
  ph.k = ph.segment_len = run->icg;
  ph.segments = 1;
  ph.segment_bytes = RoundUp(run->icg, kIgemmSegmentAlign);
  ph.rows = run->padded_pixels;
  if (!PrepareRunStages(w.packed->stacked, call, phases, run, &ph)) return false;
  ph.pixels.resize(ph.rows);
  for (size_t r = 0; r < ph.rows; ++r) ph.pixels[r] = static_cast<uint32_t>(r);
  // Copies per row: column block q (phase (r0, r1, r2)) to output pixel i * stride + r - pad; with
  // one group, phases adjacent along W land on adjacent pixels and merge into one copy.
  const size_t ocg = run->ocg;
  run->copy_begin.push_back(0);
  for (size_t i0 = 0; i0 < run->padded[0]; ++i0) {
    for (size_t i1 = 0; i1 < run->padded[1]; ++i1) {
      for (size_t i2 = 0; i2 < run->padded[2]; ++i2) {
        const size_t i[3] = {i0, i1, i2};
        const size_t first = run->copies.size();
        for (size_t q = 0; q < phases; ++q) {
          const size_t r[3] = {q / (s.stride[1] * s.stride[2]), q / s.stride[2] % s.stride[1], q % s.stride[2]};
          long o[3];
          bool inside = true;
          for (int d = 0; d < 3; ++d) {
            o[d] = (static_cast<long>(i[d]) - before[d]) * static_cast<long>(s.stride[d]) + static_cast<long>(r[d]) -
                   static_cast<long>(s.pad[d]);
            inside = inside && o[d] >= 0 && o[d] < static_cast<long>(s.out[d]);
          }
          if (!inside) continue;
          const uint32_t dst = static_cast<uint32_t>((o[0] * s.out[1] + o[1]) * s.out[2] + o[2]);
          const uint32_t src = static_cast<uint32_t>(q * ocg);
          ConvRun::Copy* last = run->copies.size() > first ? &run->copies.back() : nullptr;
          if (w.geometry.groups == 1 && last != nullptr && last->src + last->bytes == src &&
              last->dst + last->bytes / ocg == dst) {
            last->bytes += static_cast<uint32_t>(ocg);
            continue;
          }
          run->copies.push_back(ConvRun::Copy{src, dst, static_cast<uint32_t>(ocg)});
        }
        run->copy_begin.push_back(static_cast<uint32_t>(run->copies.size()));
      }
    }
  }
  if (run->copies.size() > kRunMaxStarts) return false;  // as the phases' run starts: small convolutions only
  const size_t block = RunBlockRows(ph.k);
  for (size_t n = 0; n < run->batch; ++n) {
    for (size_t group = 0; group < w.geometry.groups; ++group) {
      for (size_t first = 0; first < ph.rows; first += block) {
        run->tasks.push_back(ConvRun::Task{0, group, n, first, std::min(ph.rows, first + block)});
      }
    }
  }
  run->task_ns = static_cast<double>(std::min(ph.rows, block) * ph.k * phases * ocg) / kMacsPerNs;
  run->phases.push_back(std::move(ph));
  return true;
}

}  // namespace

Status PrepareConvRun(const ConvWeights& w, size_t batch, const size_t in_spatial[3], ConvLayout layout, double x_scale,
                      int32_t x_zero_point, double y_scale, int32_t y_zero_point, bool relu, QEngine engine,
                      bool out_channels_last, const OutputStage* stage, std::shared_ptr<const ConvRun>* out) {
  *out = nullptr;
  const ConvGeometry& g = w.geometry;
  size_t out_spatial[3];
  QK_RETURN_IF_ERROR(ConvOutputSize(g, in_spatial, out_spatial));
  QK_RETURN_IF_ERROR(CheckQuantScale(static_cast<float>(x_scale), "input scale"));
  QK_RETURN_IF_ERROR(CheckQuantScale(static_cast<float>(y_scale), "scale"));
  QK_RETURN_IF_ERROR(CheckActivationZeroPoint(x_zero_point, "input zero point"));
  QK_RETURN_IF_ERROR(CheckActivationZeroPoint(y_zero_point, "zeroPoint"));
  // The paths ConvU8 gives these shapes read the input in place already (depthwise, 1x1, 1-D windows).
  if (batch == 0 || w.packed->depthwise || IsPointwise(g)) return Status::Ok();
  if (!g.transposed && Conv1dWindowsGeometry(g)) return Status::Ok();
  // So does a transposed one with a kernel above the stride where every phase's pack reads uint8
  // rows (the windows, phase by phase): in place, overlapping GEMM rows instead of a pointer per
  // run, and the phases' tasks in one split over the threads. Kernel == stride (one tap per
  // phase) keeps the stacked run below, one GEMM for all the phases.
  if (g.transposed && Conv1dWindowsGeometry(g) && g.kernel[0] > g.stride[0] &&
      std::all_of(w.packed->phases.begin(), w.packed->phases.end(),
                  [](const ConvPhase& phase) { return DirectGemmPack(*phase.gemm[0]) != nullptr; })) {
    return Status::Ok();
  }
  ConvCall call;
  SetStageFields(&call, w, x_scale, x_zero_point, y_scale, y_zero_point, relu, engine);
  call.s = ToShape3(g, in_spatial, out_spatial);
  UseOutputStage(&call, stage);
  const Shape3& s = call.s;
  auto run = std::make_shared<ConvRun>();
  run->isa = ActiveIsa();
  run->packed = w.packed;
  run->batch = batch;
  run->channels = g.in_channels;
  run->out_channels = g.out_channels;
  run->icg = g.in_channels / g.groups;
  run->ocg = g.out_channels / g.groups;
  run->transposed = g.transposed;
  run->x_zp = x_zero_point;
  run->out_step = g.transposed ? s.stride[2] : 1;
  run->in_pixels = s.in[0] * s.in[1] * s.in[2];
  run->out_pixels = s.out[0] * s.out[1] * s.out[2];
  run->out_elems = batch * run->out_pixels * g.out_channels;
  run->contiguous_in = layout == ConvLayout::kContiguous;
  run->transpose_out =
      layout == ConvLayout::kContiguous && !out_channels_last && g.out_channels > 1 && run->out_pixels > 1;
  run->block_epilogue = !g.transposed && g.groups == 1;
  // Every output pixel is a row with at least one run, and the padded copy holds the input: shapes
  // past either bound are known too large before any table is built.
  const bool few_channels = g.in_channels <= kRunFewChannels;
  const size_t max_padded_bytes = g.transposed || few_channels ? kRunMaxPaddedBytes : kRunMaxPaddedBytesConv;
  if (run->out_pixels > kRunMaxStarts || run->in_pixels * g.in_channels > max_padded_bytes) return Status::Ok();
  // The border each dim needs: the farthest any tap of any phase reads before and after the input.
  std::vector<RawAxis> axes;
  long before[3] = {0, 0, 0}, after[3] = {0, 0, 0};
  for (const ConvPhase& phase : w.packed->phases) {
    if (phase.k == 0 || phase.igemm.size() != g.groups) return Status::Ok();  // no indirect pack: per-call paths
    for (int d = 0; d < 3; ++d) {
      axes.push_back(BuildRawAxis(g, s, d, phase));
      for (long c : axes.back().raw) {
        before[d] = std::max(before[d], -c);
        after[d] = std::max(after[d], c - static_cast<long>(s.in[d]) + 1);
      }
    }
  }
  size_t padded_bytes = 0;
  if (!CheckedMul(batch, g.in_channels, &padded_bytes)) return Status::Ok();
  for (int d = 0; d < 3; ++d) {
    run->in[d] = s.in[d];
    // The border of a far-reaching dilation can be huge: checked before anything is sized by it.
    if (!CheckedAdd(s.in[d], static_cast<size_t>(before[d]), &run->padded[d]) ||
        !CheckedAdd(run->padded[d], static_cast<size_t>(after[d]), &run->padded[d]) ||
        !CheckedMul(padded_bytes, run->padded[d], &padded_bytes) || padded_bytes > max_padded_bytes) {
      return Status::Ok();
    }
  }
  run->plain_border = true;
  for (int d = 0; d < 3; ++d) {
    run->before[d] = static_cast<size_t>(before[d]);
    run->source[d].resize(run->padded[d]);
    for (size_t p = 0; p < run->padded[d]; ++p) {
      const long inside = static_cast<long>(p) - before[d];
      run->source[d][p] = PaddedSource(inside, static_cast<long>(s.in[d]), g.padding_mode);
      // Plain when the mode maps nothing (zeros, or a border that no tap reads past the input's edge).
      const bool in_range = inside >= 0 && inside < static_cast<long>(s.in[d]);
      run->plain_border = run->plain_border && run->source[d][p] == (in_range ? inside : -1);
    }
  }
  run->padded_pixels = run->padded[0] * run->padded[1] * run->padded[2];
  if (!w.packed->stacked.empty()) {
    if (!PrepareStackedRun(w, call, before, run.get())) return Status::Ok();
    *out = std::move(run);
    return Status::Ok();
  }
  size_t starts = 0;
  for (size_t index = 0; index < w.packed->phases.size(); ++index) {
    const ConvPhase& phase = w.packed->phases[index];
    const RawAxis* axis = &axes[3 * index];
    ConvRun::Phase ph;
    ph.k = phase.k;
    ph.segments = phase.segments;
    ph.segment_len = phase.segment_len;
    ph.segment_bytes = phase.segment_bytes;
    const size_t n0 = axis[0].outputs.size(), n1 = axis[1].outputs.size(), n2 = axis[2].outputs.size();
    ph.rows = n0 * n1 * n2;
    ph.line_rows = n2;
    starts += ph.rows * ph.segments;
    if (starts > kRunMaxStarts) return Status::Ok();
    if (!PrepareRunStages(phase.igemm, call, 1, run.get(), &ph)) return Status::Ok();
    PrepareGatherStages(phase, call, &ph);
    // Run starts, rows in (D, H, W) order: one per (D, H) tap line, or one per tap.
    const size_t per_line = phase.lines ? 1 : axis[2].taps;
    ph.pixels.reserve(ph.rows * ph.segments);
    const auto padded_coordinate = [&](int d, size_t a, size_t t) {
      return static_cast<size_t>(axis[d].raw[a * axis[d].taps + t] + before[d]);
    };
    for (size_t a0 = 0; a0 < n0; ++a0) {
      for (size_t a1 = 0; a1 < n1; ++a1) {
        if (g.transposed && n2 > 0) {  // (a phase may have no outputs along a dim: out < stride)
          ph.line_out.push_back((axis[0].outputs[a0] * s.out[1] + axis[1].outputs[a1]) * s.out[2] + axis[2].outputs[0]);
        }
        for (size_t a2 = 0; a2 < n2; ++a2) {
          for (size_t t0 = 0; t0 < axis[0].taps; ++t0) {
            for (size_t t1 = 0; t1 < axis[1].taps; ++t1) {
              const size_t line = (padded_coordinate(0, a0, t0) * run->padded[1] + padded_coordinate(1, a1, t1)) *
                                  run->padded[2];
              for (size_t t2 = 0; t2 < per_line; ++t2) {
                ph.pixels.push_back(static_cast<uint32_t>(line + padded_coordinate(2, a2, t2)));
              }
            }
          }
        }
      }
    }
    if (ph.pixels.size() != ph.rows * ph.segments) {
      return Status::Error("qkernels: internal error: a prepared conv's runs do not match its packed weights");
    }
    // Tasks of about RunIndirect's block of rows (transposed: whole lines).
    const size_t block = RunBlockRows(ph.k);
    const size_t units = ph.rows == 0 ? 0 : g.transposed ? n0 * n1 : ph.rows;  // lines of no pixels: no task
    const size_t per_task = g.transposed ? std::max<size_t>(1, block / std::max<size_t>(1, n2)) : block;
    for (size_t n = 0; n < batch; ++n) {
      for (size_t group = 0; group < g.groups; ++group) {
        for (size_t first = 0; first < units; first += per_task) {
          run->tasks.push_back(ConvRun::Task{index, group, n, first, std::min(units, first + per_task)});
        }
      }
    }
    run->task_ns = std::max(run->task_ns, static_cast<double>(std::min(ph.rows, block) * ph.k * run->ocg) / kMacsPerNs);
    run->phases.push_back(std::move(ph));
  }
  *out = std::move(run);
  return Status::Ok();
}

namespace {

// A thread's buffers for prepared runs, kept between runs, in one thread_local (each one of a
// shared library is a __tls_get_addr call: a small conv's run reached six of them).
struct PreparedRunBuffers {
  std::vector<uint8_t> image, y_cl;  // the caller's: the padded image, a contiguous output's staging
  std::vector<int16_t> image16;      // the caller's: the padded image in int16
  std::vector<const uint8_t*> pointers;  // a task's: run starts
  std::vector<int32_t> terms;            // a task's: row terms
  std::vector<uint8_t> results;          // a task's: the GEMM block copied out
};

PreparedRunBuffers& ThreadPreparedRunBuffers() {
  thread_local PreparedRunBuffers buffers;
  return buffers;
}

// What RunPreparedConv's tasks read.
struct PreparedRunState {
  const ConvRun* run;
  int choice;                 // the stages of the proof's outcome
  const uint8_t* image8;      // the padded image (in the caller's PreparedRunBuffers)
  const int16_t* wide_image;  // its int16 copy when a stage reads int16
  uint8_t* target;            // channels_last output
  const ConvEpilogue* epilogue;
  bool block_epilogue;        // the tasks call the epilogue on their rows
};

// Task t of a prepared run: its rows' pointers and row terms, the kernel, the copies out.
void RunPreparedTask(const PreparedRunState& state, size_t t) {
  const ConvRun& run = *state.run;
  const int choice = state.choice;
  const uint8_t* image8 = state.image8;
  const int16_t* wide_image = state.wide_image;
  uint8_t* target = state.target;
  const ConvEpilogue* epilogue = state.epilogue;
  const bool block_epilogue = state.block_epilogue;
  const ConvRun::Task& task = run.tasks[t];
  const ConvRun::Phase& ph = run.phases[task.phase];
  const ConvGemmStage& stage = ph.stages[choice][task.group];
  const size_t e = stage.pack->layout().a_format == GemmAFormat::kS16 ? 2 : 1;
  const size_t first_byte = task.n * run.padded_pixels * run.channels + task.group * run.icg;
  const uint8_t* base8 = image8 + first_byte;
  const uint8_t* base = e == 2 ? reinterpret_cast<const uint8_t*>(wide_image + first_byte) : base8;
  const size_t per_unit = run.transposed && !run.stacked ? ph.line_rows : 1;  // tasks of lines, or of rows
  const size_t row0 = task.first * per_unit, rows = (task.end - task.first) * per_unit;
  PreparedRunBuffers& buffers = ThreadPreparedRunBuffers();
  std::vector<const uint8_t*>& pointers = buffers.pointers;
  std::vector<int32_t>& terms = buffers.terms;
  pointers.resize(rows * ph.segments);
  terms.resize(rows);  // without row terms left as they are: the kernels multiply them by w_zp = 0
  const uint32_t* pixels = ph.pixels.data() + row0 * ph.segments;
  const size_t pixel_bytes = run.channels * e;
  const uint8_t** starts = pointers.data();
  if (ph.gather_kpad == 0) {
    for (size_t i = 0, count = rows * ph.segments; i < count; ++i) starts[i] = base + pixels[i] * pixel_bytes;
  }
  // Row terms (GemmRowTerm of the row's k values), from the uint8 image whatever the A format;
  // symmetric weights need none.
  const uint32_t zero_term = static_cast<uint32_t>(ph.k) * static_cast<uint32_t>(run.x_zp);
  for (size_t r = 0; r < rows && stage.row_terms; ++r) {
    uint32_t sum = 0;
    for (size_t j = 0; j < ph.segments; ++j) {
      const uint8_t* v = base8 + pixels[r * ph.segments + j] * run.channels;
      for (size_t i = 0; i < ph.segment_len; ++i) sum += v[i];
    }
    terms[r] = static_cast<int32_t>(zero_term - sum);
  }
  const size_t channel0 = task.group * run.ocg;
  if (run.stacked) {
    const size_t columns = stage.pack->n();  // phases * ocg
    std::vector<uint8_t>& results = buffers.results;
    results.resize(rows * columns);
    RunIgemmTiles(stage, rows, pointers.data(), 1, ph.segment_bytes, terms.data(), results.data(), columns);
    uint8_t* image_out = target + task.n * run.out_pixels * run.out_channels + channel0;
    for (size_t r = 0; r < rows; ++r) {
      const uint8_t* row = results.data() + r * columns;
      for (uint32_t c = run.copy_begin[row0 + r]; c < run.copy_begin[row0 + r + 1]; ++c) {
        const ConvRun::Copy& copy = run.copies[c];
        CopyBytes(image_out + static_cast<size_t>(copy.dst) * run.out_channels, row + copy.src, copy.bytes);
      }
    }
    return;
  }
  if (ph.gather_kpad != 0) {  // (ordinary convolutions only) the rows' runs back to back, the direct GEMM
    // In locals: the byte stores may alias anything, so fields read through run would be reloaded.
    const size_t kpad = ph.gather_kpad, len = ph.segment_len, segments = ph.segments, channels = run.channels;
    const size_t begin = (task.n * run.out_pixels + row0) * run.out_channels;
    // Pieces of kGatherRows rows, gathered then multiplied while they are in L1 with the weights.
    const size_t piece = std::min(rows, kGatherRows);
    std::vector<uint8_t>& gathered = buffers.results;
    // A run's copy writes and reads up to 15 bytes past its end (the next run's, the next row's,
    // this slack; the image has kRunSlack zero bytes past it).
    gathered.resize(piece * kpad + 32);
    for (size_t first = 0; first < rows; first += piece) {
      const size_t count = std::min(piece, rows - first);
      uint8_t* row = gathered.data();
      for (size_t r = first; r < first + count; ++r, row += kpad) {
        const uint32_t* run_pixels = pixels + r * segments;
        if (len <= 16) {
          for (size_t j = 0; j < segments; ++j) std::memcpy(row + j * len, base8 + run_pixels[j] * channels, 16);
        } else if (len <= 32) {
          for (size_t j = 0; j < segments; ++j) std::memcpy(row + j * len, base8 + run_pixels[j] * channels, 32);
        } else {
          for (size_t j = 0; j < segments; ++j) CopyBytes(row + j * len, base8 + run_pixels[j] * channels, len);
        }
      }
      RunGemmTiles(ph.gather_stages[task.group], count, gathered.data(), kpad, terms.data() + first,
                   target + begin + first * run.out_channels + channel0, run.out_channels);
    }
    if (block_epilogue) epilogue->fn(epilogue->context, begin, begin + rows * run.out_channels);
    return;
  }
  if (!run.transposed) {
    const size_t begin = (task.n * run.out_pixels + row0) * run.out_channels;
    RunIgemmTiles(stage, rows, pointers.data(), ph.segments, ph.segment_bytes, terms.data(), target + begin + channel0,
                  run.out_channels);
    if (block_epilogue) epilogue->fn(epilogue->context, begin, begin + rows * run.out_channels);
    return;
  }
  const size_t row_step = run.out_step * run.out_channels;  // bytes between a line's output pixels
  if (ph.line_rows >= kRunLineRows) {  // long lines: the kernel writes each line's strided pixels
    for (size_t line = task.first; line < task.end; ++line) {
      const size_t offset = (line - task.first) * ph.line_rows;
      uint8_t* out = target + (task.n * run.out_pixels + ph.line_out[line]) * run.out_channels + channel0;
      RunIgemmTiles(stage, ph.line_rows, pointers.data() + offset * ph.segments, ph.segments, ph.segment_bytes,
                    terms.data() + offset, out, row_step);
    }
    return;
  }
  // Short lines (an upsampling conv of a small map): the kernel's tiles would run mostly empty
  // line by line, so the task's rows go through one call into a block, copied out row by row.
  std::vector<uint8_t>& block = buffers.results;
  block.resize(rows * run.ocg);
  RunIgemmTiles(stage, rows, pointers.data(), ph.segments, ph.segment_bytes, terms.data(), block.data(), run.ocg);
  const uint8_t* from = block.data();
  for (size_t line = task.first; line < task.end; ++line) {
    uint8_t* out = target + (task.n * run.out_pixels + ph.line_out[line]) * run.out_channels + channel0;
    for (size_t a = 0; a < ph.line_rows; ++a, from += run.ocg, out += row_step) CopyBytes(out, from, run.ocg);
  }
}

}  // namespace

bool RunPreparedConv(const ConvRun& run, const uint8_t* x, uint8_t* y, const ConvEpilogue* epilogue) {
  if (ActiveIsa() != run.isa) return false;  // its packs are another level's: the caller runs ConvU8
  const size_t input_bytes = run.batch * run.in_pixels * run.channels;
  // IndirectPack's proof: a pair-proof pack is exact when no byte the rows read exceeds 127.
  const int choice = run.twins && !(run.x_zp <= 127 && ActivationsAre7Bit(1, input_bytes, x, input_bytes)) ? 1 : 0;
  // Per-thread buffers kept between runs (bounded by kRunMaxPaddedBytes, but the output copy
  // of a contiguous output by nothing: released past 8 MiB, as ConvU8's).
  PreparedRunBuffers& buffers = ThreadPreparedRunBuffers();
  std::vector<uint8_t>& image = buffers.image;
  std::vector<uint8_t>& y_cl = buffers.y_cl;
  std::vector<int16_t>& image16 = buffers.image16;
  const size_t image_bytes = run.batch * run.padded_pixels * run.channels;
  image.resize(image_bytes + kRunSlack);
  FillPadded(run, x, image.data());
  std::memset(image.data() + image_bytes, 0, kRunSlack);
  if (run.wide[choice]) {
    image16.resize(image.size());
    const uint8_t* from = image.data();
    int16_t* to = image16.data();
    for (size_t i = 0, count = image.size(); i < count; ++i) to[i] = from[i];
  }
  uint8_t* target = y;
  if (run.transpose_out) {
    if (y_cl.size() < run.out_elems) y_cl.resize(run.out_elems);
    target = y_cl.data();
  }
  const bool has_epilogue = epilogue != nullptr && epilogue->fn != nullptr;
  const bool block_epilogue = has_epilogue && run.block_epilogue && !run.transpose_out;
  // The caller's buffers, by address: a task on another thread has its own PreparedRunBuffers.
  const uint8_t* image8 = image.data();
  const int16_t* wide_image = image16.data();
  const PreparedRunState state{&run, choice, image8, wide_image, target, epilogue, block_epilogue};
  if (run.tasks.size() == 1) {
    RunPreparedTask(state, 0);  // as ParallelFor would run it, without its setup
  } else {
    // One pointer captured: std::function keeps it without an allocation per run.
    ParallelFor(run.tasks.size(), run.task_ns, [&state](size_t t) { RunPreparedTask(state, t); });
  }
  if (run.transpose_out) Transpose(target, run.batch, run.out_pixels, run.out_channels, y);
  constexpr size_t kKeepBytes = size_t{8} << 20;
  if (y_cl.capacity() > kKeepBytes) std::vector<uint8_t>().swap(y_cl);
  if (has_epilogue && !block_epilogue) EpilogueInChunks(*epilogue, run.out_elems);
  return true;
}

// ---- public entry points ---------------------------------------------------------------

Status CheckConvGeometry(const ConvGeometry& g) {
  if (g.dims < 1 || g.dims > 3) {
    return Status::RangeError(Expected("1, 2 or 3 spatial dims", "kernelSize", std::to_string(g.dims)));
  }
  if (g.groups == 0) return Status::RangeError(Expected("positive integer", "groups", "0"));
  if (g.in_channels == 0 || g.in_channels % g.groups != 0) {
    return Status::RangeError(Expected("positive multiple of groups (" + std::to_string(g.groups) + ")",
                                       "inChannels", std::to_string(g.in_channels)));
  }
  if (g.out_channels == 0 || g.out_channels % g.groups != 0) {
    return Status::RangeError(Expected("positive multiple of groups (" + std::to_string(g.groups) + ")",
                                       "outChannels", std::to_string(g.out_channels)));
  }
  const char* names[3] = {"kernelSize", "stride", "dilation"};
  const size_t* values[3] = {g.kernel, g.stride, g.dilation};
  for (int i = 0; i < 3; ++i) {
    for (int d = 0; d < g.dims; ++d) {
      if (values[i][d] == 0 || values[i][d] > (size_t{1} << 31)) {
        return Status::RangeError(Expected("positive integers", names[i], Tuple(values[i], g.dims)));
      }
    }
  }
  for (int d = 0; d < g.dims; ++d) {
    if (g.pad_before[d] > (size_t{1} << 31) || g.pad_after[d] > (size_t{1} << 31)) {
      return Status::RangeError(Expected("padding below 2^31", "padding", Tuple(g.pad_before, g.dims) + " / " +
                                                                              Tuple(g.pad_after, g.dims)));
    }
  }
  if (g.transposed) {
    if (g.padding_mode != ConvPaddingMode::kZeros) {
      return Status::RangeError(Expected("'zeros' (transposed convolution)", "paddingMode",
                                         PaddingModeName(g.padding_mode)));
    }
    for (int d = 0; d < g.dims; ++d) {
      if (g.output_padding[d] >= std::max(g.stride[d], g.dilation[d])) {
        return Status::RangeError(Expected("values smaller than either stride or dilation", "outputPadding",
                                           Tuple(g.output_padding, g.dims)));
      }
    }
  } else {
    for (int d = 0; d < g.dims; ++d) {
      if (g.output_padding[d] != 0) {
        return Status::RangeError(Expected("zeros (not a transposed convolution)", "outputPadding",
                                           Tuple(g.output_padding, g.dims)));
      }
    }
  }
  size_t count = 0;
  if (!ConvWeightCount(g, &count)) {
    return Status::RangeError(Expected("a weight whose size fits in memory", "weight", "a larger shape"));
  }
  return Status::Ok();
}

bool ConvWeightCount(const ConvGeometry& g, size_t* count) {
  if (g.groups == 0) return false;
  size_t n = 0;
  if (!CheckedMul(g.transposed ? g.in_channels : g.out_channels,
                  (g.transposed ? g.out_channels : g.in_channels) / g.groups, &n)) {
    return false;
  }
  for (int d = 0; d < g.dims && d < 3; ++d) {
    if (!CheckedMul(n, g.kernel[d], &n)) return false;
  }
  *count = n;
  return true;
}

Status ConvOutputSize(const ConvGeometry& g, const size_t in_spatial[3], size_t out_spatial[3]) {
  QK_RETURN_IF_ERROR(CheckConvGeometry(g));
  for (int d = 0; d < 3; ++d) out_spatial[d] = 1;
  for (int d = 0; d < g.dims; ++d) {
    const size_t in = in_spatial[d];
    if (in == 0 || in > (size_t{1} << 40)) {
      return Status::RangeError(Expected("positive spatial sizes", "input", Tuple(in_spatial, g.dims)));
    }
    const size_t pad_max = std::max(g.pad_before[d], g.pad_after[d]);
    if (g.padding_mode == ConvPaddingMode::kReflect && pad_max >= in) {
      return Status::RangeError(Expected("padding smaller than the input size " + Tuple(in_spatial, g.dims) +
                                             " for paddingMode 'reflect'",
                                         "padding", Tuple(g.pad_before, g.dims)));
    }
    if (g.padding_mode == ConvPaddingMode::kCircular && pad_max > in) {
      return Status::RangeError(Expected("padding at most the input size " + Tuple(in_spatial, g.dims) +
                                             " for paddingMode 'circular'",
                                         "padding", Tuple(g.pad_before, g.dims)));
    }
    // dilation, kernel <= 2^31 and in <= 2^40 keep span and the conv sums below 2^63; the
    // transposed product (in - 1) * stride is checked.
    const size_t span = g.dilation[d] * (g.kernel[d] - 1);
    if (!g.transposed) {
      const size_t padded = in + g.pad_before[d] + g.pad_after[d];
      if (padded < span + 1) {
        return Status::RangeError(Expected("an input at least as large as the dilated kernel " +
                                               std::to_string(span + 1) + " (after padding) in every spatial dim",
                                           "input", Tuple(in_spatial, g.dims)));
      }
      out_spatial[d] = (padded - span - 1) / g.stride[d] + 1;
    } else {
      size_t full = 0;
      if (!CheckedMul(in - 1, g.stride[d], &full) || !CheckedAdd(full, span + g.output_padding[d] + 1, &full)) {
        return Status::RangeError(Expected("an input whose transposed output size fits in memory", "input",
                                           Tuple(in_spatial, g.dims)));
      }
      const size_t pads = g.pad_before[d] + g.pad_after[d];
      if (full <= pads) {
        return Status::RangeError(Expected("an input whose transposed output size is positive", "input",
                                           Tuple(in_spatial, g.dims)));
      }
      out_spatial[d] = full - pads;
    }
  }
  return Status::Ok();
}

Status CreateConvWeights(const ConvGeometry& g, const int8_t* w, const double* w_scales,
                         const int32_t* w_zero_points, size_t num_qparams, const float* bias,
                         std::shared_ptr<const ConvWeights>* out) {
  QK_RETURN_IF_ERROR(CheckConvGeometry(g));
  size_t count = 0;
  ConvWeightCount(g, &count);
  if (w == nullptr) return Status::TypeError(Expected("a buffer", "weight", "null"));
  if (num_qparams != 1 && num_qparams != g.out_channels) {
    return Status::RangeError(Expected("1 or " + std::to_string(g.out_channels) + " (out channels) values",
                                       "weight scales", std::to_string(num_qparams) + " values"));
  }
  if (w_scales == nullptr || w_zero_points == nullptr) {
    return Status::TypeError(Expected("arrays", "weight scales and zero points", "null"));
  }
  auto weights = std::make_shared<ConvWeights>();
  weights->geometry = g;
  weights->per_channel = num_qparams != 1;
  weights->w_scales.resize(g.out_channels);
  weights->w_scales_f64.resize(g.out_channels);
  weights->w_zero_points.resize(g.out_channels);
  for (size_t c = 0; c < g.out_channels; ++c) {
    const size_t i = num_qparams == 1 ? 0 : c;
    const float scale = static_cast<float>(w_scales[i]);
    if (!ScaleOk(scale, ScaleRule::kPositiveFinite)) {
      return Status::RangeError(Expected("positive finite number", "weight scale[" + std::to_string(i) + "]",
                                         std::to_string(w_scales[i])));
    }
    if (w_zero_points[i] < -128 || w_zero_points[i] > 127) {
      return Status::RangeError(Expected("integer in [-128, 127]", "weight zero point[" + std::to_string(i) + "]",
                                         std::to_string(w_zero_points[i])));
    }
    weights->w_scales[c] = scale;
    weights->w_scales_f64[c] = w_scales[i];
    weights->w_zero_points[c] = w_zero_points[i];
  }
  if (bias != nullptr) weights->bias.assign(bias, bias + g.out_channels);
  weights->w.assign(w, w + count);
  auto packed = std::make_shared<ConvPacked>();
  if (IsDepthwise(g)) {
    packed->depthwise = true;
    packed->dw_weights = PackDepthwise(g, w, weights->w_zero_points);
    packed->dw_quads = PackDepthwiseQuads(g, w, weights->w_zero_points);
  } else {
    packed->phases = PlanPhases(g);
    for (ConvPhase& phase : packed->phases) {
      PlanIndirectRuns(g, &phase);
      QK_RETURN_IF_ERROR(PackPhase(g, w, weights->w_zero_points, &phase));
    }
    QK_RETURN_IF_ERROR(PackStackedPhases(g, w, weights->w_zero_points, packed.get()));
  }
  weights->packed = std::move(packed);
  *out = std::move(weights);
  return Status::Ok();
}

const ConvGeometry& GeometryOf(const ConvWeights& w) { return w.geometry; }

OutputStage ConvOutputStage(const ConvWeights& w, double x_scale, int32_t x_zero_point, double y_scale,
                            int32_t y_zero_point, bool relu, QEngine engine) {
  ConvCall call;
  SetStageFields(&call, w, x_scale, x_zero_point, y_scale, y_zero_point, relu, engine);
  return MakeOutputStage(GroupRequant(call, 0), w.geometry.out_channels);
}

Status ConvU8(const ConvWeights& w, const uint8_t* x, size_t batch, const size_t in_spatial[3],
              ConvLayout layout, double x_scale64, int32_t x_zero_point, double y_scale64,
              int32_t y_zero_point, bool relu, uint8_t* y, QEngine engine, bool out_channels_last,
              const ConvEpilogue* epilogue, const OutputStage* stage) {
  const float x_scale = static_cast<float>(x_scale64), y_scale = static_cast<float>(y_scale64);
  const ConvGeometry& g = w.geometry;
  size_t out_spatial[3];
  QK_RETURN_IF_ERROR(ConvOutputSize(g, in_spatial, out_spatial));
  QK_RETURN_IF_ERROR(CheckQuantScale(x_scale, "input scale"));
  QK_RETURN_IF_ERROR(CheckQuantScale(y_scale, "scale"));
  QK_RETURN_IF_ERROR(CheckActivationZeroPoint(x_zero_point, "input zero point"));
  QK_RETURN_IF_ERROR(CheckActivationZeroPoint(y_zero_point, "zeroPoint"));
  size_t in_pixels = 1, out_pixels = 1, in_elems = 0, out_elems = 0;
  for (int d = 0; d < g.dims; ++d) {
    if (!CheckedMul(in_pixels, in_spatial[d], &in_pixels) || !CheckedMul(out_pixels, out_spatial[d], &out_pixels)) {
      return Status::RangeError(Expected("a spatial size that fits in memory", "input", Tuple(in_spatial, g.dims)));
    }
  }
  if (!CheckedMul(in_pixels, g.in_channels, &in_elems) || !CheckedMul(in_elems, batch, &in_elems) ||
      !CheckedMul(out_pixels, g.out_channels, &out_elems) || !CheckedMul(out_elems, batch, &out_elems)) {
    return Status::RangeError(Expected("a tensor size that fits in memory", "input", Tuple(in_spatial, g.dims)));
  }
  if (batch == 0) return Status::Ok();
  if (x == nullptr || y == nullptr) return Status::TypeError(Expected("buffers", "input and output", "null"));

  ConvCall call;
  SetStageFields(&call, w, x_scale64, x_zero_point, y_scale64, y_zero_point, relu, engine);
  call.s = ToShape3(g, in_spatial, out_spatial);
  call.batch = batch;
  UseOutputStage(&call, stage);
  // The paths work in channels_last; a contiguous tensor with more than one channel and pixel is
  // transposed on the way in and out.
  // The channels_last copies live in per-thread buffers kept between calls (a fresh large
  // allocation costs a page fault per 4 KiB on every call); big ones are released afterwards.
  thread_local std::vector<uint8_t> x_cl, y_cl;
  struct Release {
    ~Release() {
      constexpr size_t kKeepBytes = size_t{8} << 20;
      if (x_cl.capacity() > kKeepBytes) std::vector<uint8_t>().swap(x_cl);
      if (y_cl.capacity() > kKeepBytes) std::vector<uint8_t>().swap(y_cl);
      ReleaseLargeRunBuffers();
    }
  } release;
  call.x = x;
  call.y = y;
  if (layout == ConvLayout::kContiguous && g.in_channels > 1 && in_pixels > 1) {
    if (x_cl.size() < in_elems) x_cl.resize(in_elems);
    Transpose(x, batch, g.in_channels, in_pixels, x_cl.data());
    call.x = x_cl.data();
  }
  const bool transpose_out =
      layout == ConvLayout::kContiguous && !out_channels_last && g.out_channels > 1 && out_pixels > 1;
  if (transpose_out) {
    if (y_cl.size() < out_elems) y_cl.resize(out_elems);
    call.y = y_cl.data();
  }
  // Blocks of call.y are blocks of y unless y is transposed at the end.
  const bool has_epilogue = epilogue != nullptr && epilogue->fn != nullptr;
  call.epilogue = has_epilogue && !transpose_out ? epilogue : nullptr;
  if (w.packed->depthwise) {
    RunDepthwise(call);
    call.epilogue_applied = call.epilogue != nullptr;
  } else if (IsPointwise(g)) {
    QK_RETURN_IF_ERROR(RunPointwise(call));
  } else if (RunConv1dWindows(call)) {
  } else {
    for (const ConvPhase& phase : w.packed->phases) {
      if (!RunIndirect(call, phase)) QK_RETURN_IF_ERROR(RunPhase(call, phase));
    }
  }
  if (transpose_out) Transpose(call.y, batch, out_pixels, g.out_channels, y);
  if (has_epilogue && !call.epilogue_applied) EpilogueInChunks(*epilogue, out_elems);
  return Status::Ok();
}

}  // namespace qk
