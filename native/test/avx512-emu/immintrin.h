// A scalar C++ stand-in for <immintrin.h>, so the AVX-512 VNNI kernel sources run on CPUs without AVX-512.
//
// What it is for: qkernels' avx512vnni kernels are written with Intel intrinsics,
// and neither the x86 CI machines (AVX2 only) nor qemu 7.2 can execute AVX-512.
// The test binary qk_test_avx512emu compiles those kernel files unchanged, with
// this folder first on the include path and no -mavx512 flag: their
// `#include <immintrin.h>` lands here, every intrinsic becomes a plain C++
// function, and the kernels' results can be compared bit for bit with the scalar
// kernels (native/test/avx512-emu/emu-test.cc).
//
// Test-only: nothing in the addon or in qk_core includes this file or links code
// compiled with it. It is C++ only and carries no x86 instruction.
//
// Every intrinsic follows the "Operation" pseudocode of the Intel Intrinsics Guide
// (and the SDM for what the pseudocode names but does not spell out: the NaN rules
// of SDM Vol. 1 Table 4-7, Convert_FP32_To_Int32's "integer indefinite"). Floating-
// point exceptions are not modelled: no MXCSR flags are raised, and signalling and
// quiet compare predicates differ only in those flags, so they compute the same
// mask. DAZ/FTZ are taken as off (their default), and MXCSR.RC is read as the C++
// rounding mode (std::fegetround), which fesetround keeps in step with MXCSR on x86.
//
// Layout: vector types, then the lane helpers, then the per-element operations
// the pseudocode names (MAX, Convert_FP32_To_Int32, ...), then the intrinsics
// grouped by kind. Adding an intrinsic is usually one short function: a loop
// over lanes, or a call to Map / MaskMap with one of the per-element operations.
// Add it next to its kind, with its instruction and the ISA extension in a
// comment, and give it a case in shim-test.cc (against real AVX2 hardware where
// there is a 256-bit counterpart).
#pragma once

#if defined(_IMMINTRIN_H_INCLUDED) || defined(_XMMINTRIN_H_INCLUDED) || defined(__IMMINTRIN_H) || \
    defined(__XMMINTRIN_H)
#error "the real x86 intrinsics header is already included: this emulation must be the only one in a translation unit"
#endif

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>

// ---- vector and mask types ------------------------------------------------------
// Plain bytes, little-endian lane order as in a register: lane j of a vector of
// lanes of type L is bytes [j * sizeof(L), (j + 1) * sizeof(L)).

struct alignas(64) __m512 { unsigned char bytes[64]; };
struct alignas(64) __m512i { unsigned char bytes[64]; };
struct alignas(64) __m512d { unsigned char bytes[64]; };
struct alignas(32) __m256 { unsigned char bytes[32]; };
struct alignas(32) __m256i { unsigned char bytes[32]; };
struct alignas(16) __m128 { unsigned char bytes[16]; };
struct alignas(16) __m128i { unsigned char bytes[16]; };

typedef uint8_t __mmask8;
typedef uint16_t __mmask16;
typedef uint32_t __mmask32;
typedef uint64_t __mmask64;

// Compare predicates (imm8[4:0] of VCMPPS). O/U: false/true when an operand is
// NaN; S/Q: signalling or quiet, which only affects exception flags.
#define _CMP_EQ_OQ 0x00
#define _CMP_LT_OS 0x01
#define _CMP_LE_OS 0x02
#define _CMP_UNORD_Q 0x03
#define _CMP_NEQ_UQ 0x04
#define _CMP_NLT_US 0x05
#define _CMP_NLE_US 0x06
#define _CMP_ORD_Q 0x07
#define _CMP_EQ_UQ 0x08
#define _CMP_NGE_US 0x09
#define _CMP_NGT_US 0x0A
#define _CMP_FALSE_OQ 0x0B
#define _CMP_NEQ_OQ 0x0C
#define _CMP_GE_OS 0x0D
#define _CMP_GT_OS 0x0E
#define _CMP_TRUE_UQ 0x0F
#define _CMP_EQ_OS 0x10
#define _CMP_LT_OQ 0x11
#define _CMP_LE_OQ 0x12
#define _CMP_UNORD_S 0x13
#define _CMP_NEQ_US 0x14
#define _CMP_NLT_UQ 0x15
#define _CMP_NLE_UQ 0x16
#define _CMP_ORD_S 0x17
#define _CMP_EQ_US 0x18
#define _CMP_NGE_UQ 0x19
#define _CMP_NGT_UQ 0x1A
#define _CMP_FALSE_OS 0x1B
#define _CMP_NEQ_OS 0x1C
#define _CMP_GE_OQ 0x1D
#define _CMP_GT_OQ 0x1E
#define _CMP_TRUE_US 0x1F

