// libFuzzer target: embedding-bag argument validation and lookups with hostile indices, offsets, mappings and table sizes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz-input.h"
#include "ops/embedding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qk::fuzz::Input in(data, size);
  qk::EmbeddingBagArgs args;
  args.table.bits = in.Bool() ? 8 : 4;
  args.table.rows = in.Size(16);
  args.table.row_bytes = in.Size(40);
  std::vector<uint8_t> table(in.Size(640) % qk::fuzz::kMaxBufferBytes);
  in.Take(table.data(), table.size());
  args.table.data = table.data();
  args.table.bytes = table.size();
  std::vector<int32_t> indices(in.Size(32) % 4096), offsets(in.Size(8) % 4096), mapping(in.Size(16) % 4096);
  for (auto& v : indices) v = in.Bool() ? in.Byte() % 20 - 2 : in.Int32();
  for (auto& v : offsets) v = in.Bool() ? in.Byte() % 40 - 2 : in.Int32();
  for (auto& v : mapping) v = in.Bool() ? in.Byte() % 20 - 2 : in.Int32();
  args.indices = {indices.data(), indices.size(), false};
  args.has_offsets = in.Bool();
  args.offsets = {offsets.data(), offsets.size(), false};
  args.fixed_bag_size = in.Size(4);
  args.include_last_offset = in.Bool();
  args.mode = static_cast<qk::EmbeddingBagMode>(in.Byte() % 3);
  std::vector<float> weights(in.Size(32) % 4096, 0.5f);
  if (in.Bool()) {
    args.per_sample_weights = weights.data();
    args.per_sample_weights_len = weights.size();
  }
  args.pruned_weights = in.Bool();
  if (in.Bool()) {
    args.compressed_indices_mapping = mapping.data();
    args.compressed_indices_mapping_len = mapping.size();
  }
  args.has_padding_idx = in.Bool();
  args.padding_idx = static_cast<int64_t>(in.Byte() % 20) - 2;
  size_t bags = 0;
  if (!qk::EmbeddingBagOutputBags(args, &bags).ok()) return 0;
  const size_t dim = qk::EmbeddingTableDim(args.table);
  if (bags > 4096 || dim > 4096) return 0;
  // The output the binding would allocate; sometimes one float short, which must be refused.
  size_t out_len = bags * dim;
  if (out_len > 0 && in.Bool()) --out_len;
  std::vector<float> out(out_len);
  (void)qk::EmbeddingBagLookup(args, out.data(), out.size());
  return 0;
}
