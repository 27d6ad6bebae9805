// Binary conv op tests: random 1-D/2-D/3-D layers against the reference at every thread count, the bit output, packing, errors.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "base/threadpool.h"
#include "harness.h"
#include "ops/binary.h"
#include "reference/binary-ref.h"

namespace qk {
namespace test {
namespace {

struct Layer {
  ConvGeometry g;
  size_t batch = 1;
  size_t in_spatial[3] = {1, 1, 1};
  size_t out_positions = 1, in_positions = 1;
  std::vector<float> x, w, bias;
  float pad_value = -1.0f;
  BinaryRule rule = BinaryRule::kSign;
};

// Channel counts around the 64-bit word (1, 63, 64, 65, 130), groups, strides, dilations,
// paddings, pad values -1 (bits only) and others (the correction), zeros in the input.
// wide: the layers of binary networks (channels in whole bytes, mostly one group, dilation 1),
// which take the fast paths: bits straight from the tiles, 1-D rows read in place.
Layer RandomLayer(Random& rng, int dims, bool wide) {
  Layer l;
  ConvGeometry& g = l.g;
  g.dims = dims;
  static const size_t kChannels[] = {1, 2, 7, 63, 64, 65, 130};
  static const size_t kWideOut[] = {8, 16, 24, 40, 64, 72, 136};
  g.groups = static_cast<size_t>(wide ? (rng.Next() % 4 == 0 ? 2 : 1) : rng.Int(1, 3));
  g.in_channels = g.groups * kChannels[rng.Int(wide ? 3 : 0, dims == 3 ? 4 : 6)];
  g.out_channels = g.groups * (wide ? kWideOut[rng.Int(0, 6)] : static_cast<size_t>(rng.Int(1, 19)));
  l.batch = static_cast<size_t>(rng.Int(1, 2));
  for (int d = 0; d < dims; ++d) {
    g.kernel[d] = static_cast<size_t>(rng.Int(1, dims == 1 ? 7 : 3));
    g.stride[d] = static_cast<size_t>(rng.Int(1, 2));
    g.dilation[d] = static_cast<size_t>(wide && rng.Next() % 4 != 0 ? 1 : rng.Int(1, 2));
    g.pad_before[d] = g.pad_after[d] = static_cast<size_t>(rng.Int(0, 2));
    const size_t span = g.dilation[d] * (g.kernel[d] - 1) + 1;
    l.in_spatial[d] = span + static_cast<size_t>(rng.Int(0, dims == 1 ? (wide ? 150 : 40) : dims == 2 ? 9 : 4));
    l.in_positions *= l.in_spatial[d];
    l.out_positions *= (l.in_spatial[d] + 2 * g.pad_before[d] - span) / g.stride[d] + 1;
  }
  static const float kPads[] = {-1.0f, -1.0f, 1.0f, 0.5f, -0.25f, 3.0f};
  l.pad_value = kPads[rng.Int(0, 5)];
  l.rule = rng.Next() % 2 ? BinaryRule::kSign : BinaryRule::kHeaviside;
  l.x.resize(l.batch * g.in_channels * l.in_positions);
  for (float& v : l.x) v = rng.Next() % 9 == 0 ? 0.0f : static_cast<float>(rng.Uniform(-1, 1));
  size_t count = 0;
  ConvWeightCount(g, &count);
  l.w.resize(count);
  for (float& v : l.w) v = rng.Next() % 2 ? 1.0f : -1.0f;
  if (rng.Next() % (wide ? 6 : 3) == 0) {
    l.bias.resize(g.out_channels);
    for (float& v : l.bias) v = static_cast<float>(rng.Uniform(-3, 3));
  }
  return l;
}

std::string Describe(const Layer& l) {
  std::string s = std::to_string(l.g.dims) + "-D in " + std::to_string(l.g.in_channels) + " out " +
                  std::to_string(l.g.out_channels) + " groups " + std::to_string(l.g.groups) + " kernel";
  for (int d = 0; d < l.g.dims; ++d) s += " " + std::to_string(l.g.kernel[d]);
  return s + " pad value " + std::to_string(l.pad_value);
}

void TestLayers(Context& ctx, int dims, bool wide = false) {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName(ctx.name().c_str()));
  for (int trial = 0; trial < (wide ? 24 : 40); ++trial) {
    const Layer l = RandomLayer(rng, dims, wide);
    std::shared_ptr<const BinaryConvWeights> weights;
    const Status created = CreateBinaryConvWeights(l.g, l.w.data(), l.w.size(), l.pad_value,
                                                   l.bias.empty() ? nullptr : l.bias.data(), &weights);
    if (!ctx.Check(created.ok(), created.message())) return;
    std::vector<float> expected(l.batch * l.g.out_channels * l.out_positions);
    BinaryConvRef(l.g, l.x.data(), l.batch, l.in_spatial, l.rule, l.w.data(), l.pad_value,
                  l.bias.empty() ? nullptr : l.bias.data(), expected.data());
    std::vector<uint64_t> bits(l.batch * l.in_positions * l.g.groups * BinaryGroupWords(l.g.in_channels, l.g.groups));
    BinaryPackActivations(l.x.data(), l.batch, l.g.in_channels, l.in_positions, l.g.groups, l.rule, bits.data());
    // The next layer's groups: any divisor of out_channels; its bits must be the rule applied to the floats.
    size_t next_groups = l.g.out_channels % 2 == 0 && rng.Next() % 2 ? 2 : 1;
    if (wide && l.g.out_channels % 4 == 0 && rng.Next() % 3 == 0) next_groups = 4;
    const BinaryRule next_rule = rng.Next() % 2 ? BinaryRule::kSign : BinaryRule::kHeaviside;
    std::vector<uint64_t> expected_bits(l.batch * l.out_positions * next_groups *
                                        BinaryGroupWords(l.g.out_channels, next_groups));
    BinaryPackActivations(expected.data(), l.batch, l.g.out_channels, l.out_positions, next_groups, next_rule,
                          expected_bits.data());
    for (int threads : kThreadCounts) {
      SetNumThreads(threads);
      std::vector<float> y(expected.size(), -12345.0f);
      BinaryConvOutput out;
      out.floats = y.data();
      const Status status = BinaryConv(*weights, bits.data(), l.batch, l.in_spatial, out);
      if (!ctx.Check(status.ok(), status.message())) break;
      for (size_t k = 0; k < y.size(); ++k) {
        if (BitsOfFloat(y[k]) != BitsOfFloat(expected[k])) {
          ctx.Fail("trial " + std::to_string(trial) + " (" + Describe(l) + ") threads " + std::to_string(threads) +
                   ": y[" + std::to_string(k) + "] is " + DescribeFloat(y[k]) + ", reference " + DescribeFloat(expected[k]));
          break;
        }
      }
      std::vector<uint64_t> ybits(expected_bits.size(), ~uint64_t{0});
      BinaryConvOutput bits_out;
      bits_out.bits = ybits.data();
      bits_out.groups = next_groups;
      bits_out.rule = next_rule;
      const Status bits_status = BinaryConv(*weights, bits.data(), l.batch, l.in_spatial, bits_out);
      if (!ctx.Check(bits_status.ok(), bits_status.message())) break;
      ctx.Check(ybits == expected_bits, "trial " + std::to_string(trial) + " (" + Describe(l) + ") threads " +
                                            std::to_string(threads) + ": the bit output differs from the packed floats");
    }
    SetNumThreads(1);
  }
}

QK_TEST(kIsa, "binary/ops/conv1d") { TestLayers(ctx, 1); }
QK_TEST(kIsa, "binary/ops/conv2d") { TestLayers(ctx, 2); }
QK_TEST(kIsa, "binary/ops/conv3d") { TestLayers(ctx, 3); }
QK_TEST(kIsa, "binary/ops/conv1d-wide") { TestLayers(ctx, 1, true); }
QK_TEST(kIsa, "binary/ops/conv2d-wide") { TestLayers(ctx, 2, true); }

QK_TEST(kIsa, "binary/ops/pack-unpack") {
  Random rng(11);
  for (size_t channels : {1, 5, 64, 65, 200}) {
    const size_t groups = channels % 5 == 0 ? 5 : 1, positions = 7, batch = 2;
    std::vector<float> x(batch * channels * positions);
    for (float& v : x) v = static_cast<float>(rng.Uniform(-1, 1));
    x[0] = 0.0f;
    x[1 % x.size()] = -0.0f;
    x[2 % x.size()] = NAN;
    for (BinaryRule rule : {BinaryRule::kSign, BinaryRule::kHeaviside}) {
      std::vector<uint64_t> bits(batch * positions * groups * BinaryGroupWords(channels, groups));
      BinaryPackActivations(x.data(), batch, channels, positions, groups, rule, bits.data());
      std::vector<float> back(x.size());
      BinaryUnpackActivations(bits.data(), batch, channels, positions, groups, back.data());
      for (size_t k = 0; k < x.size(); ++k) {
        // bitorch: sign(0) = sign(NaN) = +1 after its where(); steheaviside: +1 only for x > 0.
        const float expected = rule == BinaryRule::kSign ? (x[k] < 0 ? -1.0f : 1.0f) : (x[k] > 0 ? 1.0f : -1.0f);
        if (!ctx.Check(back[k] == expected, "channels " + std::to_string(channels) + " value " + std::to_string(k) +
                                                ": " + DescribeFloat(x[k]) + " became " + DescribeFloat(back[k]))) {
          return;
        }
      }
    }
  }
}

QK_TEST(kIsa, "binary/ops/errors") {
  ConvGeometry g;
  g.dims = 1;
  g.in_channels = 4;
  g.out_channels = 2;
  g.kernel[0] = 3;
  std::vector<float> w(2 * 4 * 3, 1.0f);
  std::shared_ptr<const BinaryConvWeights> weights;
  w[5] = 0.5f;
  Status s = CreateBinaryConvWeights(g, w.data(), w.size(), -1.0f, nullptr, &weights);
  ctx.Check(s.kind() == ErrorKind::kRangeError && s.message().find("weight[5]") != std::string::npos, s.message());
  w[5] = -1.0f;
  s = CreateBinaryConvWeights(g, w.data(), w.size() - 1, -1.0f, nullptr, &weights);
  ctx.Check(s.kind() == ErrorKind::kRangeError && s.message().find("weight") != std::string::npos, s.message());
  s = CreateBinaryConvWeights(g, w.data(), w.size(), INFINITY, nullptr, &weights);
  ctx.Check(s.kind() == ErrorKind::kRangeError && s.message().find("padValue") != std::string::npos, s.message());
  s = CreateBinaryConvWeights(g, w.data(), w.size(), -1.0f, nullptr, &weights);
  if (!ctx.Check(s.ok(), s.message())) return;
  const size_t too_small[3] = {2, 1, 1};
  std::vector<uint64_t> bits(2, 0);
  std::vector<float> y(16);
  BinaryConvOutput out;
  out.floats = y.data();
  s = BinaryConv(*weights, bits.data(), 1, too_small, out);
  ctx.Check(s.kind() == ErrorKind::kRangeError && s.message().find("input") != std::string::npos, s.message());
}

}  // namespace
}  // namespace test
}  // namespace qk

