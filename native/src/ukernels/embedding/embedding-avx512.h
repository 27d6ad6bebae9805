// The AVX-512 step of the embedding kernels: sixteen output elements, as PyTorch's double multiply-add rounds them.
//
// Same scheme as embedding-avx2.h (whose comment derives it): an fp32 FMA where the exact
// sum fits in a double (t = 0, or its exponent near s's), checked for the sixteen t = out + b;
// otherwise two 512-bit double multiply-adds, as the scalar kernel computes every element.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace qk {
namespace embedding {

struct RowConstantsAvx512 {
  __m512 scale;
  __m512d scale_double;
  __m512 bias;
  __m512i exponent_low;   // E(s) - 21: lanes must be above
  __m512i exponent_high;  // min(E(s) + 28, 254) + 1: lanes must be below
  __m512i zero_magnitude;  // 0, or an impossible magnitude when s is inf/NaN (then no lane is safe)
};

static inline RowConstantsAvx512 MakeRowConstantsAvx512(float scale, float bias) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF);
  if (e == 0) e = 1;
  RowConstantsAvx512 c;
  c.scale = _mm512_set1_ps(scale);
  c.scale_double = _mm512_set1_pd(scale);
  c.bias = _mm512_set1_ps(bias);
  c.exponent_low = _mm512_set1_epi32(e == 255 ? 1000 : e - 21);
  c.exponent_high = _mm512_set1_epi32((e + 28 < 254 ? e + 28 : 254) + 1);
  c.zero_magnitude = _mm512_set1_epi32(e == 255 ? -1 : 0);
  return c;
}

// out[0..16) = float(double(s) * q + double(out + b)) for q the sixteen int32 lanes of q32.
static inline void AccumulateSixteenAvx512(__m512i q32, const RowConstantsAvx512& c, float* out) {
  const __m512 t = _mm512_add_ps(_mm512_loadu_ps(out), c.bias);
  const __m512i magnitude = _mm512_and_si512(_mm512_castps_si512(t), _mm512_set1_epi32(0x7FFFFFFF));
  const __m512i e = _mm512_srli_epi32(magnitude, 23);
  const __mmask16 inside = (_mm512_cmpgt_epi32_mask(e, c.exponent_low) & _mm512_cmpgt_epi32_mask(c.exponent_high, e)) |
                           _mm512_cmpeq_epi32_mask(magnitude, c.zero_magnitude);
  if (inside == 0xFFFF) {
    _mm512_storeu_ps(out, _mm512_fmadd_ps(c.scale, _mm512_cvtepi32_ps(q32), t));
    return;
  }
  const __m512d lo = _mm512_fmadd_pd(c.scale_double, _mm512_cvtepi32_pd(_mm512_castsi512_si256(q32)),
                                     _mm512_cvtps_pd(_mm512_castps512_ps256(t)));
  const __m512d hi = _mm512_fmadd_pd(c.scale_double, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(q32, 1)),
                                     _mm512_cvtps_pd(_mm512_extractf32x8_ps(t, 1)));
  _mm512_storeu_ps(out, _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1));
}

}  // namespace embedding
}  // namespace qk
