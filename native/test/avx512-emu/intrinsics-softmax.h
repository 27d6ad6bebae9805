// Emulated AVX-512 intrinsics used by the softmax kernels (included by immintrin.h; see its end for the rules).
#pragma once

// VDIVPS zmm, zmm, zmm AVX512F: dst := a / b, IEEE division with SSE's NaN rules.
#ifndef QK_EMU__mm512_div_ps
#define QK_EMU__mm512_div_ps
static inline __m512 _mm512_div_ps(__m512 a, __m512 b) {
  return qk_avx512emu::Map<float>(a, b, [](float x, float y) {
    return qk_avx512emu::Arithmetic(x, y, [](float p, float q) { return p / q; });
  });
}
#endif
