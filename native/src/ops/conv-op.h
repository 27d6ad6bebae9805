// The prepared conv op (Conv, ConvReLU, ConvAdd, ConvAddReLU, ConvTranspose): one Prepare, one Run on buffers; the per-handle caches it draws on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "ops/conv.h"
#include "ops/op.h"
#include "ops/qgemm.h"
#include "ukernels/dispatch.h"

namespace qk {

// ConvAdd's per-group GEMMs over a ConvWeights' original weights, built on the first ConvAdd
// and kept for the next: rows [out/groups][(in/groups) * prod(kernel)], K order (c, kd, kh, kw),
// exactly the rows of PyTorch's weight layout. One per weight handle; thread-safe.
class ConvAddGemms {
 public:
  Status Get(const ConvWeights& weights, std::vector<std::shared_ptr<GemmWeights>>* out);

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<GemmWeights>> groups_;
};

// n * channels * prod(spatial[0..2]): a conv tensor's element count; false on overflow.
bool ConvTensorCount(size_t n, size_t channels, const size_t spatial[3], size_t* count);

// The integer conv's output stages (ConvOutputStage) of one ConvWeights, kept for the qparams
// recently run: making one costs a division or two per output channel, most of a small conv's
// ConvOp::Prepare, and an eager module runs the same qparams on every call. Keyed by value on
// everything the stage reads besides the weights (x_scale, x_zero_point, y_scale, y_zero_point,
// relu, engine) and on the weights' address; one cache per weight handle, which owns the weights
// for as long as the cache (so an address is never another weights'). A stage is immutable and
// shared: an op keeps its own reference, so evicting it never changes a prepared op. Bounded
// (kEntries, replaced in turn); thread-safe.
//
// It also keeps the prepared runs (PrepareConvRun) of the shapes recently run, so that an eager
// module's repeated call of one shape only runs, as a traced one does: keyed on the stage (held
// by the entry, so its address is never another stage's while the entry lives), the input's
// batch, spatial size and layout, the output's layout and the ISA level; a null run (a shape
// PrepareConvRun leaves to ConvU8) is kept too. Bounded (kRuns, replaced in turn).
class ConvStageCache {
 public:
  std::shared_ptr<const OutputStage> Get(const ConvWeights& weights, double x_scale, int32_t x_zero_point,
                                         double y_scale, int32_t y_zero_point, bool relu, QEngine engine);
  // PrepareConvRun's result for these arguments and `stage` (one of Get's), prepared on a miss.
  Status GetRun(const ConvWeights& weights, const std::shared_ptr<const OutputStage>& stage, size_t batch,
                const size_t in_spatial[3], ConvLayout layout, double x_scale, int32_t x_zero_point, double y_scale,
                int32_t y_zero_point, bool relu, QEngine engine, bool out_channels_last,
                std::shared_ptr<const ConvRun>* out);
  // ConvU8(weights, x, ..., y, engine, out_channels_last) with this cache's stage, through its
  // prepared run when the shape has one: the same bytes.
  Status Conv(const ConvWeights& weights, const uint8_t* x, size_t batch, const size_t in_spatial[3], ConvLayout layout,
              double x_scale, int32_t x_zero_point, double y_scale, int32_t y_zero_point, bool relu, uint8_t* y,
              QEngine engine, bool out_channels_last);

