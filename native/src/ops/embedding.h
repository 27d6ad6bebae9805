// Embedding-bag lookups on packed 8-bit / 4-bit tables: argument checks, bag resolution, the split over threads by bags.
//
// Semantics (PyTorch 1.13 quantized::embedding_bag_{byte,4bit}_rowwise_offsets, plus modes):
//   bags: with offsets, bag b holds indices [offsets[b], offsets[b+1]) where the bag after
//     the last is closed by indices.length (include_last_offset false) or the last offset
//     is only the end of the bag before it (true: offsets.length - 1 bags). offsets[0]
//     must be 0 and offsets must not decrease nor exceed indices.length. Without offsets,
//     bags are `fixed_bag_size` consecutive indices (Embedding: 1; 2-D indices: a row each).
//   rows: index i selects table row indices[i]; pruned tables map it first through
//     compressed_indices_mapping (-1: skipped), except that a mapping of exactly [0] means
//     "not pruned" (as PyTorch). An index equal to padding_idx is skipped (as float
//     nn.EmbeddingBag; compared before any mapping).
//   sum:  the bag kernels' arithmetic (ukernels/embedding/embedding.h), per-sample weights allowed.
//   mean: float nn.EmbeddingBag on the dequantized table: acc += (scale * q + bias) in fp32,
//         in index order, then acc / float(max(rows, 1)).
//   max:  float nn.EmbeddingBag's max: the first row's values, then each later value that
//         compares greater; an empty bag is 0.
// Every index, offset and mapping entry is checked before anything is read, and a bad
// one is a RangeError naming its position (indices[7], offsets[2], ...). Output is
// identical for every thread count and ISA.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-embedding.h"  // EmbeddingBagArgs and its parts
#include "base/status.h"

namespace qk {

// The table's embedding dim (0 when row_bytes is too small to hold the qparams).
size_t EmbeddingTableDim(const EmbeddingTable& table);

// Checks the shapes (not the index values) and computes the number of bags.
Status EmbeddingBagOutputBags(const EmbeddingBagArgs& args, size_t* bags);

// out: bags x dim floats.
Status EmbeddingBagLookup(const EmbeddingBagArgs& args, float* out, size_t out_len);

// The benchmark's memory bound (bench/embedding.js, qk_bench_embedding): reads every byte of
// rows[indices[i]] with a plain loop (no prefetch, no SIMD; 8-byte words summed), so its
// time is what reading those rows costs. Indices must be < rows (unchecked: bench only).
uint64_t EmbeddingGatherRowBytes(const uint8_t* table, size_t row_bytes, const int32_t* indices, size_t count);
// True when every index lies in [0, rows) (the check EmbeddingGatherRowBytes leaves to its caller).
bool IndicesBelow(const int32_t* indices, size_t count, size_t rows);

}  // namespace qk
