// qk_b1_xnor_{gemm,sign}_ukernel_4x8__avx512vnni / __avx512vpopcntdq: XNOR-popcount tiles, 4 rows x up to 4 blocks of 8 channels (one zmm each).
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

// One pass over k for the 4 rows against NB consecutive channel blocks (w: the first block's
// words), 4 x NB accumulators of 64-bit lanes; store(i, b, acc) receives each row's sums.
// Each broadcast row word serves NB blocks and each weight vector 4 rows, so per
// XOR + count + add there is well under one load or broadcast: the three vector operations
// are the whole cost (Zen 4: 1.5 cycles per 512 bit-products, doc/binary.md).
template <size_t NB, typename Count, typename Store>
inline void XnorPass(const uint64_t* const rows[kXnorMR], size_t kw, const uint64_t* w, Count count, Store store) {
  __m512i acc[kXnorMR][NB];
  size_t k = 0;
  if (kw == 0) {
    for (size_t i = 0; i < kXnorMR; ++i)
      for (size_t b = 0; b < NB; ++b) acc[i][b] = _mm512_setzero_si512();
  } else {
    // Word 0 starts the sums (no zeroing moves and adds): a pass of 12-36 words runs 2-3%
    // faster than with zeroed accumulators (16 register moves and adds in ~200-600 XOR steps).
    for (size_t b = 0; b < NB; ++b) {
      const __m512i wk = _mm512_loadu_si512(w + b * kw * kXnorNR);
      for (size_t i = 0; i < kXnorMR; ++i) acc[i][b] = count(_mm512_xor_si512(_mm512_set1_epi64(static_cast<long long>(rows[i][0])), wk));
    }
    k = 1;
  }
  for (; k < kw; ++k) {
    __m512i wk[NB];
    for (size_t b = 0; b < NB; ++b) wk[b] = _mm512_loadu_si512(w + (b * kw + k) * kXnorNR);
    for (size_t i = 0; i < kXnorMR; ++i) {
      const __m512i x = _mm512_set1_epi64(static_cast<long long>(rows[i][k]));
      for (size_t b = 0; b < NB; ++b) acc[i][b] = _mm512_add_epi64(acc[i][b], count(_mm512_xor_si512(x, wk[b])));
    }
  }
  for (size_t i = 0; i < kXnorMR; ++i)
    for (size_t b = 0; b < NB; ++b) store(i, b, acc[i][b]);
}

// All channel blocks of nc, NBMax at a time, the last 1..NBMax-1 in one narrower pass;
// store(i, j, acc) gets row i's sums of channels j..j+7 for rows below mr only.
template <size_t NBMax, typename Count, typename Store>
inline void XnorTiles(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda, const uint64_t* w,
                      Count count, Store store) {
  static_assert(NBMax == 2 || NBMax == 4, "passes of 2 or 4 blocks");
  const uint64_t* rows[kXnorMR];
  for (size_t i = 0; i < kXnorMR; ++i) rows[i] = a + (i < mr ? i : 0) * lda;  // rows past mr: not stored
  const size_t blocks = (nc + kXnorNR - 1) / kXnorNR;
  size_t b0 = 0;
  auto pass_store = [&](size_t first) {
    return [&store, mr, first](size_t i, size_t b, __m512i acc) {
      if (i < mr) store(i, (first + b) * kXnorNR, acc);
    };
  };
  for (; b0 + NBMax <= blocks; b0 += NBMax) XnorPass<NBMax>(rows, kw, w + b0 * kw * kXnorNR, count, pass_store(b0));
  const uint64_t* rest = w + b0 * kw * kXnorNR;
  switch (blocks - b0) {
    case 3: XnorPass<3>(rows, kw, rest, count, pass_store(b0)); break;
    case 2: XnorPass<2>(rows, kw, rest, count, pass_store(b0)); break;
    case 1: XnorPass<1>(rows, kw, rest, count, pass_store(b0)); break;
    default: break;
  }
}

// The sign kernels' order: per pass of NB blocks (a slice of NB * 8 channels, NB * kw * 64
// bytes of weights that stay in L1), every tile, each row's NB bytes compared straight from the
// accumulators. All in one call: a call per 4-row tile cost about 60 cycles beyond its loop.
template <size_t NB, typename Count>
inline void XnorSignSlice(size_t tiles, const XnorSignTile* tile, size_t kw, const uint64_t* w, __m512i limit,
                          size_t ldb, size_t byte0, Count count) {
  for (size_t t = 0; t < tiles; ++t) {
    const size_t mr = tile[t].mr, lda = tile[t].lda;
    const uint64_t* rows[kXnorMR];
    for (size_t i = 0; i < kXnorMR; ++i) rows[i] = tile[t].a + (i < mr ? i * lda : 0);  // rows past mr: not stored
    uint8_t* bits = tile[t].bits + byte0;
    XnorPass<NB>(rows, kw, w, count, [=](size_t i, size_t b, __m512i acc) {
      if (i < mr) bits[i * ldb + b] = static_cast<uint8_t>(_mm512_cmpgt_epi64_mask(acc, limit));
    });
  }
}