namespace qk {
namespace test {
namespace {

// The multi-bit path: im2col of u8 levels + QGemmF32, against the formula written out per output:
//   y = float(sum (x - zp) * w, pads at pad_level) * (a_scale * w_scale) + bias   (each step fp32)
QK_TEST(kIsa, "binary/ops/lowbit-conv") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("binary/ops/lowbit-conv"));
  for (int trial = 0; trial < 20; ++trial) {
    ConvGeometry g;
    g.dims = static_cast<int>(rng.Int(1, 2));
    g.groups = static_cast<size_t>(rng.Int(1, 2));
    g.in_channels = g.groups * static_cast<size_t>(rng.Int(1, 9));
    g.out_channels = g.groups * static_cast<size_t>(rng.Int(1, 9));
    size_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, in_pos = 1, out_pos = 1;
    for (int d = 0; d < g.dims; ++d) {
      g.kernel[d] = static_cast<size_t>(rng.Int(1, 3));
      g.stride[d] = static_cast<size_t>(rng.Int(1, 2));
      g.pad_before[d] = g.pad_after[d] = static_cast<size_t>(rng.Int(0, 1));
      in[d] = g.kernel[d] + static_cast<size_t>(rng.Int(0, 7));
      out[d] = (in[d] + 2 * g.pad_before[d] - g.kernel[d]) / g.stride[d] + 1;
      in_pos *= in[d];
      out_pos *= out[d];
    }
    const int n = 7;  // 3-bit DoReFa: input levels 0..7 (+ zero point 7), weights 2q - 7
    size_t count = 0;
    ConvWeightCount(g, &count);
    std::vector<int8_t> w(count);
    for (int8_t& v : w) v = static_cast<int8_t>(2 * rng.Int(0, n) - n);
    std::vector<uint8_t> x(g.in_channels * in_pos);
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng.Int(0, n) + n);
    std::vector<float> bias(g.out_channels);
    for (float& v : bias) v = static_cast<float>(rng.Uniform(-1, 1));
    const float a_scale = 1.0f / n, w_scale = 1.0f / n;
    std::shared_ptr<const LowBitConvWeights> weights;
    const Status created = CreateLowBitConvWeights(g, w.data(), w.size(), w_scale, a_scale, n, 0, bias.data(), &weights);
    if (!ctx.Check(created.ok(), created.message())) return;
    std::vector<float> y(g.out_channels * out_pos, -1.0f);
    const Status run = LowBitConv(*weights, x.data(), 1, in, y.data());
    if (!ctx.Check(run.ok(), run.message())) return;
    const size_t cin = g.in_channels / g.groups, cout = g.out_channels / g.groups;
    const size_t taps = g.kernel[0] * (g.dims > 1 ? g.kernel[1] : 1);
    for (size_t o = 0; o < g.out_channels; ++o) {
      for (size_t p = 0; p < out_pos; ++p) {
        const size_t oy = g.dims > 1 ? p / out[1] : 0, ox = g.dims > 1 ? p % out[1] : p;
        int64_t acc = 0;
        for (size_t c = 0; c < cin; ++c) {
          for (size_t t = 0; t < taps; ++t) {
            const size_t ky = g.dims > 1 ? t / g.kernel[1] : 0, kx = g.dims > 1 ? t % g.kernel[1] : t;
            const int64_t iy = g.dims > 1 ? static_cast<int64_t>(oy * g.stride[0] + ky) - static_cast<int64_t>(g.pad_before[0]) : 0;
            const int64_t ix = static_cast<int64_t>(ox * g.stride[g.dims - 1] + kx) - static_cast<int64_t>(g.pad_before[g.dims - 1]);
            const size_t width = g.dims > 1 ? in[1] : in[0], height = g.dims > 1 ? in[0] : 1;
            const bool inside = iy >= 0 && ix >= 0 && iy < static_cast<int64_t>(height) && ix < static_cast<int64_t>(width);
            const int64_t level = inside ? x[((o / cout) * cin + c) * in_pos + static_cast<size_t>(iy) * width + static_cast<size_t>(ix)] : 0;
            acc += (level - n) * w[(o * cin + c) * taps + t];
          }
        }
        const float expected = static_cast<float>(acc) * (a_scale * w_scale) + bias[o];
        if (BitsOfFloat(y[o * out_pos + p]) != BitsOfFloat(expected)) {
          ctx.Fail("trial " + std::to_string(trial) + ": y[" + std::to_string(o) + "][" + std::to_string(p) + "] is " +
                   DescribeFloat(y[o * out_pos + p]) + ", expected " + DescribeFloat(expected));
          return;
        }
      }
    }
  }
}

