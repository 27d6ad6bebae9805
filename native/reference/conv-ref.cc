// Reference convolution and transposed convolution: naive loops, one output element at a time.
#include "reference/conv-ref.h"

#include <algorithm>
#include <cmath>

#include "base/conv-geometry.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// The geometry as three spatial dims D, H, W: a 1-D conv is D = H = 1, a 2-D one D = 1.
struct Dims3 {
  long in[3], out[3], kernel[3], stride[3], dilation[3], pad[3];
};

Dims3 ToDims3(const ConvGeometry& g, const size_t in_spatial[3]) {
  Dims3 d{};
  const int skip = 3 - g.dims;
  for (int j = 0; j < 3; ++j) {
    const bool used = j >= skip;
    const int s = j - skip;
    d.in[j] = used ? static_cast<long>(in_spatial[s]) : 1;
    d.kernel[j] = used ? static_cast<long>(g.kernel[s]) : 1;
    d.stride[j] = used ? static_cast<long>(g.stride[s]) : 1;
    d.dilation[j] = used ? static_cast<long>(g.dilation[s]) : 1;
    d.pad[j] = used ? static_cast<long>(g.pad_before[s]) : 0;
    const long pads = used ? static_cast<long>(g.pad_before[s] + g.pad_after[s]) : 0;
    const long span = d.dilation[j] * (d.kernel[j] - 1);
    if (g.transposed) {
      d.out[j] = (d.in[j] - 1) * d.stride[j] - pads + span + (used ? static_cast<long>(g.output_padding[s]) : 0) + 1;
    } else {
      d.out[j] = (d.in[j] + pads - span - 1) / d.stride[j] + 1;
    }
  }
  return d;
}

}  // namespace

int32_t ConvRequantValueRef(int32_t acc, float x_scale, float w_scale, bool has_bias, float bias, float y_scale,
                            int32_t y_zero_point, int32_t y_min, int32_t y_max) {
  // FBGEMM's order (DESIGN §2), every step one fp32 rounding: s = x_scale * w_scale,
  // bias / s, multiplier s / y_scale, t = (float(acc) + bias / s) * multiplier. Then the
  // integer result clamped to [y_min, y_max], NaN taking y_min (as maxps against the bound).
  const float product = x_scale * w_scale;
  const float multiplier = product / y_scale;
  const float bias_over_scale = has_bias ? bias / product : 0.0f;
  const float sum = static_cast<float>(acc) + bias_over_scale;
  const float t = sum * multiplier;
  if (std::isnan(t) || t <= static_cast<float>(y_min - y_zero_point)) return y_min;
  if (t >= static_cast<float>(y_max - y_zero_point)) return y_max;
  return static_cast<int32_t>(std::nearbyint(t)) + y_zero_point;  // half to even, t inside the bounds
}

int32_t EngineRequantValueRef(RefEngine engine, int32_t acc, double x_scale, double w_scale, bool w_per_channel,
                              bool has_bias, float bias, double y_scale, int32_t y_zero_point, int32_t y_min,
                              int32_t y_max) {
  if (engine == kRefFbgemm) {
    return ConvRequantValueRef(acc, static_cast<float>(x_scale), static_cast<float>(w_scale), has_bias, bias,
                               static_cast<float>(y_scale), y_zero_point, y_min, y_max);
  }
  double q;  // the rounded value before the clamp, exact in double
  if (engine == kRefQnnpack) {
    int64_t qb = 0;
    if (has_bias) {
      const float inverse = 1.0f / static_cast<float>(w_scale * x_scale);
      const double v = std::nearbyint(bias * inverse);  // the fp32 product, rounded half to even
      qb = std::isnan(v) ? 0 : v >= 2147483647.0 ? 2147483647 : v <= -2147483648.0 ? -2147483647 - 1
                                                                                    : static_cast<int64_t>(v);
    }
    const int32_t sum = static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(qb));
    const float requant = (static_cast<float>(w_scale) * static_cast<float>(x_scale)) * (1.0f / static_cast<float>(y_scale));
    const float t = static_cast<float>(sum) * requant;
    q = static_cast<double>(std::nearbyint(t)) + y_zero_point;
  } else {
    const float wei = w_per_channel ? 1.0f / static_cast<float>(w_scale) : static_cast<float>(1.0 / w_scale);
    const float s = static_cast<float>(1.0 / x_scale) * wei;
    const float multiplier = static_cast<float>(1.0 / y_scale) / s;
    float t = (static_cast<float>(acc) + (has_bias ? bias * s : 0.0f)) * multiplier;
    // Clamping before the fp32 zero-point add equals oneDNN's saturation after it (monotonic add).
    const float lo = static_cast<float>(y_min - y_zero_point), hi = static_cast<float>(y_max - y_zero_point);
    t = std::isnan(t) ? lo : std::max(lo, std::min(t, hi));
    q = static_cast<double>(std::nearbyint(t + static_cast<float>(y_zero_point)));
  }
  if (std::isnan(q)) return y_min;
  return static_cast<int32_t>(q < y_min ? y_min : (q > y_max ? y_max : q));
}

