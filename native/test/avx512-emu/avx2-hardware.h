// Real AVX2 instructions behind plain functions: what shim-test.cc checks the AVX-512 emulation against.
//
// avx2-hardware.cc is compiled with the system <immintrin.h> and -mavx2, and
// never sees the emulation (which shadows that header in every file of its own
// object library). Each function runs one 256-bit instruction, the counterpart
// of a 512-bit intrinsic, on 8 lanes; the test compares the emulated 16 lanes
// with two calls. Call them only when the CPU has AVX2.
#pragma once

#include <cstdint>

namespace qk {
namespace test {

void HardwareCvtpsEpi32(const float a[8], int32_t dst[8]);            // VCVTPS2DQ ymm (MXCSR rounding)
void HardwareCvtepi32Ps(const int32_t a[8], float dst[8]);            // VCVTDQ2PS ymm (MXCSR rounding)
void HardwareMulPs(const float a[8], const float b[8], float dst[8]);  // VMULPS ymm, a is the first source
void HardwareMaxPs(const float a[8], const float b[8], float dst[8]);  // VMAXPS ymm, a is the first source
void HardwareMinPs(const float a[8], const float b[8], float dst[8]);  // VMINPS ymm, a is the first source
// VCMPPS ymm with imm8 = predicate (0..31), then VMOVMSKPS: bit j is lane j's result.
uint8_t HardwareCmpPsMask(const float a[8], const float b[8], int predicate);
void HardwareAddEpi32(const int32_t a[8], const int32_t b[8], int32_t dst[8]);  // VPADDD ymm
void HardwareSubEpi32(const int32_t a[8], const int32_t b[8], int32_t dst[8]);  // VPSUBD ymm
void HardwareCvtepu8Epi32(const uint8_t a[8], int32_t dst[8]);                   // VPMOVZXBD ymm
void HardwareCvtepi8Epi32(const int8_t a[8], int32_t dst[8]);                    // VPMOVSXBD ymm
void HardwareCvtphPs(const uint16_t a[8], float dst[8]);                          // VCVTPH2PS ymm (F16C)
// VMASKMOVPS ymm, [p] with lane j selected by bit j of k: masked-off lanes are not read and load as 0.
void HardwareMaskLoadPs(const float* p, uint8_t k, float dst[8]);
// VMASKMOVPS [p], ymm: only the selected lanes are written.
void HardwareMaskStorePs(float* p, uint8_t k, const float a[8]);
// src.dword[j] + the four products of a's unsigned and b's signed bytes 4j..4j+3, wrapping:
// VPDPBUSD's arithmetic done with AVX2's widening multiply-add (VPMOVZXBW, VPMOVSXBW, VPMADDWD, VPHADDD, VPADDD).
void HardwareDotBytesUnsignedSigned(const int32_t src[8], const uint8_t a[32], const int8_t b[32], int32_t dst[8]);

}  // namespace test
}  // namespace qk