// The input quantizations against the reference, for sign, heaviside and inputdorefa up to 16 bits,
// on every float class, exact rounding ties (r + 0.5) / n and the clamp edges: the float forward
// (QActivation) bit for bit (NaN as NaN) and, up to 7 bits, a multi-bit layer's u8 levels.
QK_TEST(kIsa, "binary/ops/input-quantizations") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(SeedFromName("binary/ops/input-quantizations"));
  const LowBitInput kInputs[] = {LowBitInput::kSign, LowBitInput::kHeaviside, LowBitInput::kDoReFa};
  for (const LowBitInput input : kInputs) {
    for (int bits = 1; bits <= 16; ++bits) {
      if (input != LowBitInput::kDoReFa && bits > 1) break;
      const int n = (1 << bits) - 1;
      const std::string label = "input " + std::to_string(static_cast<int>(input)) + " bits " + std::to_string(bits) + ": ";
      std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, NAN, INFINITY, -INFINITY, 1e-30f, 0.999999f};
      for (int r = 0; r < n && r < 300; ++r) x.push_back((static_cast<float>(r) + 0.5f) / static_cast<float>(n));  // ties
      for (int i = 0; i < 400; ++i) x.push_back(i % 2 == 0 ? rng.AnyFloat() : static_cast<float>(rng.Uniform(-0.5, 1.5)));
      std::vector<float> got(x.size(), 7.0f), want(x.size(), 9.0f);
      QuantizeActivations(x.data(), x.size(), input, bits, got.data());
      QuantizeActivationsRef(x.data(), x.size(), input, bits, want.data());
      for (size_t i = 0; i < x.size(); ++i) {
        if (BitsOfFloat(got[i]) != BitsOfFloat(want[i]) && !(std::isnan(got[i]) && std::isnan(want[i]))) {
          ctx.Fail(label + DescribeFloat(x[i]) + " quantizes to " + DescribeFloat(got[i]) + ", expected " + DescribeFloat(want[i]));
          return;
        }
      }
      if (bits > 7) continue;
      std::vector<uint8_t> levels(x.size(), 0xAB), want_levels(x.size(), 0xCD);
      LowBitInputLevels(x.data(), x.size(), input, bits, levels.data());
      LowBitInputLevelsRef(x.data(), x.size(), input, bits, want_levels.data());
      for (size_t i = 0; i < x.size(); ++i) {
        if (levels[i] != want_levels[i]) {
          ctx.Fail(label + "level of " + DescribeFloat(x[i]) + " is " + std::to_string(levels[i]) + ", expected " +
                   std::to_string(want_levels[i]));
          return;
        }
      }
    }
  }
  ctx.Check(!CheckLowBitInput(LowBitInput::kDoReFa, 8).ok(), "inputdorefa levels with 8 bits are refused");
  ctx.Check(!CheckLowBitInput(LowBitInput::kDoReFa, 0).ok(), "inputdorefa with 0 bits is refused");
  ctx.Check(!CheckLowBitInput(static_cast<LowBitInput>(3), 1).ok(), "input quantization code 3 is refused");
  ctx.Check(CheckLowBitInput(LowBitInput::kSign, 0).ok(), "sign takes no bits");
  ctx.Check(!CheckLowBitInput(LowBitInput::kDoReFa, 17, 16).ok(), "inputdorefa with 17 bits is refused");
  ctx.Check(CheckLowBitInput(LowBitInput::kDoReFa, 16, 16).ok(), "inputdorefa with 16 bits is accepted");
}

}  // namespace
}  // namespace test
}  // namespace qk
