// The plain argument structs of the embedding-bag ops, shared by ops/embedding.h and the reference (which may include only base/).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

enum class EmbeddingBagMode : int { kSum = 0, kMean = 1, kMax = 2 };

// An int32 or int64 array.
struct EmbeddingIndexArray {
  const void* data = nullptr;
  size_t length = 0;
  bool is64 = false;
};

struct EmbeddingTable {
  const uint8_t* data = nullptr;
  size_t bytes = 0;      // bytes available at data
  size_t rows = 0;
  size_t row_bytes = 0;  // 8-bit: dim + 8; 4-bit: dim / 2 + 4
  int bits = 8;          // 8 or 4
};

struct EmbeddingBagArgs {
  EmbeddingTable table;
  EmbeddingIndexArray indices;
  bool has_offsets = true;
  EmbeddingIndexArray offsets;
  size_t fixed_bag_size = 1;  // without offsets
  bool include_last_offset = false;
  EmbeddingBagMode mode = EmbeddingBagMode::kSum;
  const float* per_sample_weights = nullptr;  // null: none
  size_t per_sample_weights_len = 0;
  bool pruned_weights = false;
  const int32_t* compressed_indices_mapping = nullptr;
  size_t compressed_indices_mapping_len = 0;
  bool has_padding_idx = false;
  int64_t padding_idx = 0;
};

}  // namespace qk
