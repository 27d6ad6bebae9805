// Row-count dispatch of the GEMM microkernels: a tile of mr rows runs code compiled for exactly mr rows.
#pragma once

#include <cstddef>
#include <type_traits>

namespace qk {
namespace {

// Calls fn(std::integral_constant<size_t, mr>()) for mr in [M, MaxM]; mr > MaxM calls MaxM.
template <size_t M, size_t MaxM, typename Fn>
inline void ForRows(size_t mr, const Fn& fn) {
  if constexpr (M < MaxM) {
    if (mr == M) {
      fn(std::integral_constant<size_t, M>());
      return;
    }
    ForRows<M + 1, MaxM>(mr, fn);
  } else {
    fn(std::integral_constant<size_t, MaxM>());
  }
}

}  // namespace
}  // namespace qk
