// Quantized normalization operators: batch norm through the dispatched kernel, layer/group/instance norm with integer statistics.
#include "ops/norm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "ops/pool-norm-common.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

Status CheckQParams(double scale, int64_t zero_point, QDType dtype, const char* scale_name, const char* zp_name) {
  QK_RETURN_IF_ERROR(CheckScale(scale, ScaleRule::kPositiveFinite, "positive finite number", scale_name, [&] { return std::to_string(scale); }));
  const QRange range = QDTypeRange(dtype);
  if (zero_point < range.qmin || zero_point > range.qmax) {
    return Status::RangeError(Expected("integer in the dtype's range", zp_name, std::to_string(zero_point)));
  }
  return Status::Ok();
}

// Layer / group / instance norm: per group, integer statistics and PyTorch's float formula for
// mean, variance and the scale s (here, once per group), then the values through the dispatched
// normalize kernel (ukernels/pool-norm/pool-norm.h gives the per-element formula; every ISA gives
// the same bits). Its affine step is one fma, as PyTorch's AVX2 build contracts `u * gamma + beta`
// (GCC's default -ffp-contract=fast with -mfma); the oracle tests pin this choice.
// Group / instance norm channels at least this long go through a 256-entry table (256 values
// normalized, then one byte lookup per value) instead of normalizing every value.
constexpr size_t kLookupMinRun = 512;
// Groups shorter than this are summed here rather than by the dispatched stats kernel, whose
// vector loops need 16 values and whose call and setup cost more than summing a few.
constexpr size_t kInlineStatsMax = 16;
// Groups whose statistics are computed together before their values are normalized.
constexpr size_t kStatsChunk = 32;

// Byte i at index i: the 256 possible values of either 8-bit type, in the lookup's index order.
constexpr std::array<uint8_t, 256> kEveryByte = [] {
  std::array<uint8_t, 256> bytes{};
  for (size_t i = 0; i < 256; ++i) bytes[i] = static_cast<uint8_t>(i);
  return bytes;
}();

// The dispatched normalize_rows kernel for the element type (layer norm's runs of a chunk).
NormalizeRowsU8Fn* NormalizeRowsKernel(const DispatchTable& t, uint8_t) { return t.qu8_normalize_rows; }
NormalizeRowsS8Fn* NormalizeRowsKernel(const DispatchTable& t, int8_t) { return t.qs8_normalize_rows; }