namespace qk_avx512emu {

// ---- lanes --------------------------------------------------------------------------

template <typename Lane, typename Vector>
constexpr int kLanes = static_cast<int>(sizeof(Vector) / sizeof(Lane));

template <typename Lane, typename Vector>
inline Lane Get(const Vector& v, int j) {
  Lane value;
  std::memcpy(&value, v.bytes + j * sizeof(Lane), sizeof(Lane));
  return value;
}

template <typename Lane, typename Vector>
inline void Put(Vector& v, int j, Lane value) {
  std::memcpy(v.bytes + j * sizeof(Lane), &value, sizeof(Lane));
}

// k[j]: whether writemask / zeromask k selects lane j.
inline bool Selected(uint64_t k, int j) { return ((k >> j) & 1u) != 0; }

// FOR j: dst[j] := op(a[j])
template <typename Lane, typename Vector, typename Op>
inline Vector Map(const Vector& a, Op op) {
  Vector dst{};
  for (int j = 0; j < kLanes<Lane, Vector>; ++j) Put<Lane>(dst, j, op(Get<Lane>(a, j)));
  return dst;
}

// FOR j: dst[j] := op(a[j], b[j])
template <typename Lane, typename Vector, typename Op>
inline Vector Map(const Vector& a, const Vector& b, Op op) {
  Vector dst{};
  for (int j = 0; j < kLanes<Lane, Vector>; ++j) Put<Lane>(dst, j, op(Get<Lane>(a, j), Get<Lane>(b, j)));
  return dst;
}

// FOR j: IF k[j] dst[j] := op(a[j], b[j]) ELSE dst[j] := src[j]   (writemask)
template <typename Lane, typename Vector, typename Op>
inline Vector MaskMap(const Vector& src, uint64_t k, const Vector& a, const Vector& b, Op op) {
  Vector dst{};
  for (int j = 0; j < kLanes<Lane, Vector>; ++j) {
    Put<Lane>(dst, j, Selected(k, j) ? op(Get<Lane>(a, j), Get<Lane>(b, j)) : Get<Lane>(src, j));
  }
  return dst;
}

// FOR j: dst[j] := op(a[j]) where dst has lanes of another type (conversions):
// as many lanes as the narrower of the two vectors holds; any bytes of dst beyond them are 0.
template <typename OutLane, typename InLane, typename OutVector, typename InVector, typename Op>
inline OutVector Convert(const InVector& a, Op op) {
  constexpr int lanes = kLanes<OutLane, OutVector> < kLanes<InLane, InVector> ? kLanes<OutLane, OutVector>
                                                                                : kLanes<InLane, InVector>;
  OutVector dst{};
  for (int j = 0; j < lanes; ++j) Put<OutLane>(dst, j, op(Get<InLane>(a, j)));
  return dst;
}

template <typename Lane, typename Vector>
inline Vector Broadcast(Lane value) {
  Vector dst{};
  for (int j = 0; j < kLanes<Lane, Vector>; ++j) Put<Lane>(dst, j, value);
  return dst;
}

// FOR j: IF k[j] dst[j] := MEM[p + j] ELSE dst[j] := 0. Masked-off lanes are
// never read, as with the instruction (which does not fault on them either).
template <typename Lane, typename Vector>
inline Vector MaskzLoad(uint64_t k, const void* p) {
  Vector dst{};
  for (int j = 0; j < kLanes<Lane, Vector>; ++j) {
    if (Selected(k, j)) {
      Lane value;
      std::memcpy(&value, static_cast<const unsigned char*>(p) + j * sizeof(Lane), sizeof(Lane));
      Put<Lane>(dst, j, value);
    }
  }
  return dst;
}

// FOR j: IF k[j] MEM[p + j] := a[j]. Masked-off lanes of memory are not touched.
template <typename Lane, typename Vector>
inline void MaskStore(void* p, uint64_t k, const Vector& a) {
  for (int j = 0; j < kLanes<Lane, Vector>; ++j) {
    if (Selected(k, j)) {
      const Lane value = Get<Lane>(a, j);
      std::memcpy(static_cast<unsigned char*>(p) + j * sizeof(Lane), &value, sizeof(Lane));
    }
  }
}

// The unpacks (PUNPCKL/H*): per 128-bit lane, the low (high = 0) or high (high = 1) half of a's
// and b's elements interleaved: dst[2i] := a[half + i], dst[2i + 1] := b[half + i].
template <typename Lane, typename Vector>
inline Vector Unpack(const Vector& a, const Vector& b, int high) {
  constexpr int per_lane = 16 / static_cast<int>(sizeof(Lane));
  Vector dst{};
  for (int l = 0; l < static_cast<int>(sizeof(Vector)) / 16; ++l) {
    for (int i = 0; i < per_lane / 2; ++i) {
      const int from = l * per_lane + high * (per_lane / 2) + i;
      Put<Lane>(dst, l * per_lane + 2 * i, Get<Lane>(a, from));
      Put<Lane>(dst, l * per_lane + 2 * i + 1, Get<Lane>(b, from));
    }
  }
  return dst;
}

// The saturating packs (PACKSS*/PACKUS*): per 128-bit lane, a's elements then b's, each narrowed
// to OutLane with saturation to [lo, hi].
template <typename InLane, typename OutLane, typename Vector>
inline Vector PackSaturate(const Vector& a, const Vector& b, InLane lo, InLane hi) {
  constexpr int in_per_lane = 16 / static_cast<int>(sizeof(InLane));
  Vector dst{};
  for (int l = 0; l < static_cast<int>(sizeof(Vector)) / 16; ++l) {
    for (int i = 0; i < 2 * in_per_lane; ++i) {
      const InLane x = Get<InLane>(i < in_per_lane ? a : b, in_per_lane * l + i % in_per_lane);
      Put<OutLane>(dst, 2 * in_per_lane * l + i, static_cast<OutLane>(x < lo ? lo : x > hi ? hi : x));
    }
  }
  return dst;
}

// ---- per-element operations the pseudocode names ----------------------------------

inline uint32_t Bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return bits;
}

