// Emulated AVX-512 intrinsics used by the conv kernels (included by immintrin.h; see its end for the rules).
#pragma once
