// libFuzzer target: conv geometry validation, output sizes, weight packing and a run on small buffers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz/fuzz-input.h"
#include "ops/conv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qk::fuzz::Input in(data, size);
  qk::ConvGeometry g;
  g.dims = 1 + in.Byte() % 3;
  g.in_channels = in.Size(6);
  g.out_channels = in.Size(6);
  g.groups = in.Size(3);
  for (int d = 0; d < 3; ++d) {
    g.kernel[d] = in.Size(4);
    g.stride[d] = in.Size(4);
    g.dilation[d] = in.Size(3);
    g.pad_before[d] = in.Size(3);
    g.pad_after[d] = in.Size(3);
    g.output_padding[d] = in.Size(2);
  }
  g.transposed = in.Bool();
  if (!qk::CheckConvGeometry(g).ok()) return 0;
  size_t in_spatial[3] = {1, 1, 1}, out_spatial[3] = {1, 1, 1};
  for (int d = 0; d < g.dims; ++d) in_spatial[d] = in.Size(9);
  if (!qk::ConvOutputSize(g, in_spatial, out_spatial).ok()) return 0;
  size_t weight_count = 0;
  if (!qk::ConvWeightCount(g, &weight_count) || weight_count > 4096) return 0;
  size_t stride_phases = 1;
  for (int d = 0; d < g.dims; ++d) stride_phases *= g.stride[d];
  if (stride_phases > 64) return 0;  // the binding bounds phases; keep each execution fast
  std::vector<int8_t> w(weight_count);
  in.Take(w.data(), w.size());
  const double scale = 0.05;
  const int32_t zero_point = 0;
  std::shared_ptr<const qk::ConvWeights> weights;
  if (!qk::CreateConvWeights(g, w.data(), &scale, &zero_point, 1, nullptr, &weights).ok()) return 0;
  const size_t batch = 1 + in.Byte() % 2;
  size_t x_count = batch * g.in_channels, y_count = batch * g.out_channels;
  for (int d = 0; d < 3; ++d) {
    x_count *= in_spatial[d];
    y_count *= out_spatial[d];
  }
  if (x_count > 65536 || y_count > 65536) return 0;
  std::vector<uint8_t> x(x_count), y(y_count);
  in.Take(x.data(), x.size());
  const qk::ConvLayout layout = in.Bool() ? qk::ConvLayout::kChannelsLast : qk::ConvLayout::kContiguous;
  (void)qk::ConvU8(*weights, x.data(), batch, in_spatial, layout, 0.1f, 3, 0.2f, 5, in.Bool(), y.data());
  return 0;
}
