// Quantized GEMM op: argument checks, per-call column constants, the A panel, and the (row, column) tiles over threads.
#include "ops/qgemm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/expected.h"
#include "base/threadpool.h"
#include "pack/gemm-pack.h"
#include "ukernels/dispatch.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// Rows per task: an A panel of kMC rows stays in L2 while the task walks its column blocks.
constexpr size_t kMC = 64;
// Columns per task, in NR blocks: about 256 columns, so a row block splits over threads even for m = 1.
constexpr size_t kTaskColumns = 256;

std::string FloatText(float v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.9g", static_cast<double>(v));
  return buffer;
}

Status CheckScale(float v, const std::string& parameter) {
  return ::qk::CheckScale(v, ScaleRule::kPositiveFinite, "a positive finite number", parameter, [&] { return FloatText(v); });
}

Status CheckByte(int32_t v, const char* parameter) {
  if (v >= 0 && v <= 255) return Status::Ok();
  return Status::RangeError(Expected("an integer in [0, 255]", parameter, std::to_string(v)));
}

Status CheckCommon(const PackedGemm& p, size_t m, const uint8_t* a, size_t lda, int32_t a_zero_point, float a_scale,
                   const float* w_scales, const void* y, size_t ldy) {
  QK_RETURN_IF_ERROR(CheckByte(a_zero_point, "input zero point"));
  QK_RETURN_IF_ERROR(CheckScale(a_scale, "input scale"));
  if (m == 0 || p.n() == 0) return Status::Ok();
  if (lda < p.k()) return Status::RangeError(Expected("a row stride >= " + std::to_string(p.k()), "input", std::to_string(lda)));
  if (ldy < p.n()) return Status::RangeError(Expected("a row stride >= " + std::to_string(p.n()), "output", std::to_string(ldy)));
  if (a == nullptr && p.k() > 0) return Status::TypeError(Expected("a buffer", "input", "null"));
  if (y == nullptr) return Status::TypeError(Expected("a buffer", "output", "null"));
  if (w_scales == nullptr) return Status::TypeError(Expected("an array", "weight scales", "null"));
  for (size_t j = 0; j < p.n(); ++j) {
    // The name is built only on failure: this loop runs on every call.
    if (!ScaleOk(w_scales[j], ScaleRule::kPositiveFinite)) {
      return CheckScale(w_scales[j], "weight scales[" + std::to_string(j) + "]");
    }
  }
  return Status::Ok();
}

// Per-call buffers (A panel, row terms, column constants), kept by the calling thread across
// calls so that small calls allocate nothing; a huge panel is released after its call.
struct Scratch {
  std::vector<uint8_t> panel;
  std::vector<int32_t> row_terms;
  std::vector<float> columns;
  std::vector<int32_t> int_columns;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Runs kernel(mr, nc, ..., n0) over every tile. make_params(n0) gives the kernel params of the
// column block starting at n0; store(i0, n0) the output pointer of the tile's first element.
template <typename Out, typename Params, typename Fn, typename MakeParams>
void RunTiles(const PackedGemm& p, size_t m, const uint8_t* a, size_t lda, int32_t a_zero_point, Fn* kernel,
              const MakeParams& make_params, Out* y, size_t ldy) {
  const GemmLayout& l = p.layout();
  const size_t n = p.n();
  const size_t row_bytes = p.a_row_bytes();
  const size_t mc = std::max(l.mr, kMC / l.mr * l.mr);
  const size_t row_blocks = (m + mc - 1) / mc;
  const size_t nc_blocks = std::max<size_t>(1, kTaskColumns / l.nr);
  const size_t col_tasks = (p.blocks() + nc_blocks - 1) / nc_blocks;

  Scratch& scratch = ThreadScratch();
  scratch.panel.resize(m * row_bytes + 64);
  scratch.row_terms.resize(m);
  uint8_t* panel = scratch.panel.data() + (64 - reinterpret_cast<uintptr_t>(scratch.panel.data()) % 64) % 64;
  int32_t* row_terms = scratch.row_terms.data();

  const double pack_ns = static_cast<double>(std::min(m, mc) * row_bytes) / kBytesPerNs;
  ParallelFor(row_blocks, pack_ns, [&](size_t rb) {
    const size_t i0 = rb * mc, rows = std::min(mc, m - i0);
    PackGemmA(p, rows, a + i0 * lda, lda, a_zero_point, panel + i0 * row_bytes, row_terms + i0);
  });
  const double tile_ns = static_cast<double>(std::min(m, mc) * std::min(n, nc_blocks * l.nr) * p.kpad()) / kMacsPerNs;
  ParallelFor(row_blocks * col_tasks, tile_ns, [&](size_t task) {
    const size_t rb = task / col_tasks, ct = task % col_tasks;
    const size_t i0 = rb * mc, i_end = std::min(m, i0 + mc);
    const size_t b_end = std::min(p.blocks(), (ct + 1) * nc_blocks);
    for (size_t b = ct * nc_blocks; b < b_end; ++b) {
      const size_t n0 = b * l.nr, nc = std::min(l.nr, n - n0);
      const Params params = make_params(n0);
      for (size_t i = i0; i < i_end; i += l.mr) {
        kernel(std::min(l.mr, i_end - i), nc, p.kpad(), panel + i * row_bytes, row_bytes, row_terms + i, p.block(b),
               y + i * ldy + n0, ldy, &params);
      }
    }
  });
  if (scratch.panel.size() > (size_t{8} << 20)) {
    scratch.panel = std::vector<uint8_t>();  // do not keep a huge panel alive in this thread
  }
}

}  // namespace

