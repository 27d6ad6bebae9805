// libFuzzer target: pool geometry validation and the pooling ops on buffers whose sizes may disagree with the geometry.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz-input.h"
#include "ops/pool.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qk::fuzz::Input in(data, size);
  qk::PoolGeometry g;
  g.batch = in.Size(3);
  g.channels = in.Size(9);
  for (int d = 0; d < 3; ++d) {
    g.input[d] = in.Size(12);
    g.output[d] = in.Size(12);
    g.kernel[d] = in.Size(5);
    g.stride[d] = in.Size(4);
    g.padding[d] = in.Size(3);
    g.dilation[d] = in.Size(3);
  }
  const qk::QDType dtype = in.Bool() ? qk::QDType::kQUInt8 : qk::QDType::kQInt8;
  const qk::PoolLayout layout = in.Bool() ? qk::PoolLayout::kChannelsLast : qk::PoolLayout::kChannelsFirst;
  const int op = in.Byte() % 4;
  // Buffers sized independently of the geometry (bounded), so every mismatch is tried.
  const size_t x_bytes = in.Size(4096) % qk::fuzz::kMaxBufferBytes;
  const size_t y_bytes = in.Size(4096) % qk::fuzz::kMaxBufferBytes;
  std::vector<uint8_t> x(x_bytes), y(y_bytes);
  in.Take(x.data(), x.size());
  (void)qk::CheckPoolGeometry(g, op == 0);
  switch (op) {
    case 0: (void)qk::MaxPool(g, dtype, layout, x.data(), x.size(), y.data(), y.size()); break;
    case 1: {
      qk::AvgPoolOptions options;
      options.count_include_pad = (x_bytes & 1) != 0;
      options.divisor_override = static_cast<int64_t>(y_bytes % 5);
      options.zero_point = static_cast<int32_t>(x_bytes % 256) - (dtype == qk::QDType::kQInt8 ? 128 : 0);
      (void)qk::AvgPool(g, dtype, layout, options, x.data(), x.size(), y.data(), y.size());
      break;
    }
    case 2: (void)qk::AdaptiveAvgPool(g, dtype, layout, 0, x.data(), x.size(), y.data(), y.size()); break;
    default: (void)qk::AdaptiveMaxPool(g, dtype, layout, x.data(), x.size(), y.data(), y.size()); break;
  }
  return 0;
}
