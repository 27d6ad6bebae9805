// GEMM weight packing and A panels: the layouts of every GEMM microkernel (see doc/gemm.md).
//
// Packed weights (one PackedGemm per ISA level) are ceil(n / NR) column blocks, each
// block_bytes long and 64-byte aligned, block b covering columns [b*NR, b*NR + NR):
//   int32 colsum[NR]          sum over k of the packed weight elements of the column
//   int32 w_zp[NR]            the column's weight zero point
//   T     w[kpad / KR][NR][KR]  T = int8 (kS8) or int16 (kS16); element (g, j, r) is
//                               w[b*NR + j][g*KR + r], 0 where that is past k or n
// kpad = k rounded up to KR. The A panel of a call holds rows of kpad elements (uint8 a,
// int16 a, or int8 a - 128 by the kernel's A format; 0 past k — for kS8Flip the padding is
// also 0, and the padded weights are 0 so it adds nothing), and row_terms[i] =
// k * a_zp - sum_k a[i][k] (int32, wrapping). The kernel adds a_offset * colsum[j] +
// w_zp[j] * row_terms[i] with a_offset = -a_zp (128 - a_zp for kS8Flip, whose raw sums
// lack 128 * colsum[j]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/isa.h"
#include "base/status.h"
#include "ukernels/ukernels.h"

namespace qk {

struct GemmLayout {
  Isa isa = Isa::kScalar;
  size_t mr = 1, nr = 1, kr = 1;
  GemmAFormat a_format = GemmAFormat::kU8;
  GemmWFormat w_format = GemmWFormat::kS8;
  GemmExactness exactness = GemmExactness::kAlways;
  GemmU8Fn* u8_kernel = nullptr;
  GemmF32Fn* f32_kernel = nullptr;
  const char* u8_name = "";
  const char* f32_name = "";
  // The indirect GEMM kernel reading this layout's packs (QK_IGEMM_LAYOUT), null when it has none.
  IgemmU8Fn* igemm_kernel = nullptr;
  const char* igemm_name = "";
  // Its strided indirect kernel (QK_IGEMM_STRIDED_LAYOUT), null when it has none.
  IgemmStridedU8Fn* igemm_strided_kernel = nullptr;
  const char* igemm_strided_name = "";
};

// The layout of the kernels dispatch uses at `isa` (which the CPU must run). False when the
// dispatched kernel has no QK_GEMM_LAYOUT line (a registry mistake).
bool GemmLayoutForIsa(Isa isa, GemmLayout* out);
// Every QK_GEMM_LAYOUT line of this architecture (tests and benchmarks force each in turn).
size_t GemmLayoutCount();
const GemmLayout& GemmLayoutAt(size_t index);

size_t RoundUp(size_t x, size_t multiple);
inline size_t GemmAElementBytes(GemmAFormat f) { return f == GemmAFormat::kS16 ? 2 : 1; }
inline size_t GemmWElementBytes(GemmWFormat f) { return f == GemmWFormat::kS16 ? 2 : 1; }

class PackedGemm {
 public:
  const GemmLayout& layout() const { return layout_; }
  size_t n() const { return n_; }
  size_t k() const { return k_; }
  size_t kpad() const { return kpad_; }
  size_t blocks() const { return blocks_; }
  const void* block(size_t b) const { return base_ + b * block_bytes_; }
  // Bytes of one A panel row (kpad elements, rounded to 64 bytes).
  size_t a_row_bytes() const { return a_row_bytes_; }

  // kPairProof layouts: true when every weight pair (w[j][2t], w[j][2t+1]) has |w0| + |w1| <= 128,
  // so that 255 * (|w0| + |w1|) fits int16 and the kernel is exact for any activations.
  bool pairs_safe() const { return pairs_safe_; }
  // kPairProof layouts whose pairs are not safe: the same weights packed for the kAlways layout
  // of the same isa, run when the activations of a call are not all <= 127. Null otherwise.
  const PackedGemm* exact_twin() const { return exact_twin_.get(); }

  // Packs w ([n][k] int8) and w_zero_points (n values) for `layout`. Fails only on size overflow.
  static Status Create(const GemmLayout& layout, size_t n, size_t k, const int8_t* w, const int32_t* w_zero_points,
                       std::shared_ptr<const PackedGemm>* out);

 private:
  GemmLayout layout_;
  size_t n_ = 0, k_ = 0, kpad_ = 0, blocks_ = 0, block_bytes_ = 0, a_row_bytes_ = 0;
  bool pairs_safe_ = true;
  std::shared_ptr<const PackedGemm> exact_twin_;
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t* base_ = nullptr;
};

// The pack whose kernels a call runs: `packed` itself unless it is a kPairProof pack without a
// proof for this call (pairs not safe and some a[i][k] > 127), then its exact twin. Deterministic:
// the choice depends only on the weights and this call's activations; both give identical results.
const PackedGemm& GemmPackForCall(const PackedGemm& packed, size_t m, const uint8_t* a, size_t lda);

// True when every a[i][kk] (i < m, kk < k; rows lda bytes apart) is <= 127: the activation proof
// of a kPairProof kernel.
bool ActivationsAre7Bit(size_t m, size_t k, const uint8_t* a, size_t lda);

// Writes rows [0, rows) of a (row i at a + i * lda) into the panel (row i at panel + i *
// packed.a_row_bytes()) in the kernel's A format, and row_terms[i] = k * a_zp - sum_k a[i][k].
void PackGemmA(const PackedGemm& packed, size_t rows, const uint8_t* a, size_t lda, int32_t a_zero_point,
               uint8_t* panel, int32_t* row_terms);

}  // namespace qk
