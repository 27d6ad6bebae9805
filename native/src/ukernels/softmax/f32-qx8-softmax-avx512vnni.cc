// Softmax's normalize-and-quantize microkernels (quint8, qint8), AVX-512: 16 lanes, a masked tail; bit-identical to scalar.
#include "ukernels/quantize/quantize-avx512.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace {

template <typename T>
void SoftmaxAvx512(size_t n, const float* e, const float* divisors, T* y, const SoftmaxParams& p) {
  const Avx512Quantizer quantizer(*p.quantize);
  const __m512 reciprocal = _mm512_set1_ps(p.reciprocal);
  for (; n >= 16; n -= 16, e += 16, y += 16) {
    const __m512 x = _mm512_loadu_ps(e);
    __m512 v;
    if (divisors != nullptr) {
      v = _mm512_div_ps(x, _mm512_loadu_ps(divisors));
      divisors += 16;
    } else {
      v = _mm512_mul_ps(x, reciprocal);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm512_cvtepi32_epi8(quantizer.Quantize(v)));
  }
  if (n != 0) {
    // Masked-off lanes load 0 (0 / 0 there is NaN, which the quantizer handles and nobody stores).
    const __mmask16 lanes = Avx512FirstLanes(n);
    const __m512 x = _mm512_maskz_loadu_ps(lanes, e);
    const __m512 v = divisors != nullptr ? _mm512_div_ps(x, _mm512_maskz_loadu_ps(lanes, divisors))
                                         : _mm512_mul_ps(x, reciprocal);
    _mm512_mask_cvtepi32_storeu_epi8(y, lanes, quantizer.Quantize(v));
  }
}

}  // namespace

void qk_f32_qu8_softmax_ukernel__avx512vnni(size_t n, const float* e, const float* divisors, uint8_t* y,
                                            const SoftmaxParams* params) {
  SoftmaxAvx512(n, e, divisors, y, *params);
}

void qk_f32_qs8_softmax_ukernel__avx512vnni(size_t n, const float* e, const float* divisors, int8_t* y,
                                            const SoftmaxParams* params) {
  SoftmaxAvx512(n, e, divisors, y, *params);
}

}  // namespace qk
