// Emulated AVX-512 intrinsics used by the gemm kernels (included by immintrin.h; see its end for the rules).
#pragma once
