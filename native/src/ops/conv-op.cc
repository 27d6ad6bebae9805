// The prepared conv op: checks once at Prepare; per run the integer conv or ConvAdd's fp32 path; the per-handle output-stage cache (see conv-op.h).
#include "ops/conv-op.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/checked.h"
#include "base/conv-geometry.h"
#include "base/expected.h"
#include "ops/epilogue.h"

namespace qk {
namespace {

// Output pixels per im2col block of ConvAdd.
constexpr size_t kAddBlock = 64;

}  // namespace

bool ConvTensorCount(size_t n, size_t channels, const size_t spatial[3], size_t* count) {
  return CheckedMul(n, channels, count) && CheckedMul(*count, spatial[0], count) &&
         CheckedMul(*count, spatial[1], count) && CheckedMul(*count, spatial[2], count);
}

Status ConvAddGemms::Get(const ConvWeights& weights, std::vector<std::shared_ptr<GemmWeights>>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ConvGeometry& g = weights.geometry;
  if (groups_.empty()) {
    const size_t opg = g.out_channels / g.groups;
    const size_t k = weights.w.size() / g.out_channels;
    std::vector<std::shared_ptr<GemmWeights>> groups(g.groups);
    for (size_t group = 0; group < g.groups; ++group) {
      GemmWeightsDesc desc;
      desc.n = opg;
      desc.k = k;
      desc.w = weights.w.data() + group * opg * k;
      desc.w_zero_points = weights.w_zero_points.data() + group * opg;
      QK_RETURN_IF_ERROR(GemmWeights::Create(desc, &groups[group]));
    }
    groups_ = std::move(groups);
  }
  *out = groups_;
  return Status::Ok();
}

std::shared_ptr<const OutputStage> ConvStageCache::Get(const ConvWeights& weights, double x_scale,
                                                       int32_t x_zero_point, double y_scale, int32_t y_zero_point,
                                                       bool relu, QEngine engine) {
  // The scales are checked positive and finite before they get here, so == on them is equality
  // of their bits (no NaN, no signed zero).
  const auto same = [&](const Entry& e) {
    return e.weights == &weights && e.x_scale == x_scale && e.y_scale == y_scale && e.x_zero_point == x_zero_point &&
           e.y_zero_point == y_zero_point && e.relu == relu && e.engine == engine;
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : entries_) {
      if (same(e)) return e.stage;
    }
  }
  // Made outside the lock (another thread may make the same one meanwhile: both are equal).
  auto stage = std::make_shared<const OutputStage>(
      ConvOutputStage(weights, x_scale, x_zero_point, y_scale, y_zero_point, relu, engine));
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Entry& e : entries_) {
    if (same(e)) return e.stage;
  }
  Entry& slot = entries_[next_];
  next_ = (next_ + 1) % kEntries;
  slot = Entry{&weights, x_scale, y_scale, x_zero_point, y_zero_point, relu, engine, stage};
  return stage;
}

Status ConvStageCache::GetRun(const ConvWeights& weights, const std::shared_ptr<const OutputStage>& stage, size_t batch,
                              const size_t in_spatial[3], ConvLayout layout, double x_scale, int32_t x_zero_point,
                              double y_scale, int32_t y_zero_point, bool relu, QEngine engine, bool out_channels_last,
                              std::shared_ptr<const ConvRun>* out) {
  const Isa isa = ActiveIsa();
  // The stage stands for the qparams, relu and engine (Get made it for them).
  const auto same = [&](const RunEntry& e) {
    return e.weights == &weights && e.stage == stage && e.batch == batch && e.in_spatial[0] == in_spatial[0] &&
           e.in_spatial[1] == in_spatial[1] && e.in_spatial[2] == in_spatial[2] && e.layout == layout &&
           e.out_channels_last == out_channels_last && e.isa == isa;
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const RunEntry& e : runs_) {
      if (same(e)) {
        *out = e.run;
        return Status::Ok();
      }
    }
  }
  // Prepared outside the lock (another thread may prepare the same one meanwhile: both are equal).
  std::shared_ptr<const ConvRun> run;
  QK_RETURN_IF_ERROR(PrepareConvRun(weights, batch, in_spatial, layout, x_scale, x_zero_point, y_scale, y_zero_point,
                                    relu, engine, out_channels_last, stage.get(), &run));
  std::lock_guard<std::mutex> lock(mutex_);
  RunEntry& slot = runs_[next_run_];
  next_run_ = (next_run_ + 1) % kRuns;
  slot = RunEntry{&weights, stage, batch, {in_spatial[0], in_spatial[1], in_spatial[2]}, layout, out_channels_last, isa,
                  run};
  *out = std::move(run);
  return Status::Ok();
}