inline float FromBits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

inline bool IsNaN(float x) { return (Bits(x) & 0x7FFFFFFFu) > 0x7F800000u; }

// A signalling NaN becomes quiet by setting the fraction's top bit (payload kept).
inline float Quiet(float nan) { return FromBits(Bits(nan) | 0x00400000u); }

// "QNaN floating-point indefinite": the NaN an invalid operation produces.
constexpr uint32_t kDefaultNaNBits = 0xFFC00000u;

// The NaN result rules of SSE/AVX arithmetic (SDM Vol. 1 Table 4-7): a NaN
// first source wins over a NaN second source, a signalling NaN is returned
// quiet, and an invalid operation on non-NaN operands (0 * inf) gives the
// default NaN. IEEE arithmetic alone fixes every non-NaN result.
template <typename Op>
inline float Arithmetic(float src1, float src2, Op op) {
  if (IsNaN(src1)) return Quiet(src1);
  if (IsNaN(src2)) return Quiet(src2);
  const float result = op(src1, src2);
  return IsNaN(result) ? FromBits(kDefaultNaNBits) : result;
}

inline float MulFp32(float a, float b) {
  return Arithmetic(a, b, [](float x, float y) { return x * y; });
}

// MAX(SRC1, SRC2) of VMAXPS:
//   IF (SRC1 = 0.0) and (SRC2 = 0.0) THEN DEST := SRC2
//   ELSE IF (SRC1 = NaN) THEN DEST := SRC2
//   ELSE IF (SRC2 = NaN) THEN DEST := SRC2
//   ELSE IF (SRC1 > SRC2) THEN DEST := SRC1
//   ELSE DEST := SRC2
// So the second operand comes back, unchanged (a signalling NaN stays
// signalling), whenever either operand is NaN or both are zeros of any sign.
inline float MaxFp32(float src1, float src2) {
  if (src1 == 0.0f && src2 == 0.0f) return src2;
  if (IsNaN(src1) || IsNaN(src2)) return src2;
  return src1 > src2 ? src1 : src2;
}