// a.gamma and a.beta: both or neither (NormalizeOp::Prepare fills in the one missing).
template <typename T>
void RunNormalize(const NormalizeArgs& a, const T* x, T* y) {
  const DispatchTable& table = Dispatch();
  auto* stats = KernelsFor<T>::NormalizeStats(table);
  auto* normalize = KernelsFor<T>::Normalize(table);
  auto* normalize_rows = NormalizeRowsKernel(table, T());
  LookupX8Fn* lookup = table.x8_lut;
  NormalizeParams p;
  p.x_zero_point = static_cast<float>(a.x_zero_point);
  p.y_inv_scale = 1.0f / a.y_scale;
  p.y_zero_point = static_cast<float>(a.y_zero_point);
  p.qmin = static_cast<float>(std::numeric_limits<T>::min());
  p.qmax = static_cast<float>(std::numeric_limits<T>::max());
  p.mean_centred = 0.0f;  // per group: set for each run (or by normalize_rows)
  p.scale = 1.0f;
  static const float kOne = 1.0f, kZero = 0.0f;  // the affine step without weight / bias
  const size_t N = a.group_size;
  // Copies the per-group loop keeps in registers (through `a` and the captures it reread them
  // from memory after every store).
  const float x_scale = a.x_scale, x_zero_point = p.x_zero_point, n = static_cast<float>(N);
  const double eps = a.eps;
  // A group's statistics: its mean minus the input zero point, and its scale s.
  auto group_stats = [=](size_t g, float* mean_centred, float* scale) {
    const T* xg = x + g * N;
    int64_t sum = 0, sum_sq = 0;
    if (N < kInlineStatsMax) {
      // Integer sums, the same whoever adds them: a short group costs the kernel's call and
      // vector setup more than its few values (a layer norm over a last dim of 4, say). Local
      // accumulators: the kernel's out-parameters kept sum and sum_sq in memory.
      int64_t s = 0, s2 = 0;
      for (size_t i = 0; i < N; ++i) {
        s += xg[i];
        s2 += static_cast<int64_t>(xg[i]) * xg[i];
      }
      sum = s;
      sum_sq = s2;
    } else {
      stats(N, xg, &sum, &sum_sq);
    }
    const float mean = static_cast<float>(sum) / n;
    // GCC contracts torch's `sum_sq / N - mean * mean` into one fused negative multiply-add.
    const float var = std::max(std::fma(-mean, mean, static_cast<float>(sum_sq) / n), 0.0f);
    *scale = static_cast<float>(static_cast<double>(x_scale) /
                                std::sqrt(static_cast<double>(var * x_scale * x_scale) + eps));
    *mean_centred = mean - x_zero_point;
  };
  ParallelOverRange(a.groups, N * 4, [&](size_t begin, size_t end) {
    // The statistics of a chunk of groups first, then their values: each group's division and
    // square root is a long dependent chain, and between kernel calls one group's waited for the
    // previous one's; computed back to back they overlap (short groups were bound by them).
    float centred[kStatsChunk], scales[kStatsChunk];
    for (size_t chunk = begin; chunk < end; chunk += kStatsChunk) {
      const size_t stop = std::min(end, chunk + kStatsChunk);
      for (size_t g = chunk; g < stop; ++g) group_stats(g, &centred[g - chunk], &scales[g - chunk]);
      if (!a.per_channel) {
        // u = (x - x_zp - mean_centred) * s, then fma(u, gamma[i], beta[i]): the chunk's runs in
        // one call (short groups paid a call and the vector setup each).
        const bool affine = a.gamma != nullptr;  // NormalizeOp::Prepare gave both or neither
        normalize_rows(stop - chunk, N, x + chunk * N, centred, scales, affine ? a.gamma : &kOne, affine ? a.beta : &kZero,
                       affine ? 1 : 0, y + chunk * N, &p);
        continue;
      }
      for (size_t g = chunk; g < stop; ++g) {
        const T* xg = x + g * N;
        T* yg = y + g * N;
        // u = x - x_zp - mean_centred (scale 1: u * 1 is u), then fma(u, s * gamma[c], beta[c]).
        const float s = scales[g - chunk];
        NormalizeParams row = p;
        row.mean_centred = centred[g - chunk];
        row.scale = 1.0f;
        const size_t per_channel = N / a.channels_per_group;
        for (size_t k = 0; k < a.channels_per_group; ++k) {
          const size_t c = (g * a.channels_per_group + k) % a.num_channels;
          const float gamma_s = s * (a.gamma ? a.gamma[c] : 1.0f);
          const float beta = a.beta ? a.beta[c] : 0.0f;
          const T* xc = xg + k * per_channel;
          T* yc = yg + k * per_channel;
          if (per_channel >= kLookupMinRun) {
            // Within a channel the output depends on the byte alone: the kernel maps the 256 bytes
            // once (the same computation, so the same bits) and the channel is looked up.
            uint8_t mapped[256];
            normalize(256, reinterpret_cast<const T*>(kEveryByte.data()), &gamma_s, &beta, 0, reinterpret_cast<T*>(mapped), &row);
            lookup(per_channel, reinterpret_cast<const uint8_t*>(xc), mapped, reinterpret_cast<uint8_t*>(yc));
          } else {
            normalize(per_channel, xc, &gamma_s, &beta, 0, yc, &row);
          }
        }
      }
    }
  });
}

}  // namespace

void BatchNormFusedParams(const BatchNormArgs& args, float* alpha, float* beta) {
  for (size_t c = 0; c < args.channels; ++c) {
    const float inv_sigma =
        static_cast<float>(1.0 / static_cast<double>(std::sqrt(args.var[c] + static_cast<float>(args.eps))));
    const float weight = args.weight ? args.weight[c] : 1.0f;
    const float bias = args.bias ? args.bias[c] : 0.0f;
    alpha[c] = static_cast<float>(static_cast<double>(inv_sigma * weight) * (args.x_scale / args.y_scale));
    beta[c] = static_cast<float>(static_cast<double>(bias - args.mean[c] * inv_sigma * weight) / args.y_scale);
  }
}

Status BatchNormOp::Prepare(const BatchNormArgs& args, QDType dtype, std::shared_ptr<const BatchNormOp>* out) {
  QK_RETURN_IF_ERROR(CheckQParams(args.x_scale, args.x_zero_point, dtype, "input scale", "input zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(args.y_scale, args.y_zero_point, dtype, "scale", "zeroPoint"));
  if (args.params_len != args.channels || (args.channels > 0 && (args.mean == nullptr || args.var == nullptr))) {
    return Status::RangeError(Expected(std::to_string(args.channels) + " values (one per channel)",
                                       "runningMean and runningVar", std::to_string(args.params_len)));
  }
  if (!(args.eps >= 0) || !std::isfinite(args.eps)) {
    return Status::RangeError(Expected("non-negative finite number", "eps", std::to_string(args.eps)));
  }
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
  }
  const int64_t dims[3] = {static_cast<int64_t>(args.batch), static_cast<int64_t>(args.channels),
                           static_cast<int64_t>(args.spatial)};
  size_t numel = 0;
  if (!CheckedShapeProduct(dims, 3, &numel)) return Status::RangeError("Expected a shape that fits in memory for input");
  std::shared_ptr<BatchNormOp> op(new BatchNormOp());
  op->dtype_ = dtype;
  op->batch_ = args.batch;
  op->channels_ = args.channels;
  op->spatial_ = args.spatial;
  op->numel_ = numel;
  op->channels_last_input_ = args.channels_last_input;
  op->relu_ = args.relu;
  op->x_zero_point_ = args.x_zero_point;
  op->y_zero_point_ = args.y_zero_point;
  op->alpha_.resize(args.channels);
  op->beta_.resize(args.channels);
  BatchNormFusedParams(args, op->alpha_.data(), op->beta_.data());
  *out = std::move(op);
  return Status::Ok();
}

Status BatchNormOp::Run(const void* const* inputs, void* output, void* scratch) const {
  if (numel_ == 0) return Status::Ok();
  return WithInt8Type(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* xc = static_cast<const T*>(inputs[0]);
    if (!channels_last_input_) {
      T* staged = static_cast<T*>(scratch);
      TransposePlanes(xc, staged, batch_, channels_, spatial_);
      xc = staged;
    }
    BatchNormParams params;
    params.x_zero_point = x_zero_point_;
    params.y_zero_point = y_zero_point_;
    params.qmin = relu_ ? y_zero_point_ : static_cast<int32_t>(std::numeric_limits<T>::min());
    params.qmax = std::numeric_limits<T>::max();
    auto* kernel = KernelsFor<T>::BatchNorm(Dispatch());
    T* yc = static_cast<T*>(output);
    const size_t C = channels_;
    const float* alpha = alpha_.data();
    const float* beta = beta_.data();
    ParallelOverRange(batch_ * spatial_, C, [&](size_t begin, size_t end) {
      for (size_t p = begin; p < end; ++p) kernel(C, xc + p * C, alpha, beta, yc + p * C, &params);
    });
    return Status::Ok();
  });
}