Status ConvStageCache::Conv(const ConvWeights& weights, const uint8_t* x, size_t batch, const size_t in_spatial[3],
                            ConvLayout layout, double x_scale, int32_t x_zero_point, double y_scale,
                            int32_t y_zero_point, bool relu, uint8_t* y, QEngine engine, bool out_channels_last) {
  const std::shared_ptr<const OutputStage> stage =
      Get(weights, x_scale, x_zero_point, y_scale, y_zero_point, relu, engine);
  std::shared_ptr<const ConvRun> run;
  QK_RETURN_IF_ERROR(GetRun(weights, stage, batch, in_spatial, layout, x_scale, x_zero_point, y_scale, y_zero_point,
                            relu, engine, out_channels_last, &run));
  if (run != nullptr && RunPreparedConv(*run, x, y, nullptr)) return Status::Ok();
  return ConvU8(weights, x, batch, in_spatial, layout, x_scale, x_zero_point, y_scale, y_zero_point, relu, y, engine,
                out_channels_last, nullptr, stage.get());
}

Status ConvOp::Prepare(std::shared_ptr<const ConvWeights> weights, ConvAddGemms* add_gemms, const ConvParams& params,
                       std::shared_ptr<const ConvOp>* out, ConvStageCache* stages) {
  if (weights == nullptr) return Status::TypeError(Expected("packed weights", "weight", "null"));
  const ConvGeometry& g = weights->geometry;
  QK_RETURN_IF_ERROR(CheckQuint8Scale(params.x_scale, "input scale"));
  QK_RETURN_IF_ERROR(CheckQuint8ZeroPoint(params.x_zero_point, "input zero point"));
  QK_RETURN_IF_ERROR(CheckQuint8Scale(params.y_scale, "scale"));
  QK_RETURN_IF_ERROR(CheckQuint8ZeroPoint(params.y_zero_point, "zeroPoint"));
  auto op = std::shared_ptr<ConvOp>(new ConvOp);
  QK_RETURN_IF_ERROR(ConvOutputSize(g, params.in_spatial, op->out_spatial_));
  if (!ConvTensorCount(params.batch, g.in_channels, params.in_spatial, &op->x_count_)) {
    return Status::RangeError(Expected("an input that fits in memory", "input", "a larger shape"));
  }
  if (!ConvTensorCount(params.batch, g.out_channels, op->out_spatial_, &op->y_count_)) {
    return Status::RangeError(Expected("an output that fits in memory", "input", "a larger shape"));
  }
  if (params.add) {
    if (g.transposed) return Status::RangeError(Expected("a non-transposed convolution", "extra", "a transposed one"));
    QK_RETURN_IF_ERROR(CheckQuint8Scale(params.extra_scale, "extra scale"));
    QK_RETURN_IF_ERROR(CheckQuint8ZeroPoint(params.extra_zero_point, "extra zero point"));
    if (add_gemms == nullptr) return Status::TypeError(Expected("the handle's ConvAdd GEMMs", "addGemms", "null"));
    QK_RETURN_IF_ERROR(add_gemms->Get(*weights, &op->add_gemms_));
    // Scratch: the block's fp32 values, one pixel's tap sources, the block's im2col rows and
    // quantized values (in that order, so each part stays aligned for its type).
    const size_t opg = g.out_channels / g.groups;
    const size_t k = weights->w.size() / g.out_channels;
    const size_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
    size_t f_bytes = 0, a_bytes = 0, q_bytes = 0;
    if (!CheckedMul(kAddBlock * sizeof(float), opg, &f_bytes) || !CheckedMul(kAddBlock, k, &a_bytes) ||
        !CheckedMul(kAddBlock, opg, &q_bytes) || !CheckedAdd(f_bytes, taps * sizeof(int64_t), &op->scratch_bytes_) ||
        !CheckedAdd(op->scratch_bytes_, a_bytes, &op->scratch_bytes_) ||
        !CheckedAdd(op->scratch_bytes_, q_bytes, &op->scratch_bytes_)) {
      return Status::RangeError(Expected("a weight whose size fits in memory", "weight", "a larger shape"));
    }
  }
  if (!params.add && stages != nullptr) {
    op->stage_ = stages->Get(*weights, params.x_scale, params.x_zero_point, params.y_scale, params.y_zero_point,
                             params.relu, params.engine);
  } else if (!params.add) {
    op->stage_ = std::make_shared<const OutputStage>(ConvOutputStage(
        *weights, params.x_scale, params.x_zero_point, params.y_scale, params.y_zero_point, params.relu, params.engine));
  }
  if (!params.add && stages != nullptr) {
    QK_RETURN_IF_ERROR(stages->GetRun(*weights, op->stage_, params.batch, params.in_spatial, params.layout,
                                      params.x_scale, params.x_zero_point, params.y_scale, params.y_zero_point,
                                      params.relu, params.engine, params.out_channels_last, &op->run_));
  } else if (!params.add) {
    QK_RETURN_IF_ERROR(PrepareConvRun(*weights, params.batch, params.in_spatial, params.layout, params.x_scale,
                                      params.x_zero_point, params.y_scale, params.y_zero_point, params.relu,
                                      params.engine, params.out_channels_last, op->stage_.get(), &op->run_));
  }
  op->weights_ = std::move(weights);
  op->params_ = params;
  *out = std::move(op);
  return Status::Ok();
}

