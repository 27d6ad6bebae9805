// Reference strided copy: one flat index at a time, decomposed into coordinates, nothing merged or reordered; the ground truth of the strided-copy tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {
namespace ref {

// For every index i of shape (row-major flat order): the element_bytes bytes at
// src + (sum_d i_d * src_strides[d]) * element_bytes go to dst + (sum_d i_d * dst_strides[d]) *
// element_bytes. The caller keeps every offset inside both buffers.
void StridedCopyRef(size_t element_bytes, size_t rank, const int64_t* shape, const int64_t* src_strides,
                    const uint8_t* src, const int64_t* dst_strides, uint8_t* dst);

}  // namespace ref
}  // namespace qk
