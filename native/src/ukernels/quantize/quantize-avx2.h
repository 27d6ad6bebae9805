// AVX2 quantize/dequantize loops shared by the quint8 and qint8 kernels; include only from -mavx2 files.
//
// How each lane reaches the scalar result (quantize-scalar.h) exactly:
//   t = x * inv_scale                     one vmulps, as the scalar multiply
//   valid = |t| < 2^63 (ordered compare)  false for NaN, +-Inf and huge |t|
//   c = min(max(t, lo), hi)               lo = qmin - zp, hi = qmax - zp
//   c = valid ? c : lo                    so invalid lanes end at qmin; the blend
//                                         also hides what max/min did with NaN
//   q = cvtps2dq(c) + zp                  c is in int32 range, so cvtps2dq never
//                                         returns its INT_MIN "indefinite" value;
//                                         it rounds per MXCSR, nearest-even by default
// The int16/int8 packs saturate, but every value is already in [qmin, qmax].
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ukernels/quantize/quantize-scalar.h"

namespace qk {
namespace {

template <typename T>
struct Avx2Bytes;

template <>
struct Avx2Bytes<uint8_t> {
  static __m256i Pack(__m256i a, __m256i b) { return _mm256_packus_epi16(a, b); }
  static __m128i Pack(__m128i a) { return _mm_packus_epi16(a, a); }
  static __m256i Widen(__m128i bytes) { return _mm256_cvtepu8_epi32(bytes); }
};

template <>
struct Avx2Bytes<int8_t> {
  static __m256i Pack(__m256i a, __m256i b) { return _mm256_packs_epi16(a, b); }
  static __m128i Pack(__m128i a) { return _mm_packs_epi16(a, a); }
  static __m256i Widen(__m128i bytes) { return _mm256_cvtepi8_epi32(bytes); }
};

// Lane mask selecting the first n (0..8) of 8 int32/float lanes.
inline __m256i Avx2FirstLanes(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

class Avx2Quantizer {
 public:
  explicit Avx2Quantizer(const QuantizeParams& p)
      : inv_scale_(_mm256_set1_ps(p.inv_scale)),
        lo_(_mm256_set1_ps(MakeQuantizeBounds(p).lo)),
        hi_(_mm256_set1_ps(MakeQuantizeBounds(p).hi)),
        limit_(_mm256_set1_ps(kQuantizeInvalidLimit)),
        abs_mask_(_mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))),
        zero_point_(_mm256_set1_epi16(static_cast<int16_t>(p.zero_point))) {}

  // q - zero_point of 8 values, as int32.
  __m256i Offsets(__m256 x) const {
    const __m256 t = _mm256_mul_ps(x, inv_scale_);
    const __m256 valid = _mm256_cmp_ps(_mm256_and_ps(t, abs_mask_), limit_, _CMP_LT_OQ);
    const __m256 clamped = _mm256_min_ps(_mm256_max_ps(t, lo_), hi_);
    return _mm256_cvtps_epi32(_mm256_blendv_ps(lo_, clamped, valid));
  }

  // 8 values to 8 bytes (in the low half of the result).
  template <typename T>
  __m128i Quantize8(__m256 x) const {
    const __m256i offsets = Offsets(x);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(offsets), _mm256_extracti128_si256(offsets, 1));
    return Avx2Bytes<T>::Pack(_mm_add_epi16(words, _mm256_castsi256_si128(zero_point_)));
  }

  // 32 values to 32 bytes.
  template <typename T>
  __m256i Quantize32(const float* x) const {
    // packs work within 128-bit lanes, so the bytes come out as dwords
    // [x0-3, x8-11, x16-19, x24-27, x4-7, x12-15, x20-23, x28-31]; one permute restores the order.
    const __m256i a = _mm256_packs_epi32(Offsets(_mm256_loadu_ps(x)), Offsets(_mm256_loadu_ps(x + 8)));
    const __m256i b = _mm256_packs_epi32(Offsets(_mm256_loadu_ps(x + 16)), Offsets(_mm256_loadu_ps(x + 24)));
    const __m256i bytes = Avx2Bytes<T>::Pack(_mm256_add_epi16(a, zero_point_), _mm256_add_epi16(b, zero_point_));
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }

 private:
  __m256 inv_scale_, lo_, hi_, limit_, abs_mask_;
  __m256i zero_point_;  // as 16-bit lanes: added after the first pack, where |q - zp| <= 255 fits
};

template <typename T>
void QuantizeAvx2(size_t n, const float* x, T* y, const QuantizeParams& params) {
  const Avx2Quantizer quantizer(params);
  for (; n >= 32; n -= 32, x += 32, y += 32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), quantizer.Quantize32<T>(x));
  }
  for (; n >= 8; n -= 8, x += 8, y += 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y), quantizer.Quantize8<T>(_mm256_loadu_ps(x)));
  }
  if (n != 0) {
    // Masked-off lanes are not read (no fault past the end) and load as 0.0f.
    const __m128i bytes = quantizer.Quantize8<T>(_mm256_maskload_ps(x, Avx2FirstLanes(n)));
    const uint64_t packed = static_cast<uint64_t>(_mm_cvtsi128_si64(bytes));
    std::memcpy(y, &packed, n);  // little-endian: element 0 is the low byte
  }
}

template <typename T>
__m256 DequantizeAvx2x8(__m128i bytes, __m256i zero_point, __m256 scale) {
  const __m256i offsets = _mm256_sub_epi32(Avx2Bytes<T>::Widen(bytes), zero_point);
  return _mm256_mul_ps(scale, _mm256_cvtepi32_ps(offsets));
}

template <typename T>
void DequantizeAvx2(size_t n, const T* q, float* y, const DequantizeParams& params) {
  const __m256 scale = _mm256_set1_ps(params.scale);
  const __m256i zero_point = _mm256_set1_epi32(params.zero_point);
  for (; n >= 32; n -= 32, q += 32, y += 32) {
    for (int k = 0; k < 32; k += 8) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + k));
      _mm256_storeu_ps(y + k, DequantizeAvx2x8<T>(bytes, zero_point, scale));
    }
  }
  for (; n >= 8; n -= 8, q += 8, y += 8) {
    _mm256_storeu_ps(y, DequantizeAvx2x8<T>(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)), zero_point, scale));
  }
  if (n != 0) {
    uint64_t packed = 0;
    std::memcpy(&packed, q, n);  // never reads past the end
    const __m256 values = DequantizeAvx2x8<T>(_mm_cvtsi64_si128(static_cast<long long>(packed)), zero_point, scale);
    _mm256_maskstore_ps(y, Avx2FirstLanes(n), values);
  }
}

}  // namespace
}  // namespace qk
