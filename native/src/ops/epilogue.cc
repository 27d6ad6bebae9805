// The fp32 epilogue of the fused ops: activation, then PyTorch's quantize_per_tensor (see epilogue.h).
#include "ops/epilogue.h"

#include <cmath>

#include "ops/quantize.h"

namespace qk {

Status ActivateQuantizeU8(float* v, size_t n, Activation activation, float alpha, double y_scale, int32_t y_zero_point,
                          uint8_t* y) {
  switch (activation) {
    case Activation::kReLU:
      for (size_t i = 0; i < n; ++i) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
      break;
    case Activation::kLeakyReLU:
      for (size_t i = 0; i < n; ++i) v[i] = v[i] > 0.0f ? v[i] : v[i] * alpha;
      break;
    case Activation::kTanh:
      for (size_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
      break;
    case Activation::kNone:
      break;
  }
  return QuantizePerTensor(v, n, y_scale, y_zero_point, QDType::kQUInt8, y, n);
}

}  // namespace qk
