// Reference elementwise ops: the per-element loops (see elementwise-ref.h), each formula written out here from PyTorch 1.13's kernels, sharing no code with the op or its kernels.
#include "reference/elementwise-ref.h"

#include <algorithm>
#include <cmath>

// Every formula is a sequence of fp32 roundings, as in PyTorch: no contraction.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace qk {
namespace {

// The two 8-bit dtypes' ranges, restated so that the reference depends on nothing it checks.
struct Bounds {
  int32_t lo, hi;
};
Bounds BoundsOf(QDType dtype) { return dtype == QDType::kQInt8 ? Bounds{-128, 127} : Bounds{0, 255}; }

int32_t ValueOfByte(QDType dtype, uint8_t byte) {
  return dtype == QDType::kQInt8 ? static_cast<int8_t>(byte) : byte;
}

int32_t Saturate(int64_t v, Bounds r) { return static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(v, r.lo), r.hi)); }

// int32 addition as the hardware does it (two's complement wraparound).
int32_t WrappingAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// x86's cvtps2dq in the default rounding mode: ties to even; NaN and anything outside int32's
// range is the "integer indefinite" 0x80000000.
int32_t Cvtps2dq(float t) {
  if (std::isnan(t) || t < -2147483648.0f || t >= 2147483648.0f) return INT32_MIN;
  return static_cast<int32_t>(std::nearbyint(t));
}

// ---- PyTorch's scalar lambdas (the tail of each run) -----------------------------------------

// dequantize_val: scale * float(q - zp).
float ScalarDequantize(int32_t q, float scale, int32_t zero_point) { return scale * static_cast<float>(q - zero_point); }

// quantize_val: float(zp) + nearbyint(x * inv) as a float sum, converted to int64 (x86: INT64_MIN,
// so the low bound, for NaN and |s| >= 2^63), then clamped.
int32_t ScalarQuantize(float x, float inv_scale, int32_t zero_point, Bounds r) {
  const float s = std::nearbyint(x * inv_scale) + static_cast<float>(zero_point);
  if (std::isnan(s) || std::fabs(s) >= 9223372036854775808.0f) return r.lo;
  return Saturate(static_cast<int64_t>(s), r);
}

// requantize_from_int: zp + lrintf(float(c) * multiplier) in int64 (INT64_MIN for NaN or |t| >= 2^63).
int32_t ScalarRequantize(int32_t c, float multiplier, int32_t zero_point, Bounds r) {
  const float t = static_cast<float>(c) * multiplier;
  if (std::isnan(t) || std::fabs(t) >= 9223372036854775808.0f) return r.lo;
  return Saturate(static_cast<int64_t>(std::nearbyint(t)) + zero_point, r);
}

// ---- PyTorch's AVX2 vectorized lambdas ---------------------------------------------------------

// Vectorized<qint>::dequantize: fma(scale, float(q), scale * -float(zp)), the premultiplied
// zero point computed once per call.
float VectorDequantize(int32_t q, float scale, int32_t zero_point) {
  const float scale_neg_zp_premul = scale * -static_cast<float>(zero_point);
  return std::fma(scale, static_cast<float>(q), scale_neg_zp_premul);
}

// QuantizeAvx2: minps(x * inv, 2147483520.0f) (the largest float below 2^31 - 127; a NaN product
// takes the bound), cvtps2dq, a wrapping add of the zero point, then packs that saturate.
int32_t VectorQuantize(float x, float inv_scale, int32_t zero_point, Bounds r) {
  const float product = x * inv_scale;
  const float bounded = product < 2147483520.0f ? product : 2147483520.0f;
  return Saturate(WrappingAdd(Cvtps2dq(bounded), zero_point), r);
}

// RequantizeAvx2: cvtps2dq(float(c) * multiplier), a wrapping add of the zero point, saturated.
int32_t VectorRequantize(int32_t c, float multiplier, int32_t zero_point, Bounds r) {
  return Saturate(WrappingAdd(Cvtps2dq(static_cast<float>(c) * multiplier), zero_point), r);
}

// ---- the lookup maps ----------------------------------------------------------------------------

// How each kernel's vectorized lambda computes its 1 / scale (the scalar lambdas use 1.0f / float(scale)).
float VectorInverse(double scale, InverseScale how) {
  if (how == InverseScale::kDouble) return static_cast<float>(1.0 / scale);
  if (how == InverseScale::kDoubleOfFloat) return static_cast<float>(1.0 / static_cast<double>(static_cast<float>(scale)));
  return 1.0f / static_cast<float>(scale);
}

