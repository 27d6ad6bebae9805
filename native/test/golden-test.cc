// PyTorch's own answers (golden-torch.inc, from gen-golden.py) checked against the reference and the operators.
//
// The kernel and operator tests compare with native/reference; these cases
// close the loop by checking the reference, and the operators at the ISA level
// of the run, against values PyTorch 1.13 computed: NaN/Inf/huge inputs,
// half-way cases, extreme zero points, the qint32 and float-qparams quirks, and
// quantize_per_tensor_dynamic's choice of scale and zero point.
#include <cstring>
#include <string>

#include "harness.h"
#include "ops/quantize.h"
#include "reference/quantize-ref.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kGoldenMax = 64;

struct GoldenPerTensor {
  QDType dtype;
  double scale;
  int64_t zero_point;
  int64_t q[kGoldenMax];
  uint32_t dequantized[kGoldenMax];
};

struct GoldenPerChannel {
  QDType dtype;
  double scales[3];
  int64_t zero_points[3];
  int64_t q[kGoldenMax];
  uint32_t dequantized[kGoldenMax];
};

struct GoldenFloatQParams {
  QDType dtype;
  uint32_t scale_bits[3];
  uint32_t zero_point_bits[3];
  int64_t q[kGoldenMax];
  uint32_t dequantized[kGoldenMax];
};

struct GoldenChooseQParams {
  uint32_t min_bits, max_bits;
  QDType dtype;
  bool reduce_range;
  double scale;
  int64_t zero_point;
};

#include "golden-torch.inc"

std::vector<float> GoldenInputs(size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = FloatFromBits(kGoldenInputBits[i]);
  return x;
}

size_t Bytes(QDType dtype, size_t n) {
  size_t bytes = 0;
  QDTypeStorageBytes(dtype, n, &bytes);
  return bytes;
}

// Compares quantized storage with PyTorch's integers; names the first difference.
bool CheckQuantized(Context& ctx, const std::string& what, QDType dtype, const void* got, const int64_t* expected,
                    const std::vector<float>& x) {
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t g = LoadQuantizedRef(got, dtype, i);
    if (g != expected[i]) {
      ctx.Fail(what + ": index " + std::to_string(i) + ", input " + DescribeFloat(x[i]) + ", PyTorch " +
               std::to_string(expected[i]) + ", got " + std::to_string(g));
      return false;
    }
  }
  return true;
}

bool CheckDequantized(Context& ctx, const std::string& what, const std::vector<float>& got, const uint32_t* expected,
                      const int64_t* q) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (BitsOfFloat(got[i]) != expected[i]) {
      ctx.Fail(what + ": index " + std::to_string(i) + ", q " + std::to_string(q[i]) + ", PyTorch " +
               DescribeFloat(FloatFromBits(expected[i])) + ", got " + DescribeFloat(got[i]));
      return false;
    }
  }
  return true;
}

std::vector<uint8_t> Pack(QDType dtype, const int64_t* q, size_t n) {
  std::vector<uint8_t> storage(Bytes(dtype, n) + 1, 0);
  for (size_t i = 0; i < n; ++i) StoreQuantizedRef(storage.data(), dtype, i, q[i]);
  return storage;
}

QK_TEST(kIsa, "golden/quantize-per-tensor") {
  if (!RequireIsaLevel(ctx)) return;
  const std::vector<float> x = GoldenInputs(kGoldenCount);
  for (const GoldenPerTensor& g : kGoldenPerTensor) {
    const std::string what = std::string(QDTypeName(g.dtype)) + " scale=" + DescribeDouble(g.scale) +
                             " zero_point=" + std::to_string(g.zero_point);
    std::vector<uint8_t> ref(Bytes(g.dtype, x.size()) + 1), op(Bytes(g.dtype, x.size()) + 1);
    QuantizePerTensorRef(x.data(), x.size(), g.scale, g.zero_point, g.dtype, ref.data());
    if (!CheckQuantized(ctx, "reference " + what, g.dtype, ref.data(), g.q, x)) continue;
    const Status s = QuantizePerTensor(x.data(), x.size(), g.scale, g.zero_point, g.dtype, op.data(), op.size());
    if (!ctx.Check(s.ok(), what + ": " + s.message())) continue;
    CheckQuantized(ctx, "QuantizePerTensor " + what, g.dtype, op.data(), g.q, x);
  }
}

QK_TEST(kIsa, "golden/dequantize-per-tensor") {
  if (!RequireIsaLevel(ctx)) return;
  for (const GoldenPerTensor& g : kGoldenPerTensor) {
    const std::string what = std::string(QDTypeName(g.dtype)) + " scale=" + DescribeDouble(g.scale) +
                             " zero_point=" + std::to_string(g.zero_point);
    const std::vector<uint8_t> q = Pack(g.dtype, g.q, kGoldenCount);
    std::vector<float> ref(kGoldenCount), op(kGoldenCount);
    DequantizePerTensorRef(q.data(), g.dtype, kGoldenCount, g.scale, g.zero_point, ref.data());
    if (!CheckDequantized(ctx, "reference " + what, ref, g.dequantized, g.q)) continue;
    const Status s =
        DequantizePerTensor(q.data(), q.size(), g.dtype, kGoldenCount, g.scale, g.zero_point, op.data(), op.size());
    if (!ctx.Check(s.ok(), what + ": " + s.message())) continue;
    CheckDequantized(ctx, "DequantizePerTensor " + what, op, g.dequantized, g.q);
  }
}