 private:
  static constexpr size_t kEntries = 8;
  static constexpr size_t kRuns = 4;
  struct RunEntry {
    const ConvWeights* weights = nullptr;  // null: an empty slot
    std::shared_ptr<const OutputStage> stage;
    size_t batch = 0, in_spatial[3] = {0, 0, 0};
    ConvLayout layout = ConvLayout::kContiguous;
    bool out_channels_last = false;
    Isa isa = Isa::kScalar;
    std::shared_ptr<const ConvRun> run;
  };
  RunEntry runs_[kRuns];
  size_t next_run_ = 0;
  struct Entry {
    const ConvWeights* weights = nullptr;  // null: an empty slot
    double x_scale = 0, y_scale = 0;
    int32_t x_zero_point = 0, y_zero_point = 0;
    bool relu = false;
    QEngine engine = QEngine::kFbgemm;
    std::shared_ptr<const OutputStage> stage;
  };
  std::mutex mutex_;
  Entry entries_[kEntries];
  size_t next_ = 0;  // the slot the next new stage replaces
};

struct ConvParams {
  size_t batch = 1;
  size_t in_spatial[3] = {1, 1, 1};      // 1 for unused dims
  ConvLayout layout = ConvLayout::kContiguous;  // the input's
  bool out_channels_last = false;        // the output's (and extra's) layout
  double x_scale = 1;                    // positive and finite once rounded to float32
  int32_t x_zero_point = 0;              // [0, 255]
  double y_scale = 1;
  int32_t y_zero_point = 0;
  bool relu = false;                     // ConvAdd: ReLU after the add
  QEngine engine = QEngine::kFbgemm;     // the output stage without add (ops/qgemm.h)
  bool add = false;                      // ConvAdd: inputs[1] is `extra`, shaped and laid out as y
  double extra_scale = 1;
  int32_t extra_zero_point = 0;
};

// Without add: ConvU8 (the engine's integer output stage). With add (not transposed):
// y = quantize(conv_fp32(x) + extra_scale * (extra - extra_zero_point)), ReLU after the add
// (oneDNN's sum post-op), where conv_fp32 is QGemmF32 over an im2col of a block of output
// pixels per group.
class ConvOp final : public Op {
 public:
  // add_gemms: the handle's ConvAdd GEMMs (needed when params.add; built here on first use).
  // stages: the handle's output stages, or null (the op then makes its own).
  static Status Prepare(std::shared_ptr<const ConvWeights> weights, ConvAddGemms* add_gemms, const ConvParams& params,
                        std::shared_ptr<const ConvOp>* out, ConvStageCache* stages = nullptr);

  const char* name() const override { return params_.add ? "conv_add" : "conv"; }
  OpKind kind() const override { return OpKind::kConv; }
  size_t input_count() const override { return params_.add ? 2 : 1; }
  size_t input_bytes(size_t i) const override { return i == 0 ? x_count_ : y_count_; }
  size_t output_bytes() const override { return y_count_; }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  const size_t* out_spatial() const { return out_spatial_; }
  // Whether Run takes the prepared integer conv (PrepareConvRun) at the level it was prepared at.
  bool prepared_run() const { return run_ != nullptr; }
  // inputs[0]: x; inputs[1]: extra (add only).
  Status Run(const void* const* inputs, void* output, void* scratch) const override;
  // Whether RunWithEpilogue may run this op: the integer conv (not ConvAdd, whose fp32 add
  // has its own numerics).
  bool accepts_epilogue() const { return !params_.add; }
  // Run's integer conv into y, with `epilogue` called on blocks of y as they are finished
  // (ConvU8's ConvEpilogue): y's values before the epilogue are exactly Run's.
  Status RunWithEpilogue(const void* x, void* y, const ConvEpilogue& epilogue) const;

 private:
  Status RunAdd(const uint8_t* x, const uint8_t* extra, uint8_t* y, void* scratch) const;

  std::shared_ptr<const ConvWeights> weights_;
  std::vector<std::shared_ptr<GemmWeights>> add_gemms_;
  ConvParams params_;
  // The integer conv's output stage (ConvOutputStage), made once or shared from the handle's cache.
  std::shared_ptr<const OutputStage> stage_;
  // The integer conv prepared for this shape (PrepareConvRun), or null: ConvU8 per run.
  std::shared_ptr<const ConvRun> run_;
  size_t out_spatial_[3] = {1, 1, 1};
  size_t x_count_ = 0, y_count_ = 0, scratch_bytes_ = 0;
};

}  // namespace qk
