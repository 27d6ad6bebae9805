// Emulated AVX-512 intrinsics used by the pool-norm kernels (included by immintrin.h; see its end for the rules).
#pragma once