void ConvRef(const ConvGeometry& g, const int8_t* w, const double* w_scales, const int32_t* w_zero_points,
             const float* bias, const uint8_t* x, size_t batch, const size_t in_spatial[3], double x_scale,
             int32_t x_zero_point, double y_scale, int32_t y_zero_point, bool relu, uint8_t* y, RefEngine engine,
             bool w_per_channel) {
  const Dims3 d = ToDims3(g, in_spatial);
  const long in_c = static_cast<long>(g.in_channels), out_c = static_cast<long>(g.out_channels);
  const long groups = static_cast<long>(g.groups);
  const long icg = in_c / groups, ocg = out_c / groups;
  const long in_size = d.in[0] * d.in[1] * d.in[2], out_size = d.out[0] * d.out[1] * d.out[2];
  const long taps = d.kernel[0] * d.kernel[1] * d.kernel[2];
  const int32_t y_min = relu ? y_zero_point : 0;
  for (long n = 0; n < static_cast<long>(batch); ++n) {
    for (long oc = 0; oc < out_c; ++oc) {
      const long group = oc / ocg, j = oc % ocg;
      for (long o0 = 0; o0 < d.out[0]; ++o0) {
        for (long o1 = 0; o1 < d.out[1]; ++o1) {
          for (long o2 = 0; o2 < d.out[2]; ++o2) {
            const long o[3] = {o0, o1, o2};
            uint32_t acc = 0;  // wraps modulo 2^32, as the GEMM
            for (long c = 0; c < icg; ++c) {
              const long ic = group * icg + c;
              for (long k0 = 0; k0 < d.kernel[0]; ++k0) {
                for (long k1 = 0; k1 < d.kernel[1]; ++k1) {
                  for (long k2 = 0; k2 < d.kernel[2]; ++k2) {
                    const long k[3] = {k0, k1, k2};
                    long i[3];
                    bool inside = true;
                    for (int s = 0; s < 3; ++s) {
                      if (!g.transposed) {
                        i[s] = PaddedSource(o[s] * d.stride[s] - d.pad[s] + k[s] * d.dilation[s], d.in[s],
                                             g.padding_mode);
                        inside = inside && i[s] >= 0;
                      } else {
                        const long t = o[s] + d.pad[s] - k[s] * d.dilation[s];
                        i[s] = t / d.stride[s];
                        inside = inside && t >= 0 && t % d.stride[s] == 0 && i[s] < d.in[s];
                      }
                    }
                    if (!inside) continue;
                    const long tap = (k0 * d.kernel[1] + k1) * d.kernel[2] + k2;
                    const long w_index = g.transposed ? (ic * ocg + j) * taps + tap : (oc * icg + c) * taps + tap;
                    const int32_t xv = x[(n * in_c + ic) * in_size + (i[0] * d.in[1] + i[1]) * d.in[2] + i[2]];
                    acc += static_cast<uint32_t>((xv - x_zero_point) * (static_cast<int32_t>(w[w_index]) - w_zero_points[oc]));
                  }
                }
              }
            }
            const int32_t q = EngineRequantValueRef(engine, static_cast<int32_t>(acc), x_scale, w_scales[oc], w_per_channel,
                                                    bias != nullptr, bias != nullptr ? bias[oc] : 0.0f, y_scale,
                                                    y_zero_point, y_min, 255);
            y[(n * out_c + oc) * out_size + (o0 * d.out[1] + o1) * d.out[2] + o2] = static_cast<uint8_t>(q);
          }
        }
      }
    }
  }
}

}  // namespace qk
