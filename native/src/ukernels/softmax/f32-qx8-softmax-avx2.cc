// Softmax's normalize-and-quantize microkernels (quint8, qint8), AVX2: 8 lanes of vmulps/vdivps then the shared quantizer; bit-identical to scalar.
#include "ukernels/quantize/quantize-avx2.h"
#include "ukernels/softmax/softmax-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

template <typename T>
void SoftmaxAvx2(size_t n, const float* e, const float* divisors, T* y, const SoftmaxParams& p) {
  const Avx2Quantizer quantizer(*p.quantize);
  const __m256 reciprocal = _mm256_set1_ps(p.reciprocal);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(e + i);
    const __m256 v = divisors != nullptr ? _mm256_div_ps(x, _mm256_loadu_ps(divisors + i)) : _mm256_mul_ps(x, reciprocal);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), quantizer.Quantize8<T>(v));
  }
  // The tail with the scalar formula, which the lanes above match exactly.
  SoftmaxScalarLoop(n - i, e + i, divisors != nullptr ? divisors + i : nullptr, y + i, p);
}

}  // namespace

void qk_f32_qu8_softmax_ukernel__avx2(size_t n, const float* e, const float* divisors, uint8_t* y,
                                      const SoftmaxParams* params) {
  SoftmaxAvx2(n, e, divisors, y, *params);
}

void qk_f32_qs8_softmax_ukernel__avx2(size_t n, const float* e, const float* divisors, int8_t* y,
                                      const SoftmaxParams* params) {
  SoftmaxAvx2(n, e, divisors, y, *params);
}

}  // namespace qk
