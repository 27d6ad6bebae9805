// Quantized resampling operators: nearest and bilinear, with PyTorch's fp32 index and weight arithmetic.
#include "ops/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/checked.h"
#include "base/expected.h"
#include "base/move-bytes.h"
#include "ops/pool-norm-common.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// The geometry's checks (sizes, scale factors, element counts, dtype); the element counts out.
Status CheckResample(const ResampleGeometry& g, QDType dtype, size_t* in, size_t* out) {
  int64_t in_dims[5] = {static_cast<int64_t>(g.batch), static_cast<int64_t>(g.channels), 0, 0, 0};
  int64_t out_dims[5] = {in_dims[0], in_dims[1], 0, 0, 0};
  for (int d = 0; d < 3; ++d) {
    if (g.input[d] == 0 || g.output[d] == 0) {
      return Status::RangeError(Expected("positive sizes", "input and size",
                                         std::to_string(g.input[d]) + " -> " + std::to_string(g.output[d])));
    }
    if (!(g.scale_factor[d] >= 0) || !std::isfinite(g.scale_factor[d])) {
      return Status::RangeError(Expected("positive finite number", "scaleFactor", std::to_string(g.scale_factor[d])));
    }
    in_dims[2 + d] = static_cast<int64_t>(g.input[d]);
    out_dims[2 + d] = static_cast<int64_t>(g.output[d]);
  }
  if (!CheckedShapeProduct(in_dims, 5, in) || !CheckedShapeProduct(out_dims, 5, out)) {
    return Status::RangeError("Expected a shape that fits in memory for input");
  }
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) {
    return Status::RangeError(Expected("quint8 or qint8", "input dtype", QDTypeName(dtype)));
  }
  return Status::Ok();
}

float LinearScale(int64_t in, int64_t out, bool align_corners, double scale_factor) {
  if (align_corners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  return scale_factor > 0 ? static_cast<float>(1.0 / scale_factor) : static_cast<float>(in) / static_cast<float>(out);
}

// `fused`: torch's NHWC kernel is built with FMA and GCC contracts scale * (o + 0.5) - 0.5 into one
// fused multiply-add; its NCHW kernel (a baseline x86-64 file) rounds the product first.
float LinearSource(float scale, int64_t o, bool align_corners, bool fused) {
  if (align_corners) return scale * static_cast<float>(o);
  const float half = static_cast<float>(o) + 0.5f;
  const float src = fused ? std::fma(scale, half, -0.5f) : scale * half - 0.5f;
  return src < 0 ? 0.0f : src;
}

using Tap = ResampleOp::Tap;

std::vector<Tap> LinearTaps(int64_t in, int64_t out, bool align_corners, double scale_factor, bool fused) {
  const float scale = LinearScale(in, out, align_corners, scale_factor);
  std::vector<Tap> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const float src = LinearSource(scale, o, align_corners, fused);
    const int64_t i = static_cast<int64_t>(src);
    const float l1 = src - static_cast<float>(i);
    taps[static_cast<size_t>(o)] = {i, i < in - 1 ? 1 : 0, l1, l1};
    taps[static_cast<size_t>(o)].l0 = 1.0f - l1;
  }
  return taps;
}

}  // namespace

int64_t NearestSourceIndex(int64_t o, int64_t in, int64_t out, double scale_factor) {
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  const float scale =
      scale_factor > 0 ? static_cast<float>(1.0 / scale_factor) : static_cast<float>(in) / static_cast<float>(out);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
}

