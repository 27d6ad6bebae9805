// Depthwise convolution microkernels, scalar (indirect and strided-row inputs): one channel at a time, the specification of the packed layout.
#include "ukernels/gemm/requant-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {

namespace {

// One output pixel of all channels; rows[t] points at the input pixel tap t reads.
template <typename Rows>
void Pixel(size_t channels, size_t padded, size_t taps, const Rows& rows, const int16_t* weights, uint8_t* out,
           const DwconvU8Params* params) {
  const int32_t x_zp = params->x_zero_point;
  for (size_t c = 0; c < channels; ++c) {
    uint32_t acc = 0;  // wraps modulo 2^32 like the SIMD kernels (exact below ~33000 taps)
    for (size_t t = 0; t < taps; ++t) {
      const int32_t w = weights[((t / 2) * padded + c) * 2 + (t % 2)];
      acc += static_cast<uint32_t>((static_cast<int32_t>(rows(t)[c]) - x_zp) * w);
    }
    out[c] = static_cast<uint8_t>(RequantizeGemmValue(static_cast<int32_t>(acc), params->bias_int[c],
                                                      params->bias_term[c], params->multiplier[c], params->lo,
                                                      params->hi, params->y_zero_point_f, params->y_zero_point));
  }
}

}  // namespace

void qk_qu8qs8_dwconv_ukernel_c1__scalar(size_t channels, size_t pixels, size_t taps, const uint8_t* const* input,
                                         const int16_t* weights, uint8_t* y, size_t y_stride,
                                         const DwconvU8Params* params) {
  // Packed: int16 [ceil(taps / 2)][padded channels][2], the pair (tap 2q, tap 2q + 1) per channel.
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  for (size_t p = 0; p < pixels; ++p) {
    const uint8_t* const* rows = input + p * taps;
    Pixel(channels, padded, taps, [rows](size_t t) { return rows[t]; }, weights, y + p * y_stride, params);
  }
}

void qk_qu8qs8_dwconv_row_ukernel_c1__scalar(size_t channels, size_t pixels, size_t taps, const uint8_t* const* base,
                                             size_t step, const int16_t* weights, uint8_t* y, size_t y_stride,
                                             const DwconvU8Params* params) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  for (size_t p = 0; p < pixels; ++p) {
    const size_t offset = p * step;
    Pixel(channels, padded, taps, [base, offset](size_t t) { return base[t] + offset; }, weights, y + p * y_stride,
          params);
  }
}

}  // namespace qk