Status NormalizeOp::Prepare(const NormalizeArgs& args, QDType dtype, std::shared_ptr<const NormalizeOp>* out) {
  QK_RETURN_IF_ERROR(CheckQParams(args.x_scale, args.x_zero_point, dtype, "input scale", "input zeroPoint"));
  QK_RETURN_IF_ERROR(CheckQParams(args.y_scale, args.y_zero_point, dtype, "scale", "zeroPoint"));
  if (!(args.eps >= 0) || !std::isfinite(args.eps)) {
    return Status::RangeError(Expected("non-negative finite number", "eps", std::to_string(args.eps)));
  }
  if (args.group_size == 0 && args.groups > 0) return Status::RangeError("Expected a non-empty normalized shape for input");
  size_t needed_affine = args.group_size;
  if (args.per_channel) {
    if (args.channels_per_group == 0 || args.num_channels == 0 || args.group_size % args.channels_per_group != 0 ||
        args.num_channels % args.channels_per_group != 0) {
      return Status::RangeError(Expected("channels divisible into groups", "numGroups",
                                         std::to_string(args.channels_per_group) + " channels per group"));
    }
    needed_affine = args.num_channels;
  }
  if ((args.gamma || args.beta) && args.affine_len != needed_affine) {
    return Status::RangeError(Expected(std::to_string(needed_affine) + " values", "weight and bias",
                                       std::to_string(args.affine_len)));
  }
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
  }
  size_t numel = 0;
  if (!CheckedMul(args.groups, args.group_size, &numel) || args.group_size > (size_t{1} << 40)) {
    return Status::RangeError("Expected a shape that fits in memory for input");
  }
  std::shared_ptr<NormalizeOp> op(new NormalizeOp());
  op->args_ = args;
  op->dtype_ = dtype;
  op->numel_ = numel;
  // With a weight but no bias, or a bias but no weight, the missing one is spelled out (1s or
  // 0s): the kernel reads both with one stride, and u * 1 + b, u * g + 0 are the values the
  // affine step gives without them.
  if (args.gamma || args.beta) {
    const size_t n = args.affine_len;
    if (args.gamma) op->gamma_.assign(args.gamma, args.gamma + n); else op->gamma_.assign(n, 1.0f);
    if (args.beta) op->beta_.assign(args.beta, args.beta + n); else op->beta_.assign(n, 0.0f);
    op->args_.gamma = op->gamma_.data();
    op->args_.beta = op->beta_.data();
  }
  *out = std::move(op);
  return Status::Ok();
}

Status NormalizeOp::Run(const void* const* inputs, void* output, void* /*scratch*/) const {
  if (numel_ == 0) return Status::Ok();
  return WithInt8Type(dtype_, [&](auto tag) {
    using T = decltype(tag);
    RunNormalize(args_, static_cast<const T*>(inputs[0]), static_cast<T*>(output));
    return Status::Ok();
  });
}

Status BatchNorm(const BatchNormArgs& args, QDType dtype, const void* x, size_t x_bytes, void* y, size_t y_bytes) {
  std::shared_ptr<const BatchNormOp> op;
  QK_RETURN_IF_ERROR(BatchNormOp::Prepare(args, dtype, &op));
  return RunOnBuffers(*op, x, x_bytes, y, y_bytes);
}

Status Normalize(const NormalizeArgs& args, QDType dtype, const void* x, size_t x_bytes, void* y, size_t y_bytes) {
  std::shared_ptr<const NormalizeOp> op;
  QK_RETURN_IF_ERROR(NormalizeOp::Prepare(args, dtype, &op));
  return RunOnBuffers(*op, x, x_bytes, y, y_bytes);
}

}  // namespace qk