const ChannelLayout kGoldenLayout{kGoldenChannelOuter, kGoldenChannels, kGoldenChannelInner};
constexpr size_t kGoldenChannelCount = kGoldenChannelOuter * kGoldenChannels * kGoldenChannelInner;

QK_TEST(kIsa, "golden/per-channel-affine") {
  if (!RequireIsaLevel(ctx)) return;
  const std::vector<float> x = GoldenInputs(kGoldenChannelCount);
  for (const GoldenPerChannel& g : kGoldenPerChannel) {
    const std::string what = std::string(QDTypeName(g.dtype)) + " scales=" + DescribeDouble(g.scales[0]) + ",...";
    std::vector<uint8_t> ref(Bytes(g.dtype, x.size()) + 1), op(Bytes(g.dtype, x.size()) + 1);
    QuantizePerChannelRef(x.data(), kGoldenLayout, g.scales, g.zero_points, g.dtype, ref.data());
    CheckQuantized(ctx, "reference " + what, g.dtype, ref.data(), g.q, x);
    Status s = QuantizePerChannel(x.data(), x.size(), kGoldenLayout, g.scales, g.zero_points, 3, g.dtype, op.data(),
                                  op.size());
    if (ctx.Check(s.ok(), what + ": " + s.message())) {
      CheckQuantized(ctx, "QuantizePerChannel " + what, g.dtype, op.data(), g.q, x);
    }
    const std::vector<uint8_t> q = Pack(g.dtype, g.q, x.size());
    std::vector<float> yref(x.size()), yop(x.size());
    DequantizePerChannelRef(q.data(), g.dtype, kGoldenLayout, g.scales, g.zero_points, yref.data());
    CheckDequantized(ctx, "reference dequantize " + what, yref, g.dequantized, g.q);
    s = DequantizePerChannel(q.data(), q.size(), g.dtype, kGoldenLayout, g.scales, g.zero_points, 3, yop.data(),
                             yop.size());
    if (ctx.Check(s.ok(), what + ": " + s.message())) {
      CheckDequantized(ctx, "DequantizePerChannel " + what, yop, g.dequantized, g.q);
    }
  }
}

QK_TEST(kIsa, "golden/per-channel-float-qparams") {
  if (!RequireIsaLevel(ctx)) return;
  const std::vector<float> x = GoldenInputs(kGoldenChannelCount);
  for (const GoldenFloatQParams& g : kGoldenFloatQParams) {
    float scales[3], zps[3];
    for (int c = 0; c < 3; ++c) {
      scales[c] = FloatFromBits(g.scale_bits[c]);
      zps[c] = FloatFromBits(g.zero_point_bits[c]);
    }
    const std::string what = std::string(QDTypeName(g.dtype)) + " zero_points=" + DescribeFloat(zps[0]) + ",...";
    std::vector<uint8_t> ref(Bytes(g.dtype, x.size()) + 1), op(Bytes(g.dtype, x.size()) + 1);
    QuantizePerChannelFloatQParamsRef(x.data(), kGoldenLayout, scales, zps, g.dtype, ref.data());
    CheckQuantized(ctx, "reference " + what, g.dtype, ref.data(), g.q, x);
    Status s = QuantizePerChannelFloatQParams(x.data(), x.size(), kGoldenLayout, scales, zps, 3, g.dtype, op.data(),
                                              op.size());
    if (ctx.Check(s.ok(), what + ": " + s.message())) {
      CheckQuantized(ctx, "QuantizePerChannelFloatQParams " + what, g.dtype, op.data(), g.q, x);
    }
    const std::vector<uint8_t> q = Pack(g.dtype, g.q, x.size());
    std::vector<float> yref(x.size()), yop(x.size());
    DequantizePerChannelFloatQParamsRef(q.data(), g.dtype, kGoldenLayout, scales, zps, yref.data());
    CheckDequantized(ctx, "reference dequantize " + what, yref, g.dequantized, g.q);
    s = DequantizePerChannelFloatQParams(q.data(), q.size(), g.dtype, kGoldenLayout, scales, zps, 3, yop.data(),
                                         yop.size());
    if (ctx.Check(s.ok(), what + ": " + s.message())) {
      CheckDequantized(ctx, "DequantizePerChannelFloatQParams " + what, yop, g.dequantized, g.q);
    }
  }
}

QK_TEST(kIsa, "golden/choose-quantization-params") {
  for (const GoldenChooseQParams& g : kGoldenChooseQParams) {
    const float min = FloatFromBits(g.min_bits), max = FloatFromBits(g.max_bits);
    const std::string what = std::string(QDTypeName(g.dtype)) + " [" + DescribeFloat(min) + ", " +
                             DescribeFloat(max) + "] reduce_range=" + (g.reduce_range ? "true" : "false");
    ChosenQParams chosen{};
    const Status s = ChooseQuantizationParams(min, max, g.dtype, g.reduce_range, &chosen);
    if (!ctx.Check(s.ok(), what + ": " + s.message())) continue;
    ctx.Check(chosen.scale == g.scale && chosen.zero_point == g.zero_point,
              what + ": PyTorch scale " + DescribeDouble(g.scale) + " zero_point " + std::to_string(g.zero_point) +
                  ", got scale " + DescribeDouble(chosen.scale) + " zero_point " + std::to_string(chosen.zero_point));
  }
}

}  // namespace
}  // namespace test
}  // namespace qk
