// Emulated AVX-512 intrinsics used by the gemm kernels (included by immintrin.h; see its end for the rules).
#pragma once

// VPMULLD zmm, zmm, zmm AVX512F: dst.dword[j] := low 32 bits of a.dword[j] * b.dword[j]
