// Quantized linear ops: weight creation (qparams checks, lazy per-ISA packs) and the static and dynamic forwards over QGemm.
//
// Dynamic linear follows PyTorch 1.13's quantized::linear_dynamic (qlinear_dynamic.cpp), onednn
// and qnnpack engines alike:
//   1. [x_min, x_max] = min/max over all of x; ChooseQuantizationParams(x_min, x_max, quint8
//      [0, 255], reduce_range) widens the range to include 0 and, with reduce_range, uses
//      [0, 127] (PyTorch's qnnpack engine ignores reduce_range; the JS caller decides).
//   2. x is quantized per tensor with that scale and zero point (the quantize op's formula).
//   3. y = float(acc) * (x_scale * w_scale[j]) + bias[j], ReLU after (QGemmF32).
// oneDNN quantizes x with its own reorder (scale 1.0 / x_scale rounded from double) and may add the
// bias in another order, so PyTorch's onednn results can differ from these in the last bits.
#include "ops/linear.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "base/expected.h"
#include "ops/quantize.h"

namespace qk {
namespace {

Status CheckInput(const LinearWeights& w, const void* x, size_t rows, const void* y) {
  if (rows > 0 && w.in_features > 0 && x == nullptr) return Status::TypeError(Expected("a buffer", "input", "null"));
  if (rows > 0 && w.out_features > 0 && y == nullptr) return Status::TypeError(Expected("a buffer", "output", "null"));
  if (w.gemm == nullptr) return Status::TypeError(Expected("packed weights", "weight", "null"));
  return Status::Ok();
}

}  // namespace

Status CreateLinearWeights(const int8_t* w, size_t out_features, size_t in_features, const double* w_scales,
                           const int32_t* w_zero_points, size_t num_qparams, const float* bias,
                           std::shared_ptr<const LinearWeights>* out) {
  if (num_qparams != 1 && num_qparams != out_features) {
    return Status::RangeError(Expected("1 or " + std::to_string(out_features) + " (out_features) scales",
                                       "weight scales", std::to_string(num_qparams) + " values"));
  }
  if (w_scales == nullptr) return Status::TypeError(Expected("an array", "weight scales", "null"));
  if (w_zero_points == nullptr) return Status::TypeError(Expected("an array", "weight zero points", "null"));
  auto lw = std::make_shared<LinearWeights>();
  lw->out_features = out_features;
  lw->in_features = in_features;
  lw->per_channel = num_qparams != 1;
  lw->w_scales.resize(out_features);
  lw->w_scales_f64.resize(out_features);
  lw->w_zero_points.resize(out_features);
  for (size_t j = 0; j < num_qparams; ++j) {
    const double s = w_scales[j];
    const std::string index = num_qparams == 1 ? "" : "[" + std::to_string(j) + "]";
    if (!ScaleOk(s, ScaleRule::kPositiveFiniteInFloat32)) {
      char text[40];
      std::snprintf(text, sizeof(text), "%.17g", s);
      return Status::RangeError(Expected("a positive finite number (as float32)", "weight scale" + index, text));
    }
    if (w_zero_points[j] < -128 || w_zero_points[j] > 127) {
      return Status::RangeError(
          Expected("an integer in [-128, 127]", "weight zero point" + index, std::to_string(w_zero_points[j])));
    }
  }
  for (size_t j = 0; j < out_features; ++j) {
    const size_t q = num_qparams == 1 ? 0 : j;
    lw->w_scales[j] = static_cast<float>(w_scales[q]);
    lw->w_scales_f64[j] = w_scales[q];
    lw->w_zero_points[j] = w_zero_points[q];
  }
  if (bias != nullptr) lw->bias.assign(bias, bias + out_features);
  if (out_features > 0 && in_features > 0) {
    if (w == nullptr) return Status::TypeError(Expected("a buffer", "weight", "null"));
    lw->w.assign(w, w + out_features * in_features);
  }
  GemmWeightsDesc desc;
  desc.n = out_features;
  desc.k = in_features;
  desc.w = lw->w.data();
  desc.w_zero_points = lw->w_zero_points.data();
  QK_RETURN_IF_ERROR(GemmWeights::Create(desc, &lw->gemm));
  *out = std::move(lw);
  return Status::Ok();
}

GemmRequant LinearRequant(const LinearWeights& w, double x_scale, int32_t x_zero_point, double y_scale,
                          int32_t y_zero_point, bool relu, QEngine engine) {
  GemmRequant rq;
  rq.engine = engine;
  rq.w_per_channel = w.per_channel;
  rq.a_scale_f64 = x_scale;
  rq.y_scale_f64 = y_scale;
  rq.w_scales_f64 = w.w_scales_f64.data();
  rq.a_scale = static_cast<float>(x_scale);
  rq.a_zero_point = x_zero_point;
  rq.w_scales = w.w_scales.data();
  rq.bias = w.bias.empty() ? nullptr : w.bias.data();
  rq.y_scale = static_cast<float>(y_scale);
  rq.y_zero_point = y_zero_point;
  rq.y_min = relu ? y_zero_point : 0;
  rq.y_max = 255;
  if (relu && (y_zero_point < 0 || y_zero_point > 255)) rq.y_min = 0;  // QGemmU8 reports the zero point
  return rq;
}

Status LinearU8(const LinearWeights& w, const uint8_t* x, size_t rows, const GemmRequant& rq, uint8_t* y) {
  QK_RETURN_IF_ERROR(CheckInput(w, x, rows, y));
  return QGemmU8(*w.gemm, rows, x, w.in_features, rq, y, w.out_features);
}

Status LinearU8(const LinearWeights& w, const uint8_t* x, size_t rows, double x_scale, int32_t x_zero_point,
                double y_scale, int32_t y_zero_point, bool relu, uint8_t* y, QEngine engine) {
  return LinearU8(w, x, rows, LinearRequant(w, x_scale, x_zero_point, y_scale, y_zero_point, relu, engine), y);
}

Status LinearDynamicF32(const LinearWeights& w, const float* x, size_t rows, bool reduce_range, bool relu, float* y) {
  QK_RETURN_IF_ERROR(CheckInput(w, x, rows, y));
  if (rows == 0 || w.out_features == 0) return Status::Ok();
  const size_t numel = rows * w.in_features;
  float x_min = 0, x_max = 0;
  if (numel > 0) MinMax(x, numel, &x_min, &x_max);
  ChosenQParams qp;
  QK_RETURN_IF_ERROR(ChooseQuantizationParams(x_min, x_max, QDType::kQUInt8, reduce_range, &qp));
  std::vector<uint8_t> xq(numel);
  QK_RETURN_IF_ERROR(QuantizePerTensor(x, numel, qp.scale, qp.zero_point, QDType::kQUInt8, xq.data(), xq.size()));
  return QGemmF32(*w.gemm, rows, xq.data(), w.in_features, static_cast<float>(qp.scale),
                  static_cast<int32_t>(qp.zero_point), w.w_scales.data(), w.bias.empty() ? nullptr : w.bias.data(),
                  relu, y, w.out_features);
}

}  // namespace qk
