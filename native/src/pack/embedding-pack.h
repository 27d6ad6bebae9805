// Embedding-bag table packing: PyTorch 1.13's rowwise 8-bit and 4-bit prepack (and unpack), byte for byte.
//
// Packed rows (ukernels/embedding/embedding.h has the lookup arithmetic):
//   8-bit: [dim x u8][fp32 scale][fp32 bias]                   row_bytes = dim + 8
//   4-bit: [dim/2 bytes, low nibble first][fp16 scale][fp16 bias]  row_bytes = dim / 2 + 4, dim even
// Multi-byte values are little-endian and unaligned.
//
// Prepack arithmetic (qembeddingbag_prepack.cpp without FBGEMM, Debian's torch):
//   8-bit:  mn = min(row), mx = max(row) (std::min_element / max_element: the first NaN-free
//           comparison order), range = mx - mn, scale = range / 255.0f, bias = mn,
//           inv = 255.0f / (range + 1e-8f), q = uint8(lrintf((x - mn) * inv))  (low 8 bits)
//   4-bit:  mn, mx as above (or from choose_qparams_optimized, see below); mn = half(mn);
//           range = mx - mn; scale = half(range == 0 ? 1 : range / 15.0f);
//           inv = scale == 0 ? 1 : 1.0f / scale; if scale == 0 or inv is inf: scale = 1, inv = 1;
//           q = clamp(int32(lrintf((x - mn) * inv)), 0, 15); scale and mn stored as fp16.
//   lrintf's 64-bit result is truncated to the stored type as PyTorch does; a NaN or
//   out-of-range argument gives x86's INT64_MIN (so 0).
//   optimized_qparams: at::choose_qparams_optimized(row, dim, 200 bins, ratio 0.16, 4 bits),
//   a greedy search narrowing [min, max] one bin at a time while the fp16-quantized row's
//   L2 error improves. PyTorch loops forever when a step is absorbed by rounding (huge
//   values, tiny range); here the search stops at that point instead.
// Unpack: x = scale * float(q) + bias, an fp32 multiply then an fp32 add.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace qk {

// fp16 <-> fp32 as c10::Half: round to nearest even, overflow to inf, NaN -> 0x7E00 with the sign.
uint16_t FloatToHalfBits(float value);
float HalfBitsToFloat(uint16_t bits);

// Bytes of one packed row; false when the size overflows or (4-bit) dim is odd.
bool EmbeddingPackedRowBytes(int bits, size_t dim, size_t* row_bytes);

// weight: rows x dim floats, row-major. out: rows * row_bytes bytes.
Status EmbeddingBagPrepack(int bits, const float* weight, size_t weight_len, size_t rows, size_t dim,
                           bool optimized_qparams, uint8_t* out, size_t out_bytes);

// quantized::embedding_bag_prepack of a per_channel_affine_float_qparams tensor (what
// nn.quantized.EmbeddingBag.set_weight packs): the rows' integers copied as they are
// (4-bit: dim/2 bytes a row, already two per byte), scale = scales[r],
// bias = zero_points[r] * scales[r] * -1 in fp32; 4-bit rows store both as fp16.
Status EmbeddingBagPackQuantized(int bits, const uint8_t* q, size_t q_bytes, size_t rows, size_t dim,
                                 const float* scales, const float* zero_points, size_t qparams_len, uint8_t* out,
                                 size_t out_bytes);

// packed: rows x row_bytes; out: rows * dim floats.
Status EmbeddingBagUnpack(int bits, const uint8_t* packed, size_t packed_bytes, size_t rows, size_t row_bytes,
                          float* out, size_t out_len);

// The dequantized value of element j of a packed row (unpack's formula), for the mean/max lookups.
float EmbeddingDequantizeElement(int bits, const uint8_t* row, size_t dim, size_t j);

}  // namespace qk
