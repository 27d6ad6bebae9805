// Microkernel signatures, parameter structs, and a declaration of every registered microkernel.
//
// A microkernel is a leaf: no allocation, no threads, no validation. Its caller
// (native/src/ops) has already checked every length. Names follow
//   qk_<dtype>_<op>[_<fusion>]_ukernel_[<MR>x<NR>[c<KR>]]__<isa>
// and the same tokens name the file, the registry entry, the test and the bench.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/params-quantize.h"  // QuantizeParams, DequantizeParams
#include "base/isa.h"  // QK_ARCH_* select the registry lines of this architecture
// The other families' function types and parameter structs (quantize's are below).
#include "ukernels/binary/binary.h"
#include "ukernels/conv/conv.h"
#include "ukernels/elementwise/elementwise.h"
#include "ukernels/embedding/embedding.h"
#include "ukernels/gemm/gemm.h"
#include "ukernels/pool-norm/pool-norm.h"
#include "ukernels/softmax/softmax.h"

namespace qk {

// quantize: q = clamp(zero_point + nearbyint(x * inv_scale), qmin, qmax), ties to even,
// where inv_scale = 1.0f / scale computed once in fp32 (as PyTorch / FBGEMM do);
// q = qmin when x * inv_scale is NaN, +-Inf or of magnitude >= 2^63 (PyTorch's
// float -> int64 conversion gives INT64_MIN there). Any inv_scale is allowed
// (0, Inf, denormal: the formula decides). Requires qmin <= zero_point <= qmax
// within the output type's range; the quint8 kernel with [0, 15] serves quint4x2.
// The exact per-value formula is ukernels/quantize/quantize-scalar.h. Their parameter structs,
// QuantizeParams and DequantizeParams, live in base/params-quantize.h (the reference takes them too).

// Function types (not pointers): `QuantizeU8Fn f;` declares a kernel, `QuantizeU8Fn* p` points at one.
using QuantizeU8Fn = void(size_t n, const float* x, uint8_t* y, const QuantizeParams* params);
using QuantizeS8Fn = void(size_t n, const float* x, int8_t* y, const QuantizeParams* params);
using DequantizeU8Fn = void(size_t n, const uint8_t* q, float* y, const DequantizeParams* params);
using DequantizeS8Fn = void(size_t n, const int8_t* q, float* y, const DequantizeParams* params);

// One declaration per registry line.
#define QK_UKERNEL(slot, type, isa, function) type function;
#include "ukernels/registry.inc"
#undef QK_UKERNEL

}  // namespace qk
