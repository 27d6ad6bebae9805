// qk_b1_xnor_gemm_ukernel_4x8__avx2: XNOR-popcount tile, 4 rows x 8 channels, popcount by the nibble table (vpshufb) and vpsadbw.
#include <immintrin.h>

#include "ukernels/ukernels.h"

namespace qk {
namespace {

// Per-byte bit counts of v: each nibble looked up in a 16-entry table (AVX2 has no popcount
// instruction for vectors); the two halves added give 0..8 per byte.
inline __m256i ByteCounts(__m256i v, __m256i table, __m256i low_nibbles) {
  const __m256i lo = _mm256_and_si256(v, low_nibbles);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
  return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

}  // namespace

void qk_b1_xnor_gemm_ukernel_4x8__avx2(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda,
                                        const uint64_t* w, int32_t* c, size_t ldc) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i zero = _mm256_setzero_si256();
  // Rows past mr read row 0 again (always valid) and are not stored.
  const uint64_t* rows[kXnorMR];
  for (size_t i = 0; i < kXnorMR; ++i) rows[i] = a + (i < mr ? i : 0) * lda;
  for (size_t j0 = 0; j0 < nc; j0 += kXnorNR) {
    const uint64_t* block = w + (j0 / kXnorNR) * kw * kXnorNR;
    __m256i acc[kXnorMR][2];
    for (size_t i = 0; i < kXnorMR; ++i) acc[i][0] = acc[i][1] = zero;
    for (size_t k = 0; k < kw; ++k) {
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + k * kXnorNR));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + k * kXnorNR + 4));
      for (size_t i = 0; i < kXnorMR; ++i) {
        const __m256i x = _mm256_set1_epi64x(static_cast<long long>(rows[i][k]));
        // vpsadbw against zero sums the 8 byte counts of each 64-bit lane.
        acc[i][0] = _mm256_add_epi64(acc[i][0], _mm256_sad_epu8(ByteCounts(_mm256_xor_si256(x, w0), table, low_nibbles), zero));
        acc[i][1] = _mm256_add_epi64(acc[i][1], _mm256_sad_epu8(ByteCounts(_mm256_xor_si256(x, w1), table, low_nibbles), zero));
      }
    }
    const size_t lanes = nc - j0 < kXnorNR ? nc - j0 : kXnorNR;
    for (size_t i = 0; i < mr; ++i) {
      alignas(32) uint64_t sums[kXnorNR];
      _mm256_store_si256(reinterpret_cast<__m256i*>(sums), acc[i][0]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(sums + 4), acc[i][1]);
      for (size_t l = 0; l < lanes; ++l) c[i * ldc + j0 + l] = static_cast<int32_t>(sums[l]);
    }
  }
}

// The sign form: this kernel's sums, compared in a stack buffer (binary.h's XnorSignFromSums).
void qk_b1_xnor_sign_ukernel_4x8__avx2(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw,
                                         const uint64_t* w, int32_t threshold, size_t ldb) {
  XnorSignFromSums<qk_b1_xnor_gemm_ukernel_4x8__avx2>(tiles, tile, nc, kw, w, threshold, ldb);
}

}  // namespace qk