Status PackGemm(const GemmWeightsDesc& desc, Isa isa, std::shared_ptr<const PackedGemm>* out) {
  if (!IsaIsNative(isa) || !CpuSupports(GetCpuFeatures(), isa)) {
    return Status::RangeError(Expected("an ISA level this CPU runs", "isa", IsaName(isa)));
  }
  if (desc.n > 0 && desc.k > 0 && desc.w == nullptr) return Status::TypeError(Expected("a buffer", "weight", "null"));
  if (desc.n > 0 && desc.w_zero_points == nullptr) {
    return Status::TypeError(Expected("an array", "weight zero points", "null"));
  }
  for (size_t j = 0; j < desc.n; ++j) {
    if (desc.w_zero_points[j] < -128 || desc.w_zero_points[j] > 127) {
      return Status::RangeError(Expected("an integer in [-128, 127]", "weight zero points[" + std::to_string(j) + "]",
                                         std::to_string(desc.w_zero_points[j])));
    }
  }
  GemmLayout layout;
  if (!GemmLayoutForIsa(isa, &layout)) return Status::Error(std::string("no GEMM layout for ") + IsaName(isa));
  return PackedGemm::Create(layout, desc.n, desc.k, desc.w, desc.w_zero_points, out);
}

Status GemmWeights::Create(const GemmWeightsDesc& desc, std::shared_ptr<GemmWeights>* out) {
  if (desc.n > 0 && desc.k > 0 && desc.w == nullptr) return Status::TypeError(Expected("a buffer", "weight", "null"));
  if (desc.n > 0 && desc.w_zero_points == nullptr) {
    return Status::TypeError(Expected("an array", "weight zero points", "null"));
  }
  auto g = std::make_shared<GemmWeights>();
  g->n_ = desc.n;
  g->k_ = desc.k;
  if (desc.n > 0 && desc.k > 0) g->w_.assign(desc.w, desc.w + desc.n * desc.k);
  if (desc.n > 0) g->w_zero_points_.assign(desc.w_zero_points, desc.w_zero_points + desc.n);
  // Pack for the active level now: errors (bad zero points, sizes) surface at creation.
  std::shared_ptr<const PackedGemm> packed;
  QK_RETURN_IF_ERROR(g->PackedForActiveIsa(&packed));
  *out = std::move(g);
  return Status::Ok();
}

Status GemmWeights::PackedFor(Isa isa, std::shared_ptr<const PackedGemm>* out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::shared_ptr<const PackedGemm>& slot = packs_[static_cast<int>(isa)];
  if (slot == nullptr) {
    GemmWeightsDesc desc;
    desc.n = n_;
    desc.k = k_;
    desc.w = w_.data();
    desc.w_zero_points = w_zero_points_.data();
    QK_RETURN_IF_ERROR(PackGemm(desc, isa, &slot));
  }
  *out = slot;
  return Status::Ok();
}

Status GemmWeights::PackedForActiveIsa(std::shared_ptr<const PackedGemm>* out) const {
  return PackedFor(ActiveIsa(), out);
}