template <size_t NBMax, typename Count>
inline void XnorSignTiles(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw, const uint64_t* w,
                          int32_t threshold, size_t ldb, Count count) {
  static_assert(NBMax == 2 || NBMax == 4, "passes of 2 or 4 blocks");
  const __m512i limit = _mm512_set1_epi64(threshold);
  const size_t blocks = nc / kXnorNR;
  size_t b0 = 0;
  for (; b0 + NBMax <= blocks; b0 += NBMax)
    XnorSignSlice<NBMax>(tiles, tile, kw, w + b0 * kw * kXnorNR, limit, ldb, b0, count);
  const uint64_t* rest = w + b0 * kw * kXnorNR;
  switch (blocks - b0) {
    case 3: XnorSignSlice<3>(tiles, tile, kw, rest, limit, ldb, b0, count); break;
    case 2: XnorSignSlice<2>(tiles, tile, kw, rest, limit, ldb, b0, count); break;
    case 1: XnorSignSlice<1>(tiles, tile, kw, rest, limit, ldb, b0, count); break;
    default: break;
  }
}

// The sums as int32 (they are below 2^26) of the channels below nc.
inline auto StoreSums(size_t nc, int32_t* c, size_t ldc) {
  return [=](size_t i, size_t j, __m512i acc) {
    const size_t lanes = nc - j < kXnorNR ? nc - j : kXnorNR;
    _mm256_mask_storeu_epi32(c + i * ldc + j, static_cast<__mmask8>((1u << lanes) - 1), _mm512_cvtepi64_epi32(acc));
  };
}

// The AVX2 method on zmm: per-byte counts from the nibble table, vpsadbw adds the 8 bytes of a lane.
struct NibbleCount {
  __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  __m512i operator()(__m512i x) const {
    const __m512i lo = _mm512_and_si512(x, low_nibbles);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), low_nibbles);
    const __m512i bytes = _mm512_add_epi8(_mm512_shuffle_epi8(table, lo), _mm512_shuffle_epi8(table, hi));
    return _mm512_sad_epu8(bytes, _mm512_setzero_si512());
  }
};

}  // namespace

// The nibble method needs more registers per count: passes of 2 blocks (8 accumulators).
void qk_b1_xnor_gemm_ukernel_4x8__avx512vnni(size_t mr, size_t nc, size_t kw, const uint64_t* a, size_t lda,
                                              const uint64_t* w, int32_t* c, size_t ldc) {
  XnorTiles<2>(mr, nc, kw, a, lda, w, NibbleCount(), StoreSums(nc, c, ldc));
}

void qk_b1_xnor_sign_ukernel_4x8__avx512vnni(size_t tiles, const XnorSignTile* tile, size_t nc, size_t kw,
                                              const uint64_t* w, int32_t threshold, size_t ldb) {
  XnorSignTiles<2>(tiles, tile, nc, kw, w, threshold, ldb, NibbleCount());
}

QK_TARGET_VPOPCNTDQ void qk_b1_xnor_gemm_ukernel_4x8__avx512vpopcntdq(size_t mr, size_t nc, size_t kw,
    const uint64_t* a, size_t lda, const uint64_t* w, int32_t* c, size_t ldc) {
  XnorTiles<4>(mr, nc, kw, a, lda, w, [](__m512i x) QK_TARGET_VPOPCNTDQ_LAMBDA { return _mm512_popcnt_epi64(x); },
               StoreSums(nc, c, ldc));
}

QK_TARGET_VPOPCNTDQ void qk_b1_xnor_sign_ukernel_4x8__avx512vpopcntdq(size_t tiles, const XnorSignTile* tile,
    size_t nc, size_t kw, const uint64_t* w, int32_t threshold, size_t ldb) {
  XnorSignTiles<4>(tiles, tile, nc, kw, w, threshold, ldb,
                   [](__m512i x) QK_TARGET_VPOPCNTDQ_LAMBDA { return _mm512_popcnt_epi64(x); });
}

}  // namespace qk
