// The one shape of a native operator: Prepare fixes everything but the data, Run reads and writes buffers.
//
// Prepare (a static factory on each op) validates shapes and qparams, takes the prepacked
// weights and computes the scratch size; the prepared op is immutable. Run takes the data
// buffers as arguments, so one prepared op serves the binding's sync call, its async worker
// and a step of a traced plan (native/src/plan), and may run on several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/expected.h"
#include "base/status.h"

namespace qk {

// An op's class, for the fusion passes of traced plans (plan/fusion.h), which must know what a
// step runs (the addon builds without RTTI, so no dynamic_cast).
enum class OpKind { kOther, kConv /* ops/conv-op.h ConvOp */, kBinary /* ops/elementwise.h BinaryOp */ };

class Op {
 public:
  virtual ~Op() = default;
  virtual OpKind kind() const { return OpKind::kOther; }
  // The op's name as users know it (plans put it in their error messages).
  virtual const char* name() const = 0;
  virtual size_t input_count() const = 0;
  // Bytes of input i and of the output: Run reads and writes exactly these.
  virtual size_t input_bytes(size_t i) const = 0;
  virtual size_t output_bytes() const = 0;
  // Bytes of working memory a run needs beside its inputs and output (0: none).
  virtual size_t scratch_bytes() const { return 0; }
  // inputs[i] holds input_bytes(i) bytes, output output_bytes(); scratch holds scratch_bytes()
  // bytes aligned to 16 (null when 0). Const: concurrent runs of one op are safe.
  virtual Status Run(const void* const* inputs, void* output, void* scratch) const = 0;
};

// The activation qparams of the quint8 ops, checked as the binding checks them: a scale positive
// and finite once rounded to float32, a zero point in [0, 255].
inline Status CheckQuint8Scale(double scale, const char* parameter) {
  return CheckScale(scale, ScaleRule::kPositiveFiniteInFloat32, "positive number finite in float32", parameter,
                    [&] { return std::to_string(scale); });
}
inline Status CheckQuint8ZeroPoint(int32_t zero_point, const char* parameter) {
  return CheckZeroPoint(zero_point, 0, 255, parameter);
}

// Runs an op with scratch allocated for this run (the binding's calls; a plan passes its arena).
inline Status RunWithScratch(const Op& op, const void* const* inputs, void* output) {
  const size_t bytes = op.scratch_bytes();
  if (bytes == 0) return op.Run(inputs, output, nullptr);
  std::unique_ptr<uint8_t[]> scratch(new uint8_t[bytes]);  // new[] aligns to at least 16 bytes
  return op.Run(inputs, output, scratch.get());
}

}  // namespace qk