OutputStageColumn OutputStageFor(const GemmRequant& rq, size_t j) {
  const float bias = rq.bias != nullptr ? rq.bias[j] : 0.0f;
  const double a_scale64 = rq.a_scale_f64 > 0 ? rq.a_scale_f64 : rq.a_scale;
  const double y_scale64 = rq.y_scale_f64 > 0 ? rq.y_scale_f64 : rq.y_scale;
  const double w_scale64 = rq.w_scales_f64 != nullptr ? rq.w_scales_f64[j] : rq.w_scales[j];
  OutputStageColumn column{0, 0.0f, 0.0f};
  switch (EngineNumerics(rq.engine)) {
    case QEngine::kQnnpack: {
      // QuantizeBias (quant_utils.h): quantize_per_tensor/channel to qint32 with scale
      // w_scale * a_scale in double, i.e. quantize_val: nearbyint(bias * (1.0f / float(scale))).
      if (rq.bias != nullptr) {
        const float inverse = 1.0f / static_cast<float>(w_scale64 * a_scale64);
        const float q = std::nearbyint(bias * inverse);
        // NaN (undefined in torch's cast) becomes 0; out-of-range values clamp like qint32's.
        column.bias_int = !(q == q) ? 0 : q >= 2147483648.0f ? INT32_MAX : q < -2147483648.0f ? INT32_MIN
                                                                        : static_cast<int32_t>(q);
      }
      // generate_requantization_scales (qnnpack_utils.h), all float.
      column.multiplier = (rq.w_scales[j] * rq.a_scale) * (1.0f / rq.y_scale);
      break;
    }
    case QEngine::kOnednn: {
      // ideep: scales are reciprocals (float), the bias is scaled to the accumulator's domain in
      // fp32 and the output scale is dst_scale / (src_scale * weight_scale). torch's prepack
      // inverts a per-channel scale as 1.0f / scale.item<float>() (fp32) and a per-tensor one as
      // 1.0 / q_scale() (double): the two differ in the last bit for some scales.
      const float src = static_cast<float>(1.0 / a_scale64);
      const float wei = rq.w_per_channel ? 1.0f / static_cast<float>(w_scale64) : static_cast<float>(1.0 / w_scale64);
      const float dst = static_cast<float>(1.0 / y_scale64);
      const float s = src * wei;
      column.bias_term = bias * s;
      column.multiplier = dst / s;
      break;
    }
    default: {
      const float s = rq.a_scale * rq.w_scales[j];
      column.bias_term = rq.bias != nullptr ? bias / s : 0.0f;
      column.multiplier = s / rq.y_scale;
      break;
    }
  }
  return column;
}

OutputStage MakeOutputStage(const GemmRequant& rq, size_t n) {
  // The widest NR of the layouts (ukernels/gemm/registry.inc: 32); QGemmU8Packed falls back to
  // per-call columns if a layout ever reads past this padding.
  constexpr size_t kPadTo = 32;
  const size_t padded = (n + kPadTo - 1) / kPadTo * kPadTo;
  OutputStage stage;
  stage.bias_int.assign(padded, 0);
  stage.bias_term.assign(padded, 0.0f);
  stage.multiplier.assign(padded, 0.0f);
  for (size_t j = 0; j < n; ++j) {
    const OutputStageColumn column = OutputStageFor(rq, j);
    stage.bias_int[j] = column.bias_int;
    stage.bias_term[j] = column.bias_term;
    stage.multiplier[j] = column.multiplier;
  }
  return stage;
}

void OutputZeroPoints(const GemmRequant& rq, float* y_zero_point_f, int32_t* y_zero_point) {
  const bool in_float = EngineNumerics(rq.engine) == QEngine::kOnednn;  // oneDNN adds it before rounding
  *y_zero_point_f = in_float ? static_cast<float>(rq.y_zero_point) : 0.0f;
  *y_zero_point = in_float ? 0 : rq.y_zero_point;
}

