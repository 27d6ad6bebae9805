// Convolution GEMM tiles run straight on uint8 rows (no A panel copy): the direct 1-D path over overlapping input windows and the tile loop the implicit GEMM shares.
//
// The uint8-A GEMM microkernels (GemmAFormat::kU8) read row i of A at a + i * a_stride, kpad
// bytes, and add w_zp[j] * row_terms[i] with row_terms[i] = k * a_zp - sum of the row's k
// bytes (ukernels/gemm/gemm.h). So a convolution may hand them any rows of k bytes it can
// address: for a 1-D convolution (groups 1, dilation 1) the K values (tap, channel) of output
// pixel p are the input bytes from (p * stride - pad) * C on, one window per pixel, windows
// overlapping (a_stride = stride * C < k). Bytes kpad - k past a row meet zero weights. The
// 1-D path also runs AVX2's exact 6x16c2 pack (A format int16) on int16 copies of the windows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "ops/qgemm.h"
#include "pack/gemm-pack.h"

namespace qk {

// The output stage of one GEMM (one phase and group), padded to whole column blocks: the
// microkernels load NR constants per block.
struct ConvGemmStage {
  const PackedGemm* pack = nullptr;
  std::vector<int32_t> bias_int;
  std::vector<float> bias_term, multiplier;
  float lo = 0, hi = 0, y_zero_point_f = 0;
  int32_t y_zero_point = 0, a_zero_point = 0;
  // False when every weight zero point of the GEMM is 0: the kernels add w_zp[j] * row_terms[i],
  // so the row terms may then be left 0 (symmetric weights, PyTorch's usual) at no cost to exactness.
  bool row_terms = true;
};

// The pack `weights` runs at the active ISA when its kernels read uint8 rows and are exact for
// any activations (a kPairProof pack with unsafe pairs is replaced by its exact twin, which gives
// the same results); null when that pack reads another A format (the caller packs A itself).
const PackedGemm* DirectGemmPack(const GemmWeights& weights);

// Fills stage for output channels [0, n) of the GEMM: per column the engine's constants
// (OutputStageFor's, already computed by the caller), y_min..255 as lo/hi offsets, and the
// columns' weight zero points (whether row terms are needed).
void PrepareGemmStage(const PackedGemm& pack, const int32_t* bias_int, const float* bias_term, const float* multiplier,
                      const int32_t* w_zero_points, float lo, float hi, float y_zero_point_f, int32_t y_zero_point,
                      int32_t a_zero_point, ConvGemmStage* stage);

// y[i][0..n) for rows i < m: row i of A at a + i * a_stride (kpad readable bytes), row_terms[i];
// only the columns of blocks [first_block, end_block) (NR columns each) when a caller splits the
// columns over tasks. Each element comes from the same kernel call whatever the split.
void RunGemmTiles(const ConvGemmStage& stage, size_t m, const uint8_t* a, size_t a_stride, const int32_t* row_terms,
                  uint8_t* y, size_t ldy, size_t first_block = 0, size_t end_block = SIZE_MAX);

// The indirect form of RunGemmTiles (the stage's layout must have an igemm_kernel): row i of A
// is segments runs of segment_bytes bytes, run s at a[i * segments + s] (IgemmU8Fn).
void RunIgemmTiles(const ConvGemmStage& stage, size_t m, const uint8_t* const* a, size_t segments,
                   size_t segment_bytes, const int32_t* row_terms, uint8_t* y, size_t ldy);

// The strided form (the stage's layout must have an igemm_strided_kernel): row i's run s at
// a[s] + i * a_stride (IgemmStridedU8Fn), for m rows ldy apart.
void RunIgemmStridedTiles(const ConvGemmStage& stage, size_t m, const uint8_t* const* a, size_t a_stride,
                          size_t segments, size_t segment_bytes, const int32_t* row_terms, uint8_t* y, size_t ldy);

// k * a_zp - sum of the k bytes at row (int32, wrapping): the row term of a uint8 A row.
int32_t GemmRowTerm(const uint8_t* row, size_t k, int32_t a_zero_point);

// A 1-D convolution (groups 1, dilation 1, channels_last) through stage's pack, whose A format is
// uint8 or int16 (kS16, AVX2's exact 6x16c2: each task widens the input pixels its windows read):
// x [batch][in_w][channels], y [batch][out_image][out_channels]. Output o's window starts at input
// pixel o * stride - pad (pad < 0: output 0's window starts inside the input, as a transposed
// conv's phase's may under a large padding) and goes to output pixel out_first + o * out_step. map(p) is the
// input coordinate the padded coordinate p reads under the padding mode, -1 for zero padding; it
// is called for the edge outputs only. Outputs whose window lies inside the input (and kpad bytes
// from its start stay inside the image) read x directly; the others are gathered into a panel.
struct Conv1dDirectShape {
  size_t batch, in_w, out_w, channels, out_channels, taps, stride;
  long pad;
  size_t out_image, out_first = 0, out_step = 1;
  std::function<long(long)> map;
};
// One GEMM of RunConv1dDirect: an ordinary convolution is one pass; a transposed one is a pass per
// stride phase (each an ordinary convolution of stride 1, its taps in reverse, conv.cc).
struct Conv1dDirectPass {
  ConvGemmStage stage;
  // The gathered edge rows' stage when it differs from stage's (their rows may hold x_zp, which
  // AVX2's 4x16c4 proof must cover too); else edge.pack is null.
  ConvGemmStage edge;
  Conv1dDirectShape shape;
};
// Runs the passes (same batch, in_w and channels) with one split over the threads: tasks of up
// to 256 outputs of one pass and image, so that a transposed conv's phases share the threads.
void RunConv1dDirect(const std::vector<Conv1dDirectPass>& passes, const uint8_t* x, int32_t x_zero_point, uint8_t* y);

}  // namespace qk
