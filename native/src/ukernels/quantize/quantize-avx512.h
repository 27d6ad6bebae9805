// AVX-512 (F/BW/VL) quantize/dequantize loops shared by the quint8 and qint8 kernels; avx512vnni files only.
//
// Same lane recipe as quantize-avx2.h, with masks instead of blends:
//   t = x * inv_scale; valid = |t| < 2^63 (ordered: false for NaN, +-Inf, huge)
//   c = valid ? max(t, lo) : lo      a masked max, so NaN never reaches max/min
//   q = cvtps2dq(min(c, hi)) + zp    in int32 range, rounds nearest-even (MXCSR default)
// vpmovdb then truncates each int32 to a byte, exact since q is in [qmin, qmax].
// Tails use masked loads and stores: masked-off elements are neither read nor written.
#pragma once

#include <immintrin.h>

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge
// source, which it then reports as maybe-uninitialized once inlined (GCC bug
// 105593). The warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <cstdint>

#include "ukernels/quantize/quantize-scalar.h"

namespace qk {
namespace {

template <typename T>
struct Avx512Bytes;

template <>
struct Avx512Bytes<uint8_t> {
  static __m512i Widen(__m128i bytes) { return _mm512_cvtepu8_epi32(bytes); }
};

template <>
struct Avx512Bytes<int8_t> {
  static __m512i Widen(__m128i bytes) { return _mm512_cvtepi8_epi32(bytes); }
};

inline __mmask16 Avx512FirstLanes(size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }  // n in 0..16

class Avx512Quantizer {
 public:
  explicit Avx512Quantizer(const QuantizeParams& p)
      : inv_scale_(_mm512_set1_ps(p.inv_scale)),
        lo_(_mm512_set1_ps(MakeQuantizeBounds(p).lo)),
        hi_(_mm512_set1_ps(MakeQuantizeBounds(p).hi)),
        limit_(_mm512_set1_ps(kQuantizeInvalidLimit)),
        zero_point_(_mm512_set1_epi32(p.zero_point)) {}

  // 16 quantized values as int32 in [qmin, qmax].
  __m512i Quantize(__m512 x) const {
    const __m512 t = _mm512_mul_ps(x, inv_scale_);
    const __mmask16 valid = _mm512_cmp_ps_mask(_mm512_abs_ps(t), limit_, _CMP_LT_OQ);
    const __m512 clamped = _mm512_min_ps(_mm512_mask_max_ps(lo_, valid, t, lo_), hi_);
    return _mm512_add_epi32(_mm512_cvtps_epi32(clamped), zero_point_);
  }

 private:
  __m512 inv_scale_, lo_, hi_, limit_;
  __m512i zero_point_;
};

template <typename T>
void QuantizeAvx512(size_t n, const float* x, T* y, const QuantizeParams& params) {
  const Avx512Quantizer quantizer(params);
  for (; n >= 64; n -= 64, x += 64, y += 64) {
    for (int k = 0; k < 64; k += 16) {
      const __m512i q = quantizer.Quantize(_mm512_loadu_ps(x + k));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + k), _mm512_cvtepi32_epi8(q));
    }
  }
  for (; n >= 16; n -= 16, x += 16, y += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm512_cvtepi32_epi8(quantizer.Quantize(_mm512_loadu_ps(x))));
  }
  if (n != 0) {
    const __mmask16 lanes = Avx512FirstLanes(n);
    _mm512_mask_cvtepi32_storeu_epi8(y, lanes, quantizer.Quantize(_mm512_maskz_loadu_ps(lanes, x)));
  }
}

template <typename T>
__m512 DequantizeAvx512x16(__m128i bytes, __m512i zero_point, __m512 scale) {
  return _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(Avx512Bytes<T>::Widen(bytes), zero_point)));
}

template <typename T>
void DequantizeAvx512(size_t n, const T* q, float* y, const DequantizeParams& params) {
  const __m512 scale = _mm512_set1_ps(params.scale);
  const __m512i zero_point = _mm512_set1_epi32(params.zero_point);
  for (; n >= 64; n -= 64, q += 64, y += 64) {
    for (int k = 0; k < 64; k += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + k));
      _mm512_storeu_ps(y + k, DequantizeAvx512x16<T>(bytes, zero_point, scale));
    }
  }
  for (; n >= 16; n -= 16, q += 16, y += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    _mm512_storeu_ps(y, DequantizeAvx512x16<T>(bytes, zero_point, scale));
  }
  if (n != 0) {
    const __mmask16 lanes = Avx512FirstLanes(n);
    const __m128i bytes = _mm_maskz_loadu_epi8(lanes, q);  // AVX512BW+VL
    _mm512_mask_storeu_ps(y, lanes, DequantizeAvx512x16<T>(bytes, zero_point, scale));
  }
}

}  // namespace
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