Status ResampleOp::Prepare(ResampleMode mode, const ResampleGeometry& g, QDType dtype, PoolLayout layout,
                           bool align_corners, int32_t zero_point, std::shared_ptr<const ResampleOp>* out) {
  size_t x_count = 0, y_count = 0;
  QK_RETURN_IF_ERROR(CheckResample(g, dtype, &x_count, &y_count));
  if (mode == ResampleMode::kBilinear) {
    if (g.input[0] != 1 || g.output[0] != 1) return Status::RangeError("Expected a 4-D input for bilinear mode");
    QK_RETURN_IF_ERROR(CheckInputZeroPoint(zero_point, dtype));
  }
  std::shared_ptr<ResampleOp> op(new ResampleOp());
  op->mode_ = mode;
  op->g_ = g;
  op->dtype_ = dtype;
  op->layout_ = layout;
  op->zero_point_ = zero_point;
  op->x_bytes_ = x_count;  // one byte per element: quint8 / qint8
  op->y_bytes_ = y_count;
  // An empty output runs nothing: no tables (a 0-channel geometry may claim any output size;
  // a non-empty output bounds every output dim, so the tables are small).
  if (y_count > 0) {
    if (mode == ResampleMode::kNearest) {
      // The source index of every output coordinate along D, H and W, in one table.
      const size_t OD = g.output[0], OH = g.output[1], OW = g.output[2];
      op->source_.resize(OD + OH + OW);
      size_t* source[3] = {op->source_.data(), op->source_.data() + OD, op->source_.data() + OD + OH};
      for (int d = 0; d < 3; ++d) {
        for (size_t o = 0; o < g.output[d]; ++o) {
          source[d][o] = static_cast<size_t>(NearestSourceIndex(static_cast<int64_t>(o), static_cast<int64_t>(g.input[d]),
                                                                static_cast<int64_t>(g.output[d]), g.scale_factor[d]));
        }
      }
      // A doubling along W (source column ow / 2, as scaleFactor 2 gives) duplicates each byte.
      bool doubled = OW == 2 * g.input[2];
      for (size_t ow = 0; doubled && ow < OW; ++ow) doubled = source[2][ow] == ow / 2;
      op->doubled_ = doubled;
    } else if (g.input[1] == g.output[1] && g.input[2] == g.output[2]) {
      op->copy_ = true;
    } else {
      const bool last = layout == PoolLayout::kChannelsLast;
      op->rows_ = LinearTaps(static_cast<int64_t>(g.input[1]), static_cast<int64_t>(g.output[1]), align_corners,
                             g.scale_factor[1], last);
      op->cols_ = LinearTaps(static_cast<int64_t>(g.input[2]), static_cast<int64_t>(g.output[2]), align_corners,
                             g.scale_factor[2], last);
    }
  }
  *out = std::move(op);
  return Status::Ok();
}

Status ResampleOp::Run(const void* const* inputs, void* output, void* /*scratch*/) const {
  if (y_bytes_ == 0) return Status::Ok();  // nothing to write
  if (mode_ == ResampleMode::kNearest) {
    // 8-bit values are copied as bytes whatever their signedness.
    RunNearest(static_cast<const uint8_t*>(inputs[0]), static_cast<uint8_t*>(output));
    return Status::Ok();
  }
  if (copy_) {
    std::memcpy(output, inputs[0], y_bytes_);
    return Status::Ok();
  }
  return WithInt8Type(dtype_, [&](auto tag) {
    using T = decltype(tag);
    RunBilinear(static_cast<const T*>(inputs[0]), static_cast<T*>(output));
    return Status::Ok();
  });
}

void ResampleOp::RunNearest(const uint8_t* xb, uint8_t* yb) const {
  const ResampleGeometry& g = g_;
  const size_t OD = g.output[0], OH = g.output[1], OW = g.output[2];
  const size_t* source[3] = {source_.data(), source_.data() + OD, source_.data() + OD + OH};
  const size_t in_spatial = g.input[0] * g.input[1] * g.input[2];
  const size_t out_spatial = OD * OH * OW;
  const size_t in_row = g.input[2], in_plane = g.input[1] * g.input[2];
  const size_t C = g.channels;
  // An output row whose source row is the previous output row's (an upsample repeats each
  // source row) is a copy of that row, made within a task (rows [begin, end)).
  if (layout_ == PoolLayout::kChannelsLast) {
    // Tasks are output rows (n, od, oh): OW pixels of C bytes, each one source pixel's.
    const size_t row_bytes = OW * C;
    ParallelOverRange(g.batch * OD * OH, row_bytes, [&](size_t begin, size_t end) {
      const uint8_t* previous_src = nullptr;
      for (size_t r = begin; r < end; ++r) {
        const size_t n = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
        const uint8_t* src = xb + (n * in_spatial + source[0][od] * in_plane + source[1][oh] * in_row) * C;
        uint8_t* dst = yb + (n * out_spatial + (od * OH + oh) * OW) * C;
        if (src == previous_src) {
          std::memcpy(dst, dst - row_bytes, row_bytes);
        } else {
          for (size_t ow = 0; ow < OW; ++ow) MoveBytes(dst + ow * C, src + source[2][ow] * C, C);
        }
        previous_src = src;
      }
    });
    return;
  }
  // Contiguous: tasks are output rows (n, c, od, oh) of OW bytes gathered from one source row.
  // A doubling along W duplicates each byte (doubled_, found at Prepare).
  const size_t* cols = source[2];
  const bool doubled = doubled_;
  ParallelOverRange(g.batch * C * OD * OH, OW, [&](size_t begin, size_t end) {
    const uint8_t* previous_src = nullptr;
    for (size_t r = begin; r < end; ++r) {
      const size_t plane = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
      const uint8_t* src = xb + plane * in_spatial + source[0][od] * in_plane + source[1][oh] * in_row;
      uint8_t* dst = yb + plane * out_spatial + (od * OH + oh) * OW;
      if (src == previous_src) {
        std::memcpy(dst, dst - OW, OW);
      } else if (doubled) {
        // Two bytes per source byte in one 16-bit store (b * 0x0101 repeats the byte).
        for (size_t i = 0; i < in_row; ++i) {
          const uint16_t pair = static_cast<uint16_t>(src[i] * 0x0101u);
          std::memcpy(dst + 2 * i, &pair, 2);
        }
      } else {
        for (size_t ow = 0; ow < OW; ++ow) dst[ow] = src[cols[ow]];
      }
      previous_src = src;
    }
  });
}

