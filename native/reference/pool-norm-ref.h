// Reference pooling and batch norm: naive loops over NCHW or NHWC indices, PyTorch 1.13's formulas value by value.
//
// No staging, no kernels, no threads: each output element is computed from the input by
// its index, as pool.h and norm.h state the formulas. The ground truth of the C++ tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-pool-norm.h"

namespace qk {

template <typename T>
void MaxPoolRef(const PoolGeometry& g, PoolLayout layout, bool adaptive, const T* x, T* y);
template <typename T>
void AvgPoolRef(const PoolGeometry& g, PoolLayout layout, const AvgPoolOptions& options, const T* x, T* y);
template <typename T>
void AdaptiveAvgPoolRef(const PoolGeometry& g, PoolLayout layout, int32_t zero_point, const T* x, T* y);
// y channels last, as the op.
template <typename T>
void BatchNormRef(const BatchNormArgs& args, const T* x, T* y);

}  // namespace qk
