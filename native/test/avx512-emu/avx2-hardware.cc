// Real AVX2 instructions behind plain functions (compiled with -mavx2 and the system <immintrin.h>).
#include "avx2-hardware.h"

#include <immintrin.h>

#include <array>
#include <utility>

namespace qk {
namespace test {
namespace {

__m256i LaneMask(uint8_t k) {
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(k), bits), bits);  // all ones where selected
}

// The compiler may swap the operands of a commutative intrinsic; which one is
// the first source decides the NaN result of VMULPS (and of VMAXPS / VMINPS,
// which are not commutative at all), so these three are spelled out in asm.
// AT&T order: "op src2, src1, dst".
#define QK_HARDWARE_BINARY_PS(name, mnemonic)                                              \
  void name(const float a[8], const float b[8], float dst[8]) {                            \
    const __m256 src1 = _mm256_loadu_ps(a), src2 = _mm256_loadu_ps(b);                     \
    __m256 result;                                                                          \
    __asm__(mnemonic " %2, %1, %0" : "=x"(result) : "x"(src1), "x"(src2));                  \
    _mm256_storeu_ps(dst, result);                                                          \
  }

template <int kPredicate>
uint8_t CmpPsMask(const float a[8], const float b[8]) {
  const __m256 result = _mm256_cmp_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b), kPredicate);
  return static_cast<uint8_t>(_mm256_movemask_ps(result));
}

using CmpPsMaskFn = uint8_t (*)(const float*, const float*);

template <int... kPredicates>
constexpr std::array<CmpPsMaskFn, sizeof...(kPredicates)> CmpPsMaskTable(std::integer_sequence<int, kPredicates...>) {
  return {{&CmpPsMask<kPredicates>...}};
}

}  // namespace

QK_HARDWARE_BINARY_PS(HardwareMulPs, "vmulps")
QK_HARDWARE_BINARY_PS(HardwareMaxPs, "vmaxps")
QK_HARDWARE_BINARY_PS(HardwareMinPs, "vminps")
#undef QK_HARDWARE_BINARY_PS

void HardwareCvtpsEpi32(const float a[8], int32_t dst[8]) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_cvtps_epi32(_mm256_loadu_ps(a)));
}

void HardwareCvtepi32Ps(const int32_t a[8], float dst[8]) {
  _mm256_storeu_ps(dst, _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))));
}

uint8_t HardwareCmpPsMask(const float a[8], const float b[8], int predicate) {
  static constexpr auto table = CmpPsMaskTable(std::make_integer_sequence<int, 32>());
  return table[static_cast<size_t>(predicate) & 31](a, b);
}

void HardwareAddEpi32(const int32_t a[8], const int32_t b[8], int32_t dst[8]) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_add_epi32(x, y));
}

void HardwareSubEpi32(const int32_t a[8], const int32_t b[8], int32_t dst[8]) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_sub_epi32(x, y));
}

void HardwareCvtepu8Epi32(const uint8_t a[8], int32_t dst[8]) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_cvtepu8_epi32(bytes));
}

void HardwareCvtphPs(const uint16_t a[8], float dst[8]) {
  _mm256_storeu_ps(dst, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))));
}

void HardwareCvtepi8Epi32(const int8_t a[8], int32_t dst[8]) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_cvtepi8_epi32(bytes));
}

void HardwareMaskLoadPs(const float* p, uint8_t k, float dst[8]) {
  _mm256_storeu_ps(dst, _mm256_maskload_ps(p, LaneMask(k)));
}

void HardwareMaskStorePs(float* p, uint8_t k, const float a[8]) {
  _mm256_maskstore_ps(p, LaneMask(k), _mm256_loadu_ps(a));
}

void HardwareDotBytesUnsignedSigned(const int32_t src[8], const uint8_t a[32], const int8_t b[32], int32_t dst[8]) {
  __m256i pair_sums[2];  // dword i of half h: products 2i and 2i+1 of bytes 16h..16h+15
  for (int half = 0; half < 2; ++half) {
    const __m256i a_words = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 16 * half)));
    const __m256i b_words = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * half)));
    pair_sums[half] = _mm256_madd_epi16(a_words, b_words);  // exact: |sum| <= 2 * 255 * 128
  }
  // hadd works within 128-bit halves: its dwords come out as quads [0 1 4 5 | 2 3 6 7]; the permute restores 0..7.
  const __m256i quads = _mm256_permute4x64_epi64(_mm256_hadd_epi32(pair_sums[0], pair_sums[1]), 0xD8);
  const __m256i sums = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), quads);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), sums);
}

}  // namespace test
}  // namespace qk