template <typename T>
void ResampleOp::RunBilinear(const T* xt, T* yt) const {
  const ResampleGeometry& g = g_;
  const int64_t W = static_cast<int64_t>(g.input[2]);
  const size_t OH = g.output[1], OW = g.output[2], C = g.channels;
  const size_t in_plane = g.input[1] * g.input[2], out_plane = OH * OW;
  const std::vector<Tap>& rows = rows_;
  const std::vector<Tap>& cols = cols_;
  const float zp = static_cast<float>(zero_point_);
  const float qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  if (layout_ == PoolLayout::kChannelsLast) {
    // Channels last: the dispatched kernel does a pixel's channels (the weighted sum as GCC
    // contracted it in torch's NHWC kernel: its vector part for channels below C rounded down to
    // 8, its scalar tail for the rest; found value by value, test/resample-ops.test.ts pins it).
    auto* kernel = KernelsFor<T>::Bilinear(Dispatch());
    ParallelOverRange(g.batch * out_plane, C * 8, [&](size_t begin, size_t end) {
      BilinearParams params;
      params.zero_point = zp;
      params.qmin = qmin;
      params.qmax = qmax;
      params.vector_channels = C / 8 * 8;
      for (size_t p = begin; p < end; ++p) {
        const size_t n = p / out_plane, o = p % out_plane;
        const Tap& r = rows[o / OW];
        const Tap& c = cols[o % OW];
        const size_t ws = static_cast<size_t>(c.step) * C;
        const size_t hs = static_cast<size_t>(r.step) * static_cast<size_t>(W) * C;
        const T* q00 = xt + (n * in_plane + static_cast<size_t>(r.index * W + c.index)) * C;
        params.r0 = r.l0;
        params.r1 = r.l1;
        params.c0 = c.l0;
        params.c1 = c.l1;
        kernel(C, q00, q00 + ws, q00 + hs, q00 + hs + ws, yt + p * C, &params);
      }
    });
    return;
  }
  // Contiguous: torch's baseline-compiled NCHW kernel, whose products are rounded one by one.
  // Tasks are output rows (plane, oh), written left to right.
  ParallelOverRange(g.batch * C * OH, OW * 8, [&](size_t begin, size_t end) {
    for (size_t row = begin; row < end; ++row) {
      const size_t plane = row / OH;
      const Tap& r = rows[row % OH];
      const T* src = xt + plane * in_plane + static_cast<size_t>(r.index * W);
      const size_t hs = static_cast<size_t>(r.step) * static_cast<size_t>(W);  // a step down in the input
      T* out = yt + row * OW;
      for (size_t ow = 0; ow < OW; ++ow) {
        const Tap& c = cols[ow];
        const T* q = src + c.index;
        const size_t ws = static_cast<size_t>(c.step);
        const float q00 = static_cast<float>(q[0]), q01 = static_cast<float>(q[ws]);
        const float q10 = static_cast<float>(q[hs]), q11 = static_cast<float>(q[hs + ws]);
        const float t = r.l0 * (c.l0 * q00 + c.l1 * q01) + r.l1 * (c.l0 * q10 + c.l1 * q11) - zp;
        out[ow] = static_cast<T>(std::min(std::max(std::nearbyint(t) + zp, qmin), qmax));
      }
    }
  });
}

Status UpsampleNearest(const ResampleGeometry& g, QDType dtype, PoolLayout layout, const void* x, size_t x_bytes,
                       void* y, size_t y_bytes) {
  std::shared_ptr<const ResampleOp> op;
  QK_RETURN_IF_ERROR(ResampleOp::Prepare(ResampleMode::kNearest, g, dtype, layout, false, 0, &op));
  return RunOnBuffers(*op, x, x_bytes, y, y_bytes);
}

Status UpsampleBilinear(const ResampleGeometry& g, QDType dtype, PoolLayout layout, bool align_corners,
                        int32_t zero_point, const void* x, size_t x_bytes, void* y, size_t y_bytes) {
  std::shared_ptr<const ResampleOp> op;
  QK_RETURN_IF_ERROR(ResampleOp::Prepare(ResampleMode::kBilinear, g, dtype, layout, align_corners, zero_point, &op));
  return RunOnBuffers(*op, x, x_bytes, y, y_bytes);
}

}  // namespace qk
