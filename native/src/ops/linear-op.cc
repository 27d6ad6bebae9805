// The prepared linear op: checks once at Prepare, then the integer or the fp32-epilogue path per run.
#include "ops/linear-op.h"

#include <string>
#include <utility>

#include "base/checked.h"
#include "base/expected.h"
#include "ops/qgemm.h"

namespace qk {

Status LinearOp::Prepare(std::shared_ptr<const LinearWeights> weights, const LinearParams& params,
                         std::shared_ptr<const LinearOp>* out) {
  if (weights == nullptr || weights->gemm == nullptr) return Status::TypeError(Expected("packed weights", "weight", "null"));
  QK_RETURN_IF_ERROR(CheckQuint8Scale(params.x_scale, "input scale"));
  QK_RETURN_IF_ERROR(CheckQuint8ZeroPoint(params.x_zero_point, "input zero point"));
  QK_RETURN_IF_ERROR(CheckQuint8Scale(params.y_scale, "scale"));
  QK_RETURN_IF_ERROR(CheckQuint8ZeroPoint(params.y_zero_point, "zeroPoint"));
  const int code = static_cast<int>(params.activation);
  if (code < 0 || code > 3) return Status::RangeError(Expected("activation code 0..3", "activation", std::to_string(code)));
  auto op = std::shared_ptr<LinearOp>(new LinearOp);
  if (!CheckedMul(params.rows, weights->in_features, &op->x_count_) ||
      !CheckedMul(params.rows, weights->out_features, &op->y_count_)) {
    return Status::RangeError(Expected("rows * features that fit in memory", "rows", std::to_string(params.rows)));
  }
  const bool fp32_path = params.activation == Activation::kLeakyReLU || params.activation == Activation::kTanh;
  if (fp32_path && !CheckedMul(op->y_count_, sizeof(float), &op->scratch_bytes_)) {
    return Status::RangeError(Expected("an output that fits in memory", "rows", std::to_string(params.rows)));
  }
  op->weights_ = std::move(weights);
  op->params_ = params;
  if (!fp32_path) {
    const LinearWeights& w = *op->weights_;
    op->requant_ = LinearRequant(w, params.x_scale, params.x_zero_point, params.y_scale, params.y_zero_point,
                                 params.activation == Activation::kReLU, params.engine);
    op->stage_ = MakeOutputStage(op->requant_, w.out_features);
    op->requant_.stage = &op->stage_;  // the op is not copied (held by shared_ptr), so this stays valid
  }
  *out = std::move(op);
  return Status::Ok();
}

Status LinearOp::Run(const void* const* inputs, void* output, void* scratch) const {
  const LinearWeights& w = *weights_;
  const LinearParams& p = params_;
  const auto* x = static_cast<const uint8_t*>(inputs[0]);
  auto* y = static_cast<uint8_t*>(output);
  if (scratch_bytes_ == 0) return LinearU8(w, x, p.rows, requant_, y);
  if (scratch == nullptr) return Status::TypeError(Expected("a scratch buffer", "scratch", "null"));
  float* values = static_cast<float*>(scratch);
  const float* bias = w.bias.empty() ? nullptr : w.bias.data();
  QK_RETURN_IF_ERROR(QGemmF32(*w.gemm, p.rows, x, w.in_features, static_cast<float>(p.x_scale), p.x_zero_point,
                              w.w_scales.data(), bias, false, values, w.out_features));
  return ActivateQuantizeU8(values, y_count_, p.activation, p.negative_slope, p.y_scale, p.y_zero_point, y);
}

}  // namespace qk
