// qk_f32_b1_pack_ukernel__scalar: floats to bits, one word per position (binary.h's BinaryPackFn), the specification of the SIMD packers.
#include "ukernels/ukernels.h"

namespace qk {

void qk_f32_b1_pack_ukernel__scalar(size_t channels, size_t positions, const float* x, size_t plane_stride,
                                    uint32_t rule, uint64_t* out, size_t out_stride) {
  // Words of up to 64 positions built together, channel by channel: each plane is read in order.
  for (size_t p0 = 0; p0 < positions; p0 += 64) {
    const size_t block = positions - p0 < 64 ? positions - p0 : 64;
    uint64_t acc[64] = {};
    for (size_t c = 0; c < channels; ++c) {
      const float* row = x + c * plane_stride + p0;
      for (size_t j = 0; j < block; ++j) {
        const bool minus = rule == kPackSign ? row[j] < 0.0f : !(row[j] > 0.0f);
        acc[j] |= static_cast<uint64_t>(minus) << c;
      }
    }
    for (size_t j = 0; j < block; ++j) out[(p0 + j) * out_stride] = acc[j];
  }
}

}  // namespace qk