// MIN(SRC1, SRC2) of VMINPS: as MAX with "<".
inline float MinFp32(float src1, float src2) {
  if (src1 == 0.0f && src2 == 0.0f) return src2;
  if (IsNaN(src1) || IsNaN(src2)) return src2;
  return src1 < src2 ? src1 : src2;
}

// ABS() of _mm512_abs_ps: clears the sign bit, whatever the value (NaN included).
inline float AbsFp32(float a) { return FromBits(Bits(a) & 0x7FFFFFFFu); }

// Convert_FP32_To_Int32: rounds per MXCSR.RC (round to nearest even by default);
// NaN and results outside int32 give the "integer indefinite" 0x80000000.
// Rounding is done by hand in double, where every step is exact.
inline int32_t ConvertFp32ToInt32(float a, int rounding_mode) {
  if (IsNaN(a)) return INT32_MIN;
  const double x = a;
  double rounded;
  switch (rounding_mode) {
    case FE_DOWNWARD: rounded = std::floor(x); break;
    case FE_UPWARD: rounded = std::ceil(x); break;
    case FE_TOWARDZERO: rounded = std::trunc(x); break;
    default: {  // FE_TONEAREST: ties to even
      const double below = std::floor(x);
      const double fraction = x - below;
      const bool below_is_even = std::fmod(below, 2.0) == 0.0;
      rounded = fraction > 0.5 || (fraction == 0.5 && !below_is_even) ? below + 1.0 : below;
      break;
    }
  }
  if (!(rounded >= -2147483648.0 && rounded <= 2147483647.0)) return INT32_MIN;
  return static_cast<int32_t>(rounded);
}

// Convert_Int32_To_FP32: rounds per MXCSR.RC. A C++ int-to-float conversion
// rounds in the current rounding mode on IEEE hosts, which is the same thing.
inline float ConvertInt32ToFp32(int32_t a) { return static_cast<float>(a); }

// The VCMPPS predicate table: whether a OP b holds, by imm8[3:0] (bit 4 only
// swaps signalling and quiet, which changes exceptions, not the result).
inline bool CompareFp32(float a, float b, int predicate) {
  const bool unordered = IsNaN(a) || IsNaN(b);
  const bool less = !unordered && a < b;
  const bool equal = !unordered && a == b;  // +0 equals -0
  const bool greater = !unordered && a > b;
  switch (predicate & 0x0F) {
    case 0x00: return equal;                  // EQ_OQ / EQ_OS
    case 0x01: return less;                   // LT_OS / LT_OQ
    case 0x02: return less || equal;          // LE_OS / LE_OQ
    case 0x03: return unordered;              // UNORD_Q / UNORD_S
    case 0x04: return !equal;                 // NEQ_UQ / NEQ_US
    case 0x05: return !less;                  // NLT_US / NLT_UQ
    case 0x06: return !(less || equal);       // NLE_US / NLE_UQ
    case 0x07: return !unordered;             // ORD_Q / ORD_S
    case 0x08: return unordered || equal;     // EQ_UQ / EQ_US
    case 0x09: return !(greater || equal);    // NGE_US / NGE_UQ
    case 0x0A: return !greater;               // NGT_US / NGT_UQ
    case 0x0B: return false;                  // FALSE_OQ / FALSE_OS
    case 0x0C: return !unordered && !equal;   // NEQ_OQ / NEQ_OS
    case 0x0D: return greater || equal;       // GE_OS / GE_OQ
    case 0x0E: return greater;                // GT_OS / GT_OQ
    default: return true;                     // TRUE_UQ / TRUE_US
  }
}

// Truncate8: the low byte of a dword.
inline uint8_t Truncate8(int32_t a) { return static_cast<uint8_t>(static_cast<uint32_t>(a) & 0xFFu); }

