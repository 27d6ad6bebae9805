// Reference strided copy (strided-copy-ref.h): each flat index decomposed into coordinates on its own.
#include "reference/strided-copy-ref.h"

#include <cstring>

namespace qk {
namespace ref {

void StridedCopyRef(size_t element_bytes, size_t rank, const int64_t* shape, const int64_t* src_strides,
                    const uint8_t* src, const int64_t* dst_strides, uint8_t* dst) {
  int64_t numel = 1;
  for (size_t d = 0; d < rank; ++d) numel *= shape[d];
  for (int64_t flat = 0; flat < numel; ++flat) {
    int64_t rest = flat, s = 0, t = 0;
    for (size_t d = rank; d-- > 0;) {
      const int64_t i = rest % shape[d];
      rest /= shape[d];
      s += i * src_strides[d];
      t += i * dst_strides[d];
    }
    std::memcpy(dst + t * static_cast<int64_t>(element_bytes), src + s * static_cast<int64_t>(element_bytes),
                element_bytes);
  }
}

}  // namespace ref
}  // namespace qk
