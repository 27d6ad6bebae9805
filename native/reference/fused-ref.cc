// Reference fused ops with an fp32 epilogue: naive loops (see fused-ref.h).
#include "reference/fused-ref.h"

#include <cmath>

#include "reference/quantize-ref.h"

namespace qk {
namespace ref {
namespace {

uint8_t QuantizeU8(float v, double y_scale, int32_t y_zero_point) {
  return static_cast<uint8_t>(QuantizeAffineValueRef(v, 1.0f / static_cast<float>(y_scale), y_zero_point, 0, 255));
}

}  // namespace

float ActivateRef(float v, int activation, float alpha) {
  switch (activation) {
    case 1: return v > 0.0f ? v : 0.0f;
    case 2: return v > 0.0f ? v : v * alpha;
    case 3: return std::tanh(v);
    default: return v;
  }
}

void LinearActivationRef(size_t rows, size_t out, size_t in, const uint8_t* x, float x_scale, int32_t x_zero_point,
                         const int8_t* w, const float* w_scales, const int32_t* w_zero_points, const float* bias,
                         int activation, float alpha, double y_scale, int32_t y_zero_point, uint8_t* y) {
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < out; ++j) {
      int64_t acc = 0;
      for (size_t k = 0; k < in; ++k) {
        acc += static_cast<int64_t>(static_cast<int32_t>(x[i * in + k]) - x_zero_point) *
               (static_cast<int32_t>(w[j * in + k]) - w_zero_points[j]);
      }
      float v = static_cast<float>(static_cast<int32_t>(static_cast<uint32_t>(acc))) * (x_scale * w_scales[j]);
      if (bias != nullptr) v = v + bias[j];
      y[i * out + j] = QuantizeU8(ActivateRef(v, activation, alpha), y_scale, y_zero_point);
    }
  }
}

void ConvAddRef(const ConvGeometry& g, const int8_t* w, const float* w_scales, const int32_t* w_zero_points,
                const float* bias, const uint8_t* x, size_t batch, const size_t in_spatial[3], const size_t out_spatial[3],
                float x_scale, int32_t x_zero_point, const uint8_t* extra, float extra_scale, int32_t extra_zero_point,
                bool relu, double y_scale, int32_t y_zero_point, uint8_t* y) {
  const size_t cpg = g.in_channels / g.groups, opg = g.out_channels / g.groups;
  const size_t* in = in_spatial;
  const size_t* out = out_spatial;
  const size_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  size_t index = 0;  // y and extra are walked in their contiguous order
  for (size_t n = 0; n < batch; ++n) {
    for (size_t oc = 0; oc < g.out_channels; ++oc) {
      const size_t group = oc / opg;
      for (size_t o0 = 0; o0 < out[0]; ++o0) {
        for (size_t o1 = 0; o1 < out[1]; ++o1) {
          for (size_t o2 = 0; o2 < out[2]; ++o2, ++index) {
            const size_t o[3] = {o0, o1, o2};
            int64_t acc = 0;
            for (size_t ic = 0; ic < cpg; ++ic) {
              const uint8_t* plane = x + (n * g.in_channels + group * cpg + ic) * in[0] * in[1] * in[2];
              const int8_t* filter = w + (oc * cpg + ic) * taps;
              for (size_t k0 = 0; k0 < g.kernel[0]; ++k0) {
                for (size_t k1 = 0; k1 < g.kernel[1]; ++k1) {
                  for (size_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                    const size_t k[3] = {k0, k1, k2};
                    int64_t source[3];
                    bool padding = false;
                    for (int d = 0; d < 3; ++d) {
                      const int64_t p = static_cast<int64_t>(o[d] * g.stride[d] + k[d] * g.dilation[d]) -
                                        static_cast<int64_t>(g.pad_before[d]);
                      source[d] = PaddedSource(p, static_cast<int64_t>(in[d]), g.padding_mode);
                      padding = padding || source[d] < 0;
                    }
                    if (padding) continue;  // reads the zero point: contributes 0
                    const size_t at = (static_cast<size_t>(source[0]) * in[1] + static_cast<size_t>(source[1])) * in[2] +
                                      static_cast<size_t>(source[2]);
                    acc += static_cast<int64_t>(static_cast<int32_t>(plane[at]) - x_zero_point) *
                           (static_cast<int32_t>(filter[(k0 * g.kernel[1] + k1) * g.kernel[2] + k2]) - w_zero_points[oc]);
                  }
                }
              }
            }
            float v = static_cast<float>(static_cast<int32_t>(static_cast<uint32_t>(acc))) * (x_scale * w_scales[oc]);
            if (bias != nullptr) v = v + bias[oc];
            v = v + extra_scale * static_cast<float>(static_cast<int32_t>(extra[index]) - extra_zero_point);
            y[index] = QuantizeU8(ActivateRef(v, relu ? 1 : 0, 0.0f), y_scale, y_zero_point);
          }
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace qk
