// Reference 1-bit convolution: one output element at a time, integers for the +-1 sums.
#include "reference/binary-ref.h"

#include <cmath>
#include <cstdint>

namespace qk {

void BinaryConvRef(const ConvGeometry& g, const float* x, size_t batch, const size_t in_spatial[3], BinaryRule rule,
                   const float* w, float pad_value, const float* bias, float* y) {
  size_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  for (int d = 0; d < g.dims; ++d) {
    in[d] = in_spatial[d];
    k[d] = g.kernel[d];
    s[d] = g.stride[d];
    dl[d] = g.dilation[d];
    pad[d] = g.pad_before[d];
    out[d] = (in[d] + g.pad_before[d] + g.pad_after[d] - dl[d] * (k[d] - 1) - 1) / s[d] + 1;
  }
  const size_t cin = g.in_channels / g.groups, cout = g.out_channels / g.groups;
  const size_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2], taps = k[0] * k[1] * k[2];
  for (size_t n = 0; n < batch; ++n) {
    for (size_t o = 0; o < g.out_channels; ++o) {
      const size_t grp = o / cout;
      for (size_t p = 0; p < out_plane; ++p) {
        const size_t o0 = p / (out[1] * out[2]), o1 = (p / out[2]) % out[1], o2 = p % out[2];
        int64_t dot = 0, padded_weights = 0;
        for (size_t c = 0; c < cin; ++c) {
          const float* plane = x + (n * g.in_channels + grp * cin + c) * in_plane;
          for (size_t t = 0; t < taps; ++t) {
            const size_t t0 = t / (k[1] * k[2]), t1 = (t / k[2]) % k[1], t2 = t % k[2];
            const int64_t i0 = static_cast<int64_t>(o0 * s[0] + t0 * dl[0]) - static_cast<int64_t>(pad[0]);
            const int64_t i1 = static_cast<int64_t>(o1 * s[1] + t1 * dl[1]) - static_cast<int64_t>(pad[1]);
            const int64_t i2 = static_cast<int64_t>(o2 * s[2] + t2 * dl[2]) - static_cast<int64_t>(pad[2]);
            const int64_t wv = w[(o * cin + c) * taps + t] < 0 ? -1 : 1;
            if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= static_cast<int64_t>(in[0]) || i1 >= static_cast<int64_t>(in[1]) ||
                i2 >= static_cast<int64_t>(in[2])) {
              padded_weights += wv;
              continue;
            }
            const float v = plane[(static_cast<size_t>(i0) * in[1] + static_cast<size_t>(i1)) * in[2] + static_cast<size_t>(i2)];
            // bitorch: sign() with 0 -> +1 (torch.sign(NaN) is 0 too); steheaviside: x > 0 -> +1.
            const int64_t xv = rule == BinaryRule::kSign ? (v < 0 ? -1 : 1) : (v > 0 ? 1 : -1);
            dot += xv * wv;
          }
        }
        float value = static_cast<float>(dot) + pad_value * static_cast<float>(padded_weights);
        if (bias != nullptr) value = value + bias[o];
        y[(n * g.out_channels + o) * out_plane + p] = value;
      }
    }
  }
}

void QuantizeActivationsRef(const float* x, size_t count, LowBitInput input, int bits, float* y) {
  const double n = static_cast<double>((1 << bits) - 1);
  for (size_t i = 0; i < count; ++i) {
    const float v = x[i];
    if (input == LowBitInput::kSign) {
      y[i] = v < 0 ? -1.0f : 1.0f;  // sign with 0 -> +1 (and NaN, where torch.sign gives 0)
    } else if (input == LowBitInput::kHeaviside) {
      y[i] = v > 0 ? 1.0f : -1.0f;
    } else if (std::isnan(v)) {
      y[i] = v;  // clamp and round keep NaN
    } else {
      // bitorch's InputDoReFaFunction.forward in fp32: clamp, scale, round (half to even), divide.
      // clamp(x, 0, 1), with -0 as +0 (fmax may keep either zero).
      const float clamped = v > 1.0f ? 1.0f : (v > 0.0f ? v : 0.0f);
      const float scaled = static_cast<float>(static_cast<double>(clamped) * n);
      y[i] = static_cast<float>(std::nearbyint(static_cast<double>(scaled)) / n);
    }
  }
}

void LowBitInputLevelsRef(const float* x, size_t count, LowBitInput input, int bits, uint8_t* levels) {
  const double n = static_cast<double>((1 << bits) - 1);
  for (size_t i = 0; i < count; ++i) {
    float value = 0;
    QuantizeActivationsRef(x + i, 1, input, bits, &value);
    if (input != LowBitInput::kDoReFa) {
      levels[i] = static_cast<uint8_t>(static_cast<int>(value) + 1);  // +-1 at zero point 1, scale 1
    } else if (std::isnan(value)) {
      levels[i] = 0;
    } else {
      levels[i] = static_cast<uint8_t>(std::lround(static_cast<double>(value) * n) + static_cast<long>(n));  // scale 1 / n, zero point n
    }
  }
}

}  // namespace qk