Status ConvOp::Run(const void* const* inputs, void* output, void* scratch) const {
  const ConvParams& p = params_;
  const auto* x = static_cast<const uint8_t*>(inputs[0]);
  auto* y = static_cast<uint8_t*>(output);
  if (!p.add) {
    if (run_ != nullptr && RunPreparedConv(*run_, x, y, nullptr)) return Status::Ok();
    return ConvU8(*weights_, x, p.batch, p.in_spatial, p.layout, p.x_scale, p.x_zero_point, p.y_scale, p.y_zero_point,
                  p.relu, y, p.engine, p.out_channels_last, nullptr, stage_.get());
  }
  if (scratch == nullptr) return Status::TypeError(Expected("a scratch buffer", "scratch", "null"));
  return RunAdd(x, static_cast<const uint8_t*>(inputs[1]), y, scratch);
}

Status ConvOp::RunWithEpilogue(const void* x, void* y, const ConvEpilogue& epilogue) const {
  const ConvParams& p = params_;
  if (p.add) return Status::Error("qkernels: internal error: ConvAdd has no epilogue form");
  if (run_ != nullptr && RunPreparedConv(*run_, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), &epilogue)) {
    return Status::Ok();
  }
  return ConvU8(*weights_, static_cast<const uint8_t*>(x), p.batch, p.in_spatial, p.layout, p.x_scale, p.x_zero_point,
                p.y_scale, p.y_zero_point, p.relu, static_cast<uint8_t*>(y), p.engine, p.out_channels_last, &epilogue,
                stage_.get());
}

