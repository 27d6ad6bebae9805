// The prepared linear op (quantized Linear, LinearReLU, LinearLeakyReLU, LinearTanh): one Prepare, one Run on buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/status.h"
#include "ops/epilogue.h"
#include "ops/linear.h"
#include "ops/op.h"
#include "ukernels/dispatch.h"

namespace qk {

struct LinearParams {
  size_t rows = 0;                       // x is [rows][in_features] quint8, y [rows][out_features] quint8
  double x_scale = 1;                    // positive and finite once rounded to float32
  int32_t x_zero_point = 0;              // [0, 255]
  double y_scale = 1;
  int32_t y_zero_point = 0;
  Activation activation = Activation::kNone;
  float negative_slope = 0;              // kLeakyReLU's alpha
  QEngine engine = QEngine::kFbgemm;     // the output stage of kNone / kReLU (ops/qgemm.h)
};

// None and ReLU run LinearU8 (the engine's integer output stage). LeakyReLU and Tanh run the
// fp32 path: QGemmF32 (x_scale rounded to float), the activation, then quantize (epilogue.h).
class LinearOp final : public Op {
 public:
  // RangeError / TypeError naming the parameter as lib/ does ("input scale", "zeroPoint", ...).
  static Status Prepare(std::shared_ptr<const LinearWeights> weights, const LinearParams& params,
                        std::shared_ptr<const LinearOp>* out);

  const char* name() const override { return "linear"; }
  size_t input_count() const override { return 1; }
  size_t input_bytes(size_t) const override { return x_count_; }
  size_t output_bytes() const override { return y_count_; }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  // inputs[0]: x.
  Status Run(const void* const* inputs, void* output, void* scratch) const override;

 private:
  std::shared_ptr<const LinearWeights> weights_;
  LinearParams params_;
  // The integer path's output stage, made once (its per-column constants in stage_).
  GemmRequant requant_;
  OutputStage stage_;
  size_t x_count_ = 0, y_count_ = 0, scratch_bytes_ = 0;
};

}  // namespace qk