inline int32_t AddInt32(int32_t a, int32_t b) {  // wraps modulo 2^32
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

inline int32_t SubInt32(int32_t a, int32_t b) {  // wraps modulo 2^32
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}

// Dword j of VPDPBUSD:
//   tmp1.word := Signed(ZeroExtend16(a.byte[4*j])   * SignExtend16(b.byte[4*j]))
//   tmp2.word := Signed(ZeroExtend16(a.byte[4*j+1]) * SignExtend16(b.byte[4*j+1]))
//   tmp3.word, tmp4.word likewise for bytes 4*j+2 and 4*j+3
//   dst.dword[j] := src.dword[j] + tmp1 + tmp2 + tmp3 + tmp4
// a's bytes are unsigned, b's signed; each product fits int16 exactly
// (255 * -128 = -32640), and the dword sum wraps modulo 2^32 (VPDPBUSDS is
// the saturating one).
template <typename Vector>
inline int32_t DotBytesUnsignedSigned(const Vector& src, const Vector& a, const Vector& b, int j) {
  int32_t sum = Get<int32_t>(src, j);
  for (int byte = 4 * j; byte < 4 * j + 4; ++byte) {
    const int16_t product = static_cast<int16_t>(int32_t{Get<uint8_t>(a, byte)} * int32_t{Get<int8_t>(b, byte)});
    sum = AddInt32(sum, product);
  }
  return sum;
}

}  // namespace qk_avx512emu

// ---- intrinsics ---------------------------------------------------------------------
// Each: the instruction and the CPUID feature it belongs to, then its operation.

// set, load, store

// (sequence) AVX512F: every lane := a
static inline __m512 _mm512_set1_ps(float a) { return qk_avx512emu::Broadcast<float, __m512>(a); }

// VPBROADCASTD zmm, r32 (sequence) AVX512F
static inline __m512i _mm512_set1_epi32(int a) { return qk_avx512emu::Broadcast<int32_t, __m512i>(a); }

// VPXORQ zmm, zmm, zmm AVX512F
static inline __m512i _mm512_setzero_si512() { return __m512i{}; }

// VMOVUPS zmm, m512 AVX512F
static inline __m512 _mm512_loadu_ps(void const* mem_addr) {
  __m512 dst;
  std::memcpy(dst.bytes, mem_addr, 64);
  return dst;
}

// VMOVDQU32 zmm, m512 AVX512F
static inline __m512i _mm512_loadu_si512(void const* mem_addr) {
  __m512i dst;
  std::memcpy(dst.bytes, mem_addr, 64);
  return dst;
}

// MOVDQU xmm, m128 SSE2
static inline __m128i _mm_loadu_si128(__m128i const* mem_addr) {
  __m128i dst;
  std::memcpy(dst.bytes, mem_addr, 16);
  return dst;
}

// VMOVUPS zmm {z}, m512 AVX512F
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, void const* mem_addr) {
  return qk_avx512emu::MaskzLoad<float, __m512>(k, mem_addr);
}

// VMOVDQU8 xmm {z}, m128 AVX512BW + AVX512VL
static inline __m128i _mm_maskz_loadu_epi8(__mmask16 k, void const* mem_addr) {
  return qk_avx512emu::MaskzLoad<uint8_t, __m128i>(k, mem_addr);
}

// VMOVUPS m512, zmm AVX512F
static inline void _mm512_storeu_ps(void* mem_addr, __m512 a) { std::memcpy(mem_addr, a.bytes, 64); }

// VMOVDQU32 m512, zmm AVX512F
static inline void _mm512_storeu_si512(void* mem_addr, __m512i a) { std::memcpy(mem_addr, a.bytes, 64); }

// MOVDQU m128, xmm SSE2
static inline void _mm_storeu_si128(__m128i* mem_addr, __m128i a) { std::memcpy(mem_addr, a.bytes, 16); }

// VMOVUPS m512 {k}, zmm AVX512F
static inline void _mm512_mask_storeu_ps(void* mem_addr, __mmask16 k, __m512 a) {
  qk_avx512emu::MaskStore<float>(mem_addr, k, a);
}

// fp32 arithmetic

// VMULPS zmm, zmm, zmm AVX512F
static inline __m512 _mm512_mul_ps(__m512 a, __m512 b) { return qk_avx512emu::Map<float>(a, b, qk_avx512emu::MulFp32); }

// VMAXPS zmm, zmm, zmm AVX512F
static inline __m512 _mm512_max_ps(__m512 a, __m512 b) { return qk_avx512emu::Map<float>(a, b, qk_avx512emu::MaxFp32); }

// VMAXPS zmm {k}, zmm, zmm AVX512F
static inline __m512 _mm512_mask_max_ps(__m512 src, __mmask16 k, __m512 a, __m512 b) {
  return qk_avx512emu::MaskMap<float>(src, k, a, b, qk_avx512emu::MaxFp32);
}

