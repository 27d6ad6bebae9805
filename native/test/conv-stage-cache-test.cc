// ConvStageCache (ops/conv-op.h): the stages it hands out are ConvOutputStage's bytes, one per key, and a ConvOp prepared with it runs the same bytes as one without.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/conv-op.h"
#include "ops/conv.h"
#include "ops/qgemm.h"

namespace qk {
namespace test {
namespace {

template <typename T>
bool SameBytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool SameStage(const OutputStage& a, const OutputStage& b) {
  return SameBytes(a.bias_int, b.bias_int) && SameBytes(a.bias_term, b.bias_term) && SameBytes(a.multiplier, b.multiplier);
}

// A 2-D conv 5->6 (3x3, padding 1), per-channel weights and a bias, from `rng`.
std::shared_ptr<const ConvWeights> MakeWeights(Context& ctx, Random& rng, bool transposed) {
  ConvGeometry g;
  g.dims = 2;
  g.in_channels = 5;
  g.out_channels = 6;
  g.kernel[0] = g.kernel[1] = transposed ? 2 : 3;
  g.stride[0] = g.stride[1] = transposed ? 2 : 1;
  g.pad_before[0] = g.pad_before[1] = g.pad_after[0] = g.pad_after[1] = transposed ? 0 : 1;
  g.transposed = transposed;
  size_t count = 0;
  ConvWeightCount(g, &count);
  const std::vector<int8_t> w = RandomQuantized<int8_t>(rng, count);
  std::vector<double> scales(g.out_channels);
  std::vector<int32_t> zero_points(g.out_channels);
  std::vector<float> bias(g.out_channels);
  for (size_t c = 0; c < g.out_channels; ++c) {
    scales[c] = rng.Uniform(0.002, 0.02);
    bias[c] = static_cast<float>(rng.Uniform(-3, 3));
  }
  std::shared_ptr<const ConvWeights> weights;
  const Status st = CreateConvWeights(g, w.data(), scales.data(), zero_points.data(), scales.size(), bias.data(), &weights);
  ctx.Check(st.ok(), "CreateConvWeights: " + st.message());
  return weights;
}

// Keys (the fields of ConvParams a stage reads) that each differ from the first in one field.
std::vector<ConvParams> Keys() {
  ConvParams base;
  base.x_scale = 0.05;
  base.x_zero_point = 120;
  base.y_scale = 0.1;
  base.y_zero_point = 7;
  std::vector<ConvParams> keys(7, base);
  keys[1].x_scale = 0.0500001;
  keys[2].x_zero_point = 3;
  keys[3].y_scale = 0.3;
  keys[4].y_zero_point = 200;
  keys[5].relu = true;
  keys[6].engine = QEngine::kQnnpack;
  return keys;
}

}  // namespace

// Every stage the cache returns is ConvOutputStage's for its key, byte for byte; the same key
// gives the same stage object back; different keys give different stages; more keys than the
// cache holds evict old ones (then made again, equal) and never hand out a wrong one.
QK_TEST(kIsa, "conv/stage-cache/keys") {
  Random rng(301);
  for (bool transposed : {false, true}) {
    const std::shared_ptr<const ConvWeights> weights = MakeWeights(ctx, rng, transposed);
    if (ctx.failed()) return;
    ConvStageCache cache;
    std::vector<ConvParams> keys = Keys();
    for (QEngine engine : {QEngine::kOnednn, QEngine::kQnnpack}) {
      for (size_t i = 0; i < 4; ++i) {
        ConvParams k = keys[i];
        k.engine = engine;
        keys.push_back(k);
      }
    }
    std::vector<std::shared_ptr<const OutputStage>> first(keys.size());
    for (int round = 0; round < 3; ++round) {
      for (size_t i = 0; i < keys.size(); ++i) {
        const ConvParams& k = keys[i];
        const std::string what = std::string(transposed ? "transposed " : "") + "key " + std::to_string(i) + " round " +
                                 std::to_string(round);
        const std::shared_ptr<const OutputStage> got =
            cache.Get(*weights, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point, k.relu, k.engine);
        const OutputStage want =
            ConvOutputStage(*weights, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point, k.relu, k.engine);
        if (!ctx.Check(got != nullptr && SameStage(*got, want), what + ": not ConvOutputStage's bytes")) return;
        if (round == 0) first[i] = got;
        // Asked again at once: the very object just kept.
        const auto again = cache.Get(*weights, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point, k.relu, k.engine);
        if (!ctx.Check(again == got, what + ": a second Get made another stage")) return;
      }
    }
    // The scales and the engine change the stage's constants (so a stage served for the wrong
    // key would show above); the zero points and relu are in the key because ConvOutputStage
    // takes them, though today's constants do not read them (OutputZeroPoints and y_min do).
    for (size_t i : {1, 3, 6}) {
      ctx.Check(!SameStage(*first[0], *first[i]), "key " + std::to_string(i) + " gives key 0's stage");
    }
    for (size_t i = 1; i < 7; ++i) ctx.Check(first[0] != first[i], "key " + std::to_string(i) + " shares key 0's entry");
    // A stage an op kept stays valid after its slot was reused (first[*] outlived rounds 1-2).
    for (size_t i = 0; i < keys.size(); ++i) {
      const ConvParams& k = keys[i];
      ctx.Check(SameStage(*first[i], ConvOutputStage(*weights, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point,
                                                     k.relu, k.engine)),
                "an evicted stage changed");
    }
  }
}

// Two weights in one cache (a binding never does this, but the key holds the weights): no
// stage of one is handed out for the other.
QK_TEST(kIsa, "conv/stage-cache/weights-in-key") {
  Random rng(302);
  const std::shared_ptr<const ConvWeights> a = MakeWeights(ctx, rng, false);
  const std::shared_ptr<const ConvWeights> b = MakeWeights(ctx, rng, false);
  if (ctx.failed()) return;
  ConvStageCache cache;
  const ConvParams k = Keys()[0];
  const auto sa = cache.Get(*a, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point, k.relu, k.engine);
  const auto sb = cache.Get(*b, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point, k.relu, k.engine);
  ctx.Check(sa != sb && !SameStage(*sa, *sb), "weights b got weights a's stage");
  ctx.Check(SameStage(*sb, ConvOutputStage(*b, k.x_scale, k.x_zero_point, k.y_scale, k.y_zero_point, k.relu, k.engine)),
            "weights b's stage is not ConvOutputStage's");
}

// A ConvOp prepared with the cache, without it, and ConvU8 without a stage: the same output bytes,
// for every key, layout and both conv kinds.
QK_TEST(kIsa, "conv/stage-cache/op-bytes") {
  if (!RequireIsaLevel(ctx)) return;
  Random rng(303);
  for (bool transposed : {false, true}) {
    const std::shared_ptr<const ConvWeights> weights = MakeWeights(ctx, rng, transposed);
    if (ctx.failed()) return;
    ConvStageCache cache;
    for (int layout = 0; layout < 3; ++layout) {
      for (ConvParams p : Keys()) {
        p.batch = 2;
        p.in_spatial[0] = 5;
        p.in_spatial[1] = 4;
        p.layout = layout == 1 ? ConvLayout::kChannelsLast : ConvLayout::kContiguous;
        p.out_channels_last = layout != 0;
        const std::vector<uint8_t> x = RandomQuantized<uint8_t>(rng, p.batch * 5 * 5 * 4);
        std::shared_ptr<const ConvOp> cached, own;
        Status st = ConvOp::Prepare(weights, nullptr, p, &cached, &cache);
        if (!ctx.Check(st.ok(), "Prepare with the cache: " + st.message())) return;
        st = ConvOp::Prepare(weights, nullptr, p, &own);
        if (!ctx.Check(st.ok(), "Prepare without it: " + st.message())) return;
        std::vector<uint8_t> y_cached(cached->output_bytes(), 0xA5), y_own(own->output_bytes(), 0x5A),
            y_plain(own->output_bytes(), 0x3C);
        const void* inputs[1] = {x.data()};
        st = cached->Run(inputs, y_cached.data(), nullptr);
        if (!ctx.Check(st.ok(), "Run (cached): " + st.message())) return;
        st = own->Run(inputs, y_own.data(), nullptr);
        if (!ctx.Check(st.ok(), "Run (own): " + st.message())) return;
        st = ConvU8(*weights, x.data(), p.batch, p.in_spatial, p.layout, p.x_scale, p.x_zero_point, p.y_scale,
                    p.y_zero_point, p.relu, y_plain.data(), p.engine, p.out_channels_last);
        if (!ctx.Check(st.ok(), "ConvU8: " + st.message())) return;
        const std::string what = std::string(transposed ? "transposed" : "conv") + " layout " + std::to_string(layout);
        ctx.Check(y_cached == y_own && y_own == y_plain, what + ": outputs differ");
      }
    }
  }
}

}  // namespace test
}  // namespace qk
