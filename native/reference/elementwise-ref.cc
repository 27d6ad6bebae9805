// Reference elementwise ops: the per-element loops (see elementwise-ref.h).
#include "reference/elementwise-ref.h"

#include "ops/elementwise.h"  // LookupValue, MakeBinaryParams
#include "ukernels/elementwise/elementwise-scalar.h"

namespace qk {
namespace {

int32_t ValueOfByte(QDType dtype, uint8_t byte) {
  return dtype == QDType::kQInt8 ? static_cast<int8_t>(byte) : byte;
}

}  // namespace

std::vector<uint8_t> LookupRowsRef(const LookupSpec& spec, const std::vector<uint8_t>& x, size_t row_length,
                                   size_t vector_length) {
  std::vector<uint8_t> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const bool vector = i % row_length < vector_length;
    y[i] = static_cast<uint8_t>(LookupValue(spec, ValueOfByte(spec.dtype, x[i]), vector));
  }
  return y;
}

std::vector<uint8_t> BinaryRowsRef(const BinarySpec& spec, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                                   size_t row_length, size_t vector_length) {
  BinaryParams params;
  MakeBinaryParams(spec, &params);
  std::vector<uint8_t> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const int32_t va = ValueOfByte(spec.dtype, a[i]), vb = ValueOfByte(spec.dtype, b[i]);
    const bool vector = i % row_length < vector_length;
    y[i] = static_cast<uint8_t>(vector ? BinaryVectorValue(va, vb, params) : BinaryScalarValue(va, vb, params));
  }
  return y;
}

std::vector<float> MatmulF32Ref(const std::vector<float>& a, const std::vector<float>& b, size_t batch, size_t m, size_t k,
                                size_t n) {
  std::vector<float> y(batch * m * n);
  for (size_t t = 0; t < batch; ++t) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        double sum = 0;
        for (size_t p = 0; p < k; ++p) {
          sum += static_cast<double>(a[(t * m + i) * k + p]) * static_cast<double>(b[(t * k + p) * n + j]);
        }
        y[(t * m + i) * n + j] = static_cast<float>(sum);
      }
    }
  }
  return y;
}

}  // namespace qk
