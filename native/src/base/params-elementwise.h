// The plain spec structs of the elementwise ops (lookup maps, quantized add / mul), shared by ops/elementwise.h and the reference (which may include only base/).
#pragma once

#include <cstdint>

#include "base/params-quantize.h"  // QDType

namespace qk {

// The fixed-qparams maps, each exactly as PyTorch computes it (x the dequantized
// input, y the real result; "float" means fp32 arithmetic in that order):
enum class LookupOp : int32_t {
  kRelu = 0,         // q -> max(q, zp)                                     (qrelu; output qparams = input's)
  kClamp = 1,        // q -> min(max(q, quantize(p0)), quantize(p1)) in integers; NaN p0 / p1 = no bound
                     // (qclamp, hardtanh, relu6; output qparams = input's)
  kHardswish = 2,    // y = x * min(max(x + 3, 0), 6) / 6
  kElu = 3,          // y = x >= 0 ? x * p1 : (exp(x * p2) - 1) * p0 * p1   (p0 alpha, p1 scale, p2 input scale)
  kLeakyRelu = 4,    // y = x > 0 ? x : x * p0
  kHardsigmoid = 5,  // y = min(max(x + 3, 0), 6) / 6
  kSigmoid = 6,      // y = 1 / (1 + exp(-x))
  kTanh = 7,         // y = tanh(x)
  kThreshold = 8,    // y = x > p0 ? x : p1
  kAddScalar = 9,    // q -> requantize_from_int(q - zp + p0, in_scale / out_scale, out_zp); p1 != 0: ReLU (max with out_zp)
  kRequantize = 10,  // y = x (dequantize, then quantize with the output qparams); p0 != 0: y = max(x, 0)
  kNegate = 11,      // q -> qmax + qmin - q; p0 != 0: max with out_zp   (mul_scalar by a negative number)
  // QNNPACK's hardswish table (pytorch_qnnp_create_hardswish_nc_q8; torch 1.13's qnnpack engine,
  // quint8), one formula for every element, all fp32:
  //   x = in_scale * (q - in_zp); t = x * min(max(x + 3, 0), 6) / 6
  //   y = lrintf(clamp((1 / out_scale) * t + out_zp, 0, 255))
  kQnnpackHardswish = 12,
};

// How the vectorized lambda's quantize computes its reciprocal scale (each
// PyTorch kernel writes it its own way; the scalar lambda's quantize_val always
// uses 1.0f / float(scale)):
enum class InverseScale : int32_t {
  kFloat = 0,          // 1.0f / float(scale)
  kDouble = 1,         // float(1.0 / scale)            (scale a double)
  kDoubleOfFloat = 2,  // float(1.0 / double(float(scale)))
};

struct LookupSpec {
  LookupOp op = LookupOp::kRelu;
  QDType dtype = QDType::kQUInt8;  // quint8 or qint8
  double in_scale = 1;
  int64_t in_zero_point = 0;
  double out_scale = 1;
  int64_t out_zero_point = 0;
  double p0 = 0, p1 = 0, p2 = 0;
  InverseScale inverse = InverseScale::kFloat;
};

// Quantized add (multiply = false) or mul of two same-shaped dense runs of n
// elements (ops/elementwise.h: BinaryRows, in rows with a vector length); relu fuses ReLU. dtype quint8 or qint8.
struct BinarySpec {
  QDType dtype = QDType::kQUInt8;
  bool multiply = false;
  bool relu = false;
  double a_scale = 1;
  int64_t a_zero_point = 0;
  double b_scale = 1;
  int64_t b_zero_point = 0;
  double out_scale = 1;
  int64_t out_zero_point = 0;
  // multiply's multiplier: false: a_scale * b_scale * (1 / out_scale), PyTorch's own kernel;
  // true: (a_scale * b_scale) / out_scale, XNNPACK's (PyTorch 1.13 multiplies qint8 through
  // XNNPACK when the output zero point is below 127).
  bool divide_by_out_scale = false;
  // quint8 add of same-shape operands under the qnnpack engine: QNNPACK's fixed-point add
  // (q8vadd; ops/elementwise.h BinaryOp) instead of PyTorch's own kernel.
  bool qnnpack_add = false;
  // qint8 add under the qnnpack engine (any shapes, expanded by the caller): XNNPACK's add
  // (ops/elementwise.h BinaryOp), as torch 1.13's qadd.cpp sends it there.
  bool xnnpack_add = false;
};

}  // namespace qk