// VMINPS zmm, zmm, zmm AVX512F
static inline __m512 _mm512_min_ps(__m512 a, __m512 b) { return qk_avx512emu::Map<float>(a, b, qk_avx512emu::MinFp32); }

// VPANDD zmm, zmm, m32bcst AVX512F: dst[j] := ABS(v2[j])
static inline __m512 _mm512_abs_ps(__m512 v2) { return qk_avx512emu::Map<float>(v2, qk_avx512emu::AbsFp32); }

// int32 arithmetic

// VPADDD zmm, zmm, zmm AVX512F
static inline __m512i _mm512_add_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, qk_avx512emu::AddInt32);
}

// VPSUBD zmm, zmm, zmm AVX512F
static inline __m512i _mm512_sub_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, qk_avx512emu::SubInt32);
}

// compare

// VCMPPS k, zmm, zmm, imm8 AVX512F: k[j] := (a[j] OP b[j]), OP by imm8 (_CMP_*)
static inline __mmask16 _mm512_cmp_ps_mask(__m512 a, __m512 b, const int imm8) {
  __mmask16 k = 0;
  for (int j = 0; j < 16; ++j) {
    const bool holds = qk_avx512emu::CompareFp32(qk_avx512emu::Get<float>(a, j), qk_avx512emu::Get<float>(b, j), imm8);
    if (holds) k = static_cast<__mmask16>(k | (1u << j));
  }
  return k;
}

// conversions

// VCVTPS2DQ zmm, zmm AVX512F: dst.dword[j] := Convert_FP32_To_Int32(a[j])
static inline __m512i _mm512_cvtps_epi32(__m512 a) {
  const int rounding_mode = std::fegetround();  // MXCSR.RC
  return qk_avx512emu::Convert<int32_t, float, __m512i>(
      a, [rounding_mode](float x) { return qk_avx512emu::ConvertFp32ToInt32(x, rounding_mode); });
}

// VCVTDQ2PS zmm, zmm AVX512F: dst[j] := Convert_Int32_To_FP32(a.dword[j])
static inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  return qk_avx512emu::Convert<float, int32_t, __m512>(a, qk_avx512emu::ConvertInt32ToFp32);
}

// VPMOVZXBD zmm, xmm AVX512F: dst.dword[j] := ZeroExtend32(a.byte[j])
static inline __m512i _mm512_cvtepu8_epi32(__m128i a) {
  return qk_avx512emu::Convert<int32_t, uint8_t, __m512i>(a, [](uint8_t x) { return static_cast<int32_t>(x); });
}

// VPMOVSXBD zmm, xmm AVX512F: dst.dword[j] := SignExtend32(a.byte[j])
static inline __m512i _mm512_cvtepi8_epi32(__m128i a) {
  return qk_avx512emu::Convert<int32_t, int8_t, __m512i>(a, [](int8_t x) { return static_cast<int32_t>(x); });
}

// VPMOVDB xmm, zmm AVX512F: dst.byte[j] := Truncate8(a.dword[j]) (no saturation)
static inline __m128i _mm512_cvtepi32_epi8(__m512i a) {
  return qk_avx512emu::Convert<uint8_t, int32_t, __m128i>(a, qk_avx512emu::Truncate8);
}

// VPMOVDB m128 {k}, zmm AVX512F: IF k[j] MEM[base_addr + j] := Truncate8(a.dword[j])
static inline void _mm512_mask_cvtepi32_storeu_epi8(void* base_addr, __mmask16 k, __m512i a) {
  qk_avx512emu::MaskStore<uint8_t>(base_addr, k, _mm512_cvtepi32_epi8(a));
}

// VNNI

// VPDPBUSD zmm {k}, zmm, zmm AVX512_VNNI: dst.dword[j] := src.dword[j] + four u8(a) * s8(b) products
// where k[j] is set; src.dword[j] elsewhere
static inline __m512i _mm512_mask_dpbusd_epi32(__m512i src, __mmask16 k, __m512i a, __m512i b) {
  __m512i dst = src;
  for (int j = 0; j < 16; ++j) {
    if (qk_avx512emu::Selected(k, j)) {
      qk_avx512emu::Put<int32_t>(dst, j, qk_avx512emu::DotBytesUnsignedSigned(src, a, b, j));
    }
  }
  return dst;
}