int32_t LookupElement(const LookupSpec& spec, int32_t q, bool vector) {
  const Bounds r = BoundsOf(spec.dtype);
  const float scale = static_cast<float>(spec.in_scale);
  const int32_t zp = static_cast<int32_t>(spec.in_zero_point);
  const float out_scale = static_cast<float>(spec.out_scale);
  const int32_t out_zp = static_cast<int32_t>(spec.out_zero_point);
  const float p0 = static_cast<float>(spec.p0), p1 = static_cast<float>(spec.p1), p2 = static_cast<float>(spec.p2);
  switch (spec.op) {
    case LookupOp::kRelu:
      return q > zp ? q : zp;
    case LookupOp::kClamp: {
      // qclamp: each bound quantized with the input's qparams (quantize_val), then integer min / max.
      const int32_t low = std::isnan(spec.p0) ? r.lo : ScalarQuantize(p0, 1.0f / scale, zp, r);
      const int32_t high = std::isnan(spec.p1) ? r.hi : ScalarQuantize(p1, 1.0f / scale, zp, r);
      return std::min(std::max(q, low), high);
    }
    case LookupOp::kAddScalar: {
      // qadd_scalar_kernel: c = (q - zp) + other, requantized by float(scale) * (1.0f / float(out_scale)).
      const float multiplier = scale * (1.0f / out_scale);
      const int32_t c = WrappingAdd(q - zp, static_cast<int32_t>(spec.p0));
      const int32_t y = vector ? VectorRequantize(c, multiplier, out_zp, r) : ScalarRequantize(c, multiplier, out_zp, r);
      return spec.p1 != 0 && y < out_zp ? out_zp : y;
    }
    case LookupOp::kNegate: {
      const int32_t y = r.hi + r.lo - q;
      return spec.p0 != 0 && y < out_zp ? out_zp : y;
    }
    case LookupOp::kQnnpackHardswish: {
      // pytorch_qnnp_create_hardswish_nc_q8's table: one formula, fp32 throughout.
      const float x = scale * static_cast<float>(q - zp);
      const float gate = std::min(std::max(x + 3.0f, 0.0f), 6.0f);
      const float t = (1.0f / out_scale) * (x * gate / 6.0f) + static_cast<float>(out_zp);
      return static_cast<int32_t>(std::lrintf(std::min(std::max(t, 0.0f), 255.0f)));
    }
    default:
      break;
  }
  const float x = vector ? VectorDequantize(q, scale, zp) : ScalarDequantize(q, scale, zp);
  float y = x;
  switch (spec.op) {
    case LookupOp::kHardswish: y = x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f; break;
    case LookupOp::kElu: y = x >= 0 ? x * p1 : (std::exp(x * p2) - 1) * p0 * p1; break;
    case LookupOp::kLeakyRelu: y = x > 0 ? x : x * p0; break;
    case LookupOp::kHardsigmoid: y = std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f; break;
    case LookupOp::kSigmoid: y = 1.0f / (1.0f + std::exp(-x)); break;
    case LookupOp::kTanh: y = std::tanh(x); break;
    case LookupOp::kThreshold: y = x > p0 ? x : p1; break;
    case LookupOp::kRequantize: y = spec.p0 != 0 ? std::max(0.0f, x) : x; break;
    default: break;
  }
  return vector ? VectorQuantize(y, VectorInverse(spec.out_scale, spec.inverse), out_zp, r)
                : ScalarQuantize(y, 1.0f / out_scale, out_zp, r);
}

// ---- quantized add / mul ------------------------------------------------------------------------

int32_t BinaryElement(const BinarySpec& spec, int32_t a, int32_t b, bool vector) {
  const Bounds r = BoundsOf(spec.dtype);
  const float sa = static_cast<float>(spec.a_scale), sb = static_cast<float>(spec.b_scale);
  const int32_t za = static_cast<int32_t>(spec.a_zero_point), zb = static_cast<int32_t>(spec.b_zero_point);
  const int32_t zy = static_cast<int32_t>(spec.out_zero_point);
  const float inv_out = 1.0f / static_cast<float>(spec.out_scale);
  if (spec.multiply) {
    // qmul: the integer product, requantized by a_scale * b_scale / out_scale (PyTorch's kernel:
    // times 1 / out_scale; XNNPACK's: divided by out_scale).
    const float multiplier = spec.divide_by_out_scale ? (sa * sb) / static_cast<float>(spec.out_scale) : sa * sb * inv_out;
    const int32_t c = (a - za) * (b - zb);
    const int32_t y = vector ? VectorRequantize(c, multiplier, zy, r) : ScalarRequantize(c, multiplier, zy, r);
    return spec.relu && y < zy ? zy : y;
  }
  // qadd: dequantize both, add in fp32, ReLU (NaN stays NaN), quantize.
  float sum = vector ? VectorDequantize(a, sa, za) + VectorDequantize(b, sb, zb)
                     : ScalarDequantize(a, sa, za) + ScalarDequantize(b, sb, zb);
  if (spec.relu && sum < 0.0f) sum = 0.0f;
  return vector ? VectorQuantize(sum, inv_out, zy, r) : ScalarQuantize(sum, inv_out, zy, r);
}

}  // namespace

std::vector<uint8_t> LookupRowsRef(const LookupSpec& spec, const std::vector<uint8_t>& x, size_t row_length,
                                   size_t vector_length) {
  std::vector<uint8_t> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const bool vector = i % row_length < vector_length;
    y[i] = static_cast<uint8_t>(LookupElement(spec, ValueOfByte(spec.dtype, x[i]), vector));
  }
  return y;
}

std::vector<uint8_t> BinaryRowsRef(const BinarySpec& spec, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                                   size_t row_length, size_t vector_length) {
  std::vector<uint8_t> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const bool vector = i % row_length < vector_length;
    y[i] = static_cast<uint8_t>(BinaryElement(spec, ValueOfByte(spec.dtype, a[i]), ValueOfByte(spec.dtype, b[i]), vector));
  }
  return y;
}
std::vector<float> MatmulF32Ref(const std::vector<float>& a, const std::vector<float>& b, size_t batch, size_t m, size_t k,
                                size_t n) {
  std::vector<float> y(batch * m * n);
  for (size_t t = 0; t < batch; ++t) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        double sum = 0;
        for (size_t p = 0; p < k; ++p) {
          sum += static_cast<double>(a[(t * m + i) * k + p]) * static_cast<double>(b[(t * k + p) * n + j]);
        }
        y[(t * m + i) * n + j] = static_cast<float>(sum);
      }
    }
  }
  return y;
}

}  // namespace qk