Status QGemmU8Packed(const PackedGemm& packed, size_t m, const uint8_t* a, size_t lda, const GemmRequant& rq,
                     uint8_t* y, size_t ldy) {
  QK_RETURN_IF_ERROR(CheckCommon(packed, m, a, lda, rq.a_zero_point, rq.a_scale, rq.w_scales, y, ldy));
  QK_RETURN_IF_ERROR(CheckScale(rq.y_scale, "output scale"));
  QK_RETURN_IF_ERROR(CheckByte(rq.y_zero_point, "output zero point"));
  QK_RETURN_IF_ERROR(CheckByte(rq.y_min, "output minimum"));
  QK_RETURN_IF_ERROR(CheckByte(rq.y_max, "output maximum"));
  if (rq.y_min > rq.y_max) {
    return Status::RangeError(Expected("an output minimum <= maximum " + std::to_string(rq.y_max), "output minimum",
                                       std::to_string(rq.y_min)));
  }
  if (m == 0 || packed.n() == 0) return Status::Ok();
  const PackedGemm& p = GemmPackForCall(packed, m, a, lda);
  const size_t n = p.n();
  const size_t padded = p.blocks() * p.layout().nr;
  const float* bias_term = nullptr;
  const float* multiplier = nullptr;
  const int32_t* bias_int = nullptr;
  if (rq.stage != nullptr && rq.stage->multiplier.size() >= padded && rq.stage->bias_term.size() >= padded &&
      rq.stage->bias_int.size() >= padded) {
    bias_term = rq.stage->bias_term.data();
    multiplier = rq.stage->multiplier.data();
    bias_int = rq.stage->bias_int.data();
  } else {
    std::vector<float>& columns = ThreadScratch().columns;
    std::vector<int32_t>& int_columns = ThreadScratch().int_columns;
    columns.assign(2 * padded, 0.0f);
    int_columns.assign(padded, 0);
    for (size_t j = 0; j < n; ++j) {
      const OutputStageColumn column = OutputStageFor(rq, j);
      int_columns[j] = column.bias_int;
      columns[j] = column.bias_term;
      columns[padded + j] = column.multiplier;
    }
    bias_term = columns.data();
    multiplier = columns.data() + padded;
    bias_int = int_columns.data();
  }
  const float lo = static_cast<float>(rq.y_min - rq.y_zero_point);
  const float hi = static_cast<float>(rq.y_max - rq.y_zero_point);
  float y_zp_f = 0;
  int32_t y_zp_i = 0;
  OutputZeroPoints(rq, &y_zp_f, &y_zp_i);
  auto make_params = [&](size_t n0) {
    return GemmU8Params{rq.a_zero_point, bias_int + n0, bias_term + n0, multiplier + n0, lo, hi, y_zp_f, y_zp_i};
  };
  RunTiles<uint8_t, GemmU8Params>(p, m, a, lda, rq.a_zero_point, p.layout().u8_kernel, make_params, y, ldy);
  return Status::Ok();
}

Status QGemmF32Packed(const PackedGemm& packed, size_t m, const uint8_t* a, size_t lda, float a_scale,
                      int32_t a_zero_point, const float* w_scales, const float* bias, bool relu, float* y, size_t ldy) {
  QK_RETURN_IF_ERROR(CheckCommon(packed, m, a, lda, a_zero_point, a_scale, w_scales, y, ldy));
  if (m == 0 || packed.n() == 0) return Status::Ok();
  const PackedGemm& p = GemmPackForCall(packed, m, a, lda);
  const size_t n = p.n();
  std::vector<float>& scale = ThreadScratch().columns;
  scale.assign(p.blocks() * p.layout().nr, 0.0f);
  for (size_t j = 0; j < n; ++j) scale[j] = a_scale * w_scales[j];
  auto make_params = [&](size_t n0) {
    return GemmF32Params{a_zero_point, scale.data() + n0, bias != nullptr ? bias + n0 : nullptr, relu};
  };
  RunTiles<float, GemmF32Params>(p, m, a, lda, a_zero_point, p.layout().f32_kernel, make_params, y, ldy);
  return Status::Ok();
}

Status QGemmU8(const GemmWeights& w, size_t m, const uint8_t* a, size_t lda, const GemmRequant& rq, uint8_t* y,
               size_t ldy) {
  std::shared_ptr<const PackedGemm> packed;
  QK_RETURN_IF_ERROR(w.PackedForActiveIsa(&packed));
  return QGemmU8Packed(*packed, m, a, lda, rq, y, ldy);
}

Status QGemmF32(const GemmWeights& w, size_t m, const uint8_t* a, size_t lda, float a_scale, int32_t a_zero_point,
                const float* w_scales, const float* bias, bool relu, float* y, size_t ldy) {
  std::shared_ptr<const PackedGemm> packed;
  QK_RETURN_IF_ERROR(w.PackedForActiveIsa(&packed));
  return QGemmF32Packed(*packed, m, a, lda, a_scale, a_zero_point, w_scales, bias, relu, y, ldy);
}

}  // namespace qk
