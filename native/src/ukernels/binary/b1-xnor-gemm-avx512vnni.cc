// qk_b1_xnor_gemm_ukernel_4x8__avx512vnni / __avx512vpopcntdq: XNOR-popcount tile, 4 rows x 8 channels in one zmm per row (16 at a time).
//
// Two kernels: VPOPCNTQ where the CPU has AVX512_VPOPCNTDQ (Ice Lake, Zen 4), else the
// AVX2 method (nibble table + vpsadbw) on zmm, which AVX512BW provides. The VPOPCNTDQ one
// is compiled for that extension alone through a target attribute, so this file keeps the
// avx512vnni level's flags; ops/binary.cc calls it only when the CPU reports the bit.
#include <immintrin.h>

#include "ukernels/ukernels.h"

// flatten: the tile loop and the count are inlined into the VPOPCNTDQ function, so they are
// compiled for its target (a plain call would leave VPOPCNTQ in a function of its own, per vector).
#if defined(__GNUC__) || defined(__clang__)
#define QK_TARGET_VPOPCNTDQ __attribute__((target("avx512vpopcntdq"), flatten))
#define QK_TARGET_VPOPCNTDQ_LAMBDA __attribute__((target("avx512vpopcntdq")))
#else
#define QK_TARGET_VPOPCNTDQ
#define QK_TARGET_VPOPCNTDQ_LAMBDA
#endif

namespace qk {
namespace {

// Stores the first `lanes` 64-bit sums of acc as int32 at c.
inline void StoreSums(__m512i acc, size_t lanes, int32_t* c) {
  alignas(64) uint64_t sums[kXnorNR];
  _mm512_storeu_si512(sums, acc);
  for (size_t l = 0; l < lanes; ++l) c[l] = static_cast<int32_t>(sums[l]);
}

// Sums popcount(row_i XOR w) per lane over k for kXnorMR rows, Count giving per-lane 64-bit bit
// counts of one vector; stores the sums of the first mr rows and nc channels. Two channel blocks
// go through the k loop together while at least 9 channels remain, so each broadcast row word
// serves 16 channels (fewer loads and broadcasts per popcount).
template <typename Count>
inline void XnorTiles(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda, const uint64_t* w,
                      int32_t* c, size_t ldc, Count count) {
  const uint64_t* rows[kXnorMR];
  for (size_t i = 0; i < kXnorMR; ++i) rows[i] = a + (i < mr ? i : 0) * lda;  // rows past mr: not stored
  size_t j0 = 0;
  for (; j0 + kXnorNR < nc; j0 += 2 * kXnorNR) {
    const uint64_t* block0 = w + (j0 / kXnorNR) * kw * kXnorNR;
    const uint64_t* block1 = block0 + kw * kXnorNR;
    __m512i acc0[kXnorMR], acc1[kXnorMR];
    for (size_t i = 0; i < kXnorMR; ++i) acc0[i] = acc1[i] = _mm512_setzero_si512();
    for (size_t k = 0; k < kw; ++k) {
      const __m512i w0 = _mm512_loadu_si512(block0 + k * kXnorNR);
      const __m512i w1 = _mm512_loadu_si512(block1 + k * kXnorNR);
      for (size_t i = 0; i < kXnorMR; ++i) {
        const __m512i x = _mm512_set1_epi64(static_cast<long long>(rows[i][k]));
        acc0[i] = _mm512_add_epi64(acc0[i], count(_mm512_xor_si512(x, w0)));
        acc1[i] = _mm512_add_epi64(acc1[i], count(_mm512_xor_si512(x, w1)));
      }
    }
    const size_t lanes1 = nc - j0 - kXnorNR < kXnorNR ? nc - j0 - kXnorNR : kXnorNR;
    for (size_t i = 0; i < mr; ++i) {
      StoreSums(acc0[i], kXnorNR, c + i * ldc + j0);
      StoreSums(acc1[i], lanes1, c + i * ldc + j0 + kXnorNR);
    }
  }
  if (j0 < nc) {  // a last block of 1..8 channels
    const uint64_t* block = w + (j0 / kXnorNR) * kw * kXnorNR;
    __m512i acc[kXnorMR];
    for (size_t i = 0; i < kXnorMR; ++i) acc[i] = _mm512_setzero_si512();
    for (size_t k = 0; k < kw; ++k) {
      const __m512i wk = _mm512_loadu_si512(block + k * kXnorNR);
      for (size_t i = 0; i < kXnorMR; ++i) {
        const __m512i x = _mm512_xor_si512(_mm512_set1_epi64(static_cast<long long>(rows[i][k])), wk);
        acc[i] = _mm512_add_epi64(acc[i], count(x));
      }
    }
    for (size_t i = 0; i < mr; ++i) StoreSums(acc[i], nc - j0, c + i * ldc + j0);
  }
}

}  // namespace

void qk_b1_xnor_gemm_ukernel_4x8__avx512vnni(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda,
                                              const uint64_t* w, int32_t* c, size_t ldc) {
  const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  const __m512i zero = _mm512_setzero_si512();
  XnorTiles(mr, nc, kw, a, lda, w, c, ldc, [&](__m512i x) {
    const __m512i lo = _mm512_and_si512(x, low_nibbles);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), low_nibbles);
    const __m512i bytes = _mm512_add_epi8(_mm512_shuffle_epi8(table, lo), _mm512_shuffle_epi8(table, hi));
    return _mm512_sad_epu8(bytes, zero);
  });
}

QK_TARGET_VPOPCNTDQ void qk_b1_xnor_gemm_ukernel_4x8__avx512vpopcntdq(size_t mr, size_t nc, size_t kw,
    const uint64_t* a, size_t lda, const uint64_t* w, int32_t* c, size_t ldc) {
  XnorTiles(mr, nc, kw, a, lda, w, c, ldc, [](__m512i x) QK_TARGET_VPOPCNTDQ_LAMBDA { return _mm512_popcnt_epi64(x); });
}

}  // namespace qk