Status ConvOp::RunAdd(const uint8_t* x, const uint8_t* extra, uint8_t* y, void* scratch) const {
  const ConvWeights& weights = *weights_;
  const ConvGeometry& g = weights.geometry;
  const ConvParams& p = params_;
  const size_t cpg = g.in_channels / g.groups, opg = g.out_channels / g.groups;
  const size_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const size_t k = cpg * taps;
  const size_t* in = p.in_spatial;
  const size_t* out = out_spatial_;
  const size_t in_pixels = in[0] * in[1] * in[2];
  const size_t out_pixels = out[0] * out[1] * out[2];
  float* f = static_cast<float*>(scratch);
  int64_t* sources = reinterpret_cast<int64_t*>(f + kAddBlock * opg);  // kAddBlock * opg is a multiple of 64
  uint8_t* a = reinterpret_cast<uint8_t*>(sources + taps);
  uint8_t* q = a + kAddBlock * k;
  const float x_scale = static_cast<float>(p.x_scale);
  const float extra_scale = static_cast<float>(p.extra_scale);
  // Strides of (image, channel, pixel) in the input and the output for the layouts.
  const bool x_channels_last = p.layout == ConvLayout::kChannelsLast;
  const size_t x_image = g.in_channels * in_pixels, y_image = g.out_channels * out_pixels;
  const size_t x_channel = x_channels_last ? 1 : in_pixels, x_pixel = x_channels_last ? g.in_channels : 1;
  const size_t y_channel = p.out_channels_last ? 1 : out_pixels, y_pixel = p.out_channels_last ? g.out_channels : 1;
  const float* bias_all = weights.bias.empty() ? nullptr : weights.bias.data();
  const Activation activation = p.relu ? Activation::kReLU : Activation::kNone;
  for (size_t n = 0; n < p.batch; ++n) {
    for (size_t group = 0; group < g.groups; ++group) {
      for (size_t p0 = 0; p0 < out_pixels; p0 += kAddBlock) {
        const size_t rows = std::min(kAddBlock, out_pixels - p0);
        for (size_t r = 0; r < rows; ++r) {
          const size_t pixel = p0 + r;
          const int64_t o[3] = {static_cast<int64_t>(pixel / (out[1] * out[2])),
                                static_cast<int64_t>((pixel / out[2]) % out[1]), static_cast<int64_t>(pixel % out[2])};
          // Where each tap of this output pixel reads (an offset in a channel plane, or -1 for the
          // padding), found once for all the group's input channels.
          for (size_t t = 0; t < taps; ++t) {
            const size_t kk[3] = {t / (g.kernel[1] * g.kernel[2]), (t / g.kernel[2]) % g.kernel[1], t % g.kernel[2]};
            int64_t offset = 0;
            for (int d = 0; d < 3 && offset >= 0; ++d) {
              const int64_t size = static_cast<int64_t>(in[d]);
              const int64_t pos = o[d] * static_cast<int64_t>(g.stride[d]) - static_cast<int64_t>(g.pad_before[d]) +
                                  static_cast<int64_t>(kk[d] * g.dilation[d]);
              const int64_t source = PaddedSource(pos, size, g.padding_mode);
              offset = source < 0 || source >= size ? -1 : offset * size + source;
            }
            sources[t] = offset < 0 ? -1 : offset * static_cast<int64_t>(x_pixel);
          }
          uint8_t* row = a + r * k;
          const uint8_t padding = static_cast<uint8_t>(p.x_zero_point);
          for (size_t ci = 0; ci < cpg; ++ci) {
            const uint8_t* plane = x + n * x_image + (group * cpg + ci) * x_channel;
            uint8_t* out_row = row + ci * taps;
            for (size_t t = 0; t < taps; ++t) out_row[t] = sources[t] < 0 ? padding : plane[sources[t]];
          }
        }
        const float* bias = bias_all == nullptr ? nullptr : bias_all + group * opg;
        QK_RETURN_IF_ERROR(QGemmF32(*add_gemms_[group], rows, a, k, x_scale, p.x_zero_point,
                                    weights.w_scales.data() + group * opg, bias, false, f, opg));
        for (size_t r = 0; r < rows; ++r) {
          for (size_t j = 0; j < opg; ++j) {
            const size_t index = n * y_image + (group * opg + j) * y_channel + (p0 + r) * y_pixel;
            f[r * opg + j] += extra_scale * static_cast<float>(static_cast<int32_t>(extra[index]) - p.extra_zero_point);
          }
        }
        QK_RETURN_IF_ERROR(ActivateQuantizeU8(f, rows * opg, activation, 0.0f, p.y_scale, p.y_zero_point, q));
        for (size_t r = 0; r < rows; ++r) {
          for (size_t j = 0; j < opg; ++j) y[n * y_image + (group * opg + j) * y_channel + (p0 + r) * y_pixel] = q[r * opg + j];
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace qk