// VPDPBUSD zmm, zmm, zmm AVX512_VNNI: every lane
static inline __m512i _mm512_dpbusd_epi32(__m512i src, __m512i a, __m512i b) {
  return _mm512_mask_dpbusd_epi32(src, 0xFFFF, a, b);
}

// VPDPBUSD zmm {z}, zmm, zmm AVX512_VNNI: lanes with k[j] clear are zeroed
static inline __m512i _mm512_maskz_dpbusd_epi32(__mmask16 k, __m512i src, __m512i a, __m512i b) {
  __m512i dst{};
  for (int j = 0; j < 16; ++j) {
    if (qk_avx512emu::Selected(k, j)) {
      qk_avx512emu::Put<int32_t>(dst, j, qk_avx512emu::DotBytesUnsignedSigned(src, a, b, j));
    }
  }
  return dst;
}

// ---- intrinsics several kernel families use (one definition each) ------------------

#ifndef QK_EMU__mm512_mullo_epi32
#define QK_EMU__mm512_mullo_epi32
static inline __m512i _mm512_mullo_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x * y; });
}
#endif

#ifndef QK_EMU__mm512_add_ps
#define QK_EMU__mm512_add_ps
static inline __m512 _mm512_add_ps(__m512 a, __m512 b) {
  return qk_avx512emu::Map<float>(a, b, [](float x, float y) {
    return qk_avx512emu::Arithmetic(x, y, [](float u, float v) { return u + v; });
  });
}
#endif

#ifndef QK_EMU__mm512_fmadd_ps
#define QK_EMU__mm512_fmadd_ps
// VFMADD231PS zmm, zmm, zmm AVX512F: dst[j] := a[j] * b[j] + c[j], one rounding
// (NaN operands: the first NaN of a, b, c, quieted, as SDM's FMA NaN rules)
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  __m512 dst{};
  for (int j = 0; j < 16; ++j) {
    const float x = qk_avx512emu::Get<float>(a, j), y = qk_avx512emu::Get<float>(b, j), z = qk_avx512emu::Get<float>(c, j);
    float r;
    if (qk_avx512emu::IsNaN(x)) r = qk_avx512emu::Quiet(x);
    else if (qk_avx512emu::IsNaN(y)) r = qk_avx512emu::Quiet(y);
    else if (qk_avx512emu::IsNaN(z)) r = qk_avx512emu::Quiet(z);
    else {
      r = std::fma(x, y, z);
      if (qk_avx512emu::IsNaN(r)) r = qk_avx512emu::FromBits(qk_avx512emu::kDefaultNaNBits);
    }
    qk_avx512emu::Put<float>(dst, j, r);
  }
  return dst;
}
#endif

#ifndef QK_EMU__mm512_and_si512
#define QK_EMU__mm512_and_si512
// VPANDD zmm, zmm, zmm AVX512F: dst := a AND b
static inline __m512i _mm512_and_si512(__m512i a, __m512i b) {
  return qk_avx512emu::Map<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x & y; });
}
#endif

#ifndef QK_EMU__mm512_max_epi32
#define QK_EMU__mm512_max_epi32
static inline __m512i _mm512_max_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) { return x > y ? x : y; });
}
#endif

#ifndef QK_EMU__mm512_min_epi32
#define QK_EMU__mm512_min_epi32
static inline __m512i _mm512_min_epi32(__m512i a, __m512i b) {
  return qk_avx512emu::Map<int32_t>(a, b, [](int32_t x, int32_t y) { return x < y ? x : y; });
}
#endif

// Intrinsics the other kernel families need, one header each. Wrap each function in
// `#ifndef QK_EMU_<intrinsic>` / `#define QK_EMU_<intrinsic>` so that two families adding
// the same intrinsic do not collide; follow Intel's pseudocode, and add a lane-by-lane
// check against real AVX2 (shim-test.cc) where an AVX2 counterpart exists.
#include "intrinsics-gemm.h"
#include "intrinsics-conv.h"
#include "intrinsics-embedding.h"
#include "intrinsics-elementwise.h"
#include "intrinsics-pool-norm.h"
#include "intrinsics-binary.h"
#include "intrinsics-softmax.h"
