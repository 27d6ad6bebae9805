// qk_b1_xnor_gemm_ukernel_4x8__scalar: the XNOR-popcount tile in plain C++, the specification the SIMD kernels match.
#include "ukernels/ukernels.h"

namespace qk {
namespace {

// Bit count of a word by the classic SWAR reduction (no builtin: the same code on every compiler).
inline uint32_t Popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<uint32_t>((x * 0x0101010101010101ull) >> 56);
}

}  // namespace

void qk_b1_xnor_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda,
                                          const uint64_t* w, int32_t* c, size_t ldc) {
  for (size_t j0 = 0; j0 < nc; j0 += kXnorNR) {
    const uint64_t* block = w + (j0 / kXnorNR) * kw * kXnorNR;
    const size_t lanes = nc - j0 < kXnorNR ? nc - j0 : kXnorNR;
    for (size_t i = 0; i < mr; ++i) {
      const uint64_t* row = a + i * lda;
      for (size_t l = 0; l < lanes; ++l) {
        uint32_t sum = 0;
        for (size_t k = 0; k < kw; ++k) sum += Popcount64(row[k] ^ block[k * kXnorNR + l]);
        c[i * ldc + j0 + l] = static_cast<int32_t>(sum);
      }
    }
  }
}

// The sign form: this kernel's sums, compared in a stack buffer (binary.h's XnorSignFromSums).
void qk_b1_xnor_sign_ukernel_4x8__scalar(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw,
                                         const uint64_t* w, int32_t threshold, size_t ldb) {
  XnorSignFromSums<qk_b1_xnor_gemm_ukernel_4x8__scalar>(tiles, tile, nc, kw, w, threshold, ldb);
}

}  // namespace qk
