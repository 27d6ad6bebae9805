// Quantized linear (torch.ao.nn.quantized.Linear and the dynamic nn.quantized.dynamic.Linear) on top of QGemm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "ops/qgemm.h"
#include "ukernels/dispatch.h"

namespace qk {

struct LinearWeights {  // immutable after creation; shared by a module and its in-flight async calls
  size_t out_features, in_features;
  bool per_channel;
  std::vector<float> w_scales;        // out_features values (per-tensor: repeated)
  std::vector<double> w_scales_f64;   // the same as given (qnnpack's bias quantization reads doubles)
  std::vector<int32_t> w_zero_points; // out_features values
  std::vector<float> bias;            // empty or out_features values
  std::shared_ptr<GemmWeights> gemm;
  std::vector<int8_t> w;              // the original weights ([out][in]) for weight() unpacking
};

// w_scales / w_zero_points: 1 value (per-tensor) or out_features values (per-channel, axis 0).
// Scales arrive as double (QTensor keeps Float64Array) and are rounded to float as PyTorch does.
// Checks: scales finite and > 0, zero points in [-128, 127], num_qparams 1 or out_features.
Status CreateLinearWeights(const int8_t* w, size_t out_features, size_t in_features,
                           const double* w_scales, const int32_t* w_zero_points, size_t num_qparams,
                           const float* bias, std::shared_ptr<const LinearWeights>* out);

// quint8 in/out, x is [rows][in_features], y is [rows][out_features]. The output stage is the
// engine's (ops/qgemm.h): onednn's linear is the same ideep/oneDNN epilogue as its conv (measured
// against Debian's torch on every (x, w) pair of a dense grid: doc/numerics.md).
Status LinearU8(const LinearWeights& w, const uint8_t* x, size_t rows, double x_scale, int32_t x_zero_point,
                double y_scale, int32_t y_zero_point, bool relu, uint8_t* y, QEngine engine = QEngine::kFbgemm);
// The GEMM output stage LinearU8 runs for those qparams (it points into w: keep w alive), and
// LinearU8 on a stage made already: a prepared LinearOp makes it, with its OutputStage, once.
GemmRequant LinearRequant(const LinearWeights& w, double x_scale, int32_t x_zero_point, double y_scale,
                          int32_t y_zero_point, bool relu, QEngine engine);
Status LinearU8(const LinearWeights& w, const uint8_t* x, size_t rows, const GemmRequant& rq, uint8_t* y);

// Dynamic: fp32 in/out, activations quantized per call to quint8 as PyTorch does
// (min/max over x incl. 0, reduce_range -> 7-bit); y = ... + bias; relu optional.
Status LinearDynamicF32(const LinearWeights& w, const float* x, size_t rows, bool reduce_range, bool relu, float* y);

}  // namespace qk
