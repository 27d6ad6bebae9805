// Depthwise microkernels: every registered qu8qs8_dwconv and qu8qs8_dwconv_row kernel the CPU can run, against a naive loop, exactly.
//
// The registry is expanded here, so a new kernel line is tested without touching this file.
// Each kernel sees channel counts 1..2 * 32 + 7 (every tail of a 16- or 32-channel tile),
// tap counts odd and even, padding taps (the zero-point buffer), extreme zero points and
// weights (|w - w_zp| = 255), relu and huge/NaN-free scales, and an output stride wider than
// the channel count whose gaps hold a sentinel. Each input pixel is its own exactly-sized heap
// block, so a kernel that reads past `channels` shows up under AddressSanitizer. Row kernels
// read one exactly-sized buffer through per-tap base pointers (random, overlapping) and a
// pixel step (also smaller than the channel count: overlapping windows).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "harness.h"
#include "ukernels/gemm/requant-scalar.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr uint8_t kSentinel = 0xA5;

// The packed layout of ukernels/conv/conv.h, written out from its definition.
std::vector<int16_t> PackWeights(const std::vector<int8_t>& w, const std::vector<int32_t>& w_zp, size_t channels,
                                 size_t taps) {
  const size_t padded = (channels + kDwconvChannelAlign - 1) / kDwconvChannelAlign * kDwconvChannelAlign;
  std::vector<int16_t> packed((taps + 1) / 2 * padded * 2, 0);
  for (size_t q = 0; q < (taps + 1) / 2; ++q) {
    for (size_t c = 0; c < channels; ++c) {
      for (size_t h = 0; h < 2; ++h) {
        const size_t t = 2 * q + h;
        if (t < taps) packed[(q * padded + c) * 2 + h] = static_cast<int16_t>(w[c * taps + t] - w_zp[c]);
      }
    }
  }
  return packed;
}

// The quads layout of ukernels/conv/conv.h (symmetric weights: w_zp 0, so w fits int8), written
// from the channel side: channel k of a block (0..31) is lane k % 4 (+ 4 for k >= 16) of vector
// (k % 16) / 4; tap t is byte t % 4 of quad t / 4. [block][quad][vector][lane][tap].
std::vector<int8_t> PackQuads(const std::vector<int8_t>& w, size_t channels, size_t taps) {
  const size_t quads = (taps + 3) / 4, full = channels / 32 * 32;
  std::vector<int8_t> packed(full / 32 * quads * 128, 0);
  for (size_t c = 0; c < full; ++c) {
    const size_t k = c % 32, vector = k % 16 / 4, lane = k % 4 + (k >= 16 ? 4 : 0);
    for (size_t t = 0; t < taps; ++t) {
      packed[(c / 32 * quads + t / 4) * 128 + vector * 32 + lane * 4 + t % 4] = w[c * taps + t];
    }
  }
  return packed;
}

// kernel or row_kernel (the other null) on one random case.
// window_stride > 0 (row kernels): a 1-D window, taps one spacing apart and pixels window_stride
// spacings apart, with symmetric weights and their quads (the AVX-512 kernel's shared pairs).
bool CheckCase(Context& ctx, const char* name, DwconvU8Fn* kernel, DwconvRowU8Fn* row_kernel, Random& rng,
               size_t channels, size_t taps, size_t pixels, int32_t x_zp, int32_t y_zp, bool relu, bool extreme,
               size_t window_stride = 0) {
  auto value = [&] {
    return extreme ? static_cast<uint8_t>(rng.Int(0, 1) ? 255 : 0) : static_cast<uint8_t>(rng.Int(0, 255));
  };
  std::vector<const uint8_t*> input(pixels * taps);  // what each tap of each pixel reads
  std::vector<std::unique_ptr<uint8_t[]>> blocks;
  std::unique_ptr<uint8_t[]> padding(new uint8_t[channels]);
  std::fill(padding.get(), padding.get() + channels, static_cast<uint8_t>(x_zp));
  std::vector<const uint8_t*> base(taps);
  const size_t spacing = channels + static_cast<size_t>(rng.Int(0, 5));
  const size_t step = window_stride > 0 ? window_stride * spacing
                                        : channels * static_cast<size_t>(rng.Int(0, 2)) + static_cast<size_t>(rng.Int(0, 3));
  if (row_kernel == nullptr) {
    // Distinct input pixels (some taps share one, some read padding), each its own heap block.
    const size_t sources = taps + pixels;
    for (size_t i = 0; i < sources; ++i) {
      blocks.emplace_back(new uint8_t[channels]);
      for (size_t c = 0; c < channels; ++c) blocks.back()[c] = value();
    }
    for (size_t i = 0; i < input.size(); ++i) {
      const int64_t pick = rng.Int(0, 9);
      input[i] = pick == 0 ? padding.get() : blocks[static_cast<size_t>(rng.Int(0, sources - 1))].get();
    }
  } else {
    // One buffer that ends where the last read ends; tap t starts at a random offset.
    std::vector<size_t> offset(taps);
    size_t size = 0;
    for (size_t t = 0; t < taps; ++t) {
      offset[t] = window_stride > 0 ? t * spacing : static_cast<size_t>(rng.Int(0, static_cast<int64_t>(3 * channels)));
      size = std::max(size, offset[t] + (pixels - 1) * step + channels);
    }
    blocks.emplace_back(new uint8_t[size]);
    for (size_t i = 0; i < size; ++i) blocks.back()[i] = value();
    for (size_t t = 0; t < taps; ++t) {
      base[t] = blocks.back().get() + offset[t];
      for (size_t p = 0; p < pixels; ++p) input[p * taps + t] = base[t] + p * step;
    }
  }
  std::vector<int8_t> w(channels * taps);
  std::vector<int32_t> w_zp(channels);
  // Symmetric weights (zero point 0, PyTorch's default) fit int8 after the zero point: the
  // AVX-512 kernel runs those blocks on quads of taps (vpdpbusd) instead of pairs.
  const bool symmetric = window_stride > 0 || rng.Int(0, 2) == 0;
  for (size_t c = 0; c < channels; ++c) {
    w_zp[c] = symmetric ? 0 : extreme ? (rng.Int(0, 1) ? 127 : -128) : static_cast<int32_t>(rng.Int(-128, 127));
    for (size_t t = 0; t < taps; ++t) {
      w[c * taps + t] = extreme ? static_cast<int8_t>(w_zp[c] == 127 || (symmetric && rng.Int(0, 1)) ? -128 : 127)
                                : static_cast<int8_t>(rng.Int(-128, 127));
    }
  }
  const std::vector<int16_t> packed = PackWeights(w, w_zp, channels, taps);
  // Symmetric cases pass the quads most of the time (kernels without a quad path ignore them).
  const std::vector<int8_t> quads =
      symmetric && (window_stride > 0 || rng.Int(0, 3) != 0) ? PackQuads(w, channels, taps) : std::vector<int8_t>();
  // The output stage's constants of the three engines (ops/qgemm.h): fbgemm's fp32 bias term,
  // qnnpack's int32 bias, onednn's zero point added in fp32 before rounding.
  const int engine = static_cast<int>(rng.Int(0, 2));
  std::vector<int32_t> bias_int(channels, 0);
  std::vector<float> bias_term(channels, 0.0f), multiplier(channels);
  for (size_t c = 0; c < channels; ++c) {
    const bool with_bias = rng.Int(0, 3) != 0;
    if (with_bias && engine == 1) bias_int[c] = static_cast<int32_t>(rng.Int(-30000, 30000));
    if (with_bias && engine != 1) bias_term[c] = static_cast<float>(rng.Uniform(-3e4, 3e4));
    multiplier[c] = static_cast<float>(rng.LogUniform(-5.5, -2.5));
  }
  DwconvU8Params params;
  params.x_zero_point = x_zp;
  params.quads = quads.empty() ? nullptr : quads.data();
  params.bias_int = bias_int.data();
  params.bias_term = bias_term.data();
  params.multiplier = multiplier.data();
  params.lo = static_cast<float>((relu ? y_zp : 0) - y_zp);
  params.hi = static_cast<float>(255 - y_zp);
  params.y_zero_point_f = engine == 2 ? static_cast<float>(y_zp) : 0.0f;
  params.y_zero_point = engine == 2 ? 0 : y_zp;
  const size_t y_stride = channels + 3;
  std::vector<uint8_t> y(pixels * y_stride, kSentinel);
  if (row_kernel == nullptr) {
    kernel(channels, pixels, taps, input.data(), packed.data(), y.data(), y_stride, &params);
  } else {
    row_kernel(channels, pixels, taps, base.data(), step, packed.data(), y.data(), y_stride, &params);
  }
  for (size_t p = 0; p < pixels; ++p) {
    for (size_t c = 0; c < y_stride; ++c) {
      uint8_t expected = kSentinel;
      if (c < channels) {
        int32_t acc = 0;
        for (size_t t = 0; t < taps; ++t) {
          acc += (static_cast<int32_t>(input[p * taps + t][c]) - x_zp) * (w[c * taps + t] - w_zp[c]);
        }
        expected = static_cast<uint8_t>(
            RequantizeGemmValue(acc, bias_int[c], bias_term[c], multiplier[c], params.lo, params.hi,
                                params.y_zero_point_f, params.y_zero_point));
      }
      if (y[p * y_stride + c] != expected) {
        ctx.Fail(std::string(name) + " channels=" + std::to_string(channels) + " taps=" + std::to_string(taps) +
 " pixels=" + std::to_string(pixels) + (row_kernel ? " step=" + std::to_string(step) : std::string()) + " x_zp=" + std::to_string(x_zp) + " y_zp=" +
                 std::to_string(y_zp) + (relu ? " relu" : "") + ": pixel " + std::to_string(p) + " byte " +
                 std::to_string(c) + (c < channels ? "" : " (past the channels)") + ": got " +
                 std::to_string(y[p * y_stride + c]) + ", expected " + std::to_string(expected));
        return false;
      }
    }
  }
  return true;
}

void RegisterDwconvTests(const char* name, Isa isa, DwconvU8Fn* kernel, DwconvRowU8Fn* row_kernel) {
  RegisterTest(Mode::kIsa, std::string("conv/ukernel/") + name, [=](Context& ctx) {
    if (!Applies(ctx, isa)) return;
    Random rng(0x5EED0000u + static_cast<uint64_t>(isa));
    const size_t kTaps[] = {1, 2, 3, 5, 9, 25, 27, 81};  // 81: past the 32 weight pairs kept on the stack
    for (size_t channels = 1; channels <= 2 * 32 + 7; ++channels) {
      for (size_t taps : kTaps) {
        const int64_t pick = rng.Int(0, 3);
        const int32_t x_zp = pick == 0 ? 0 : pick == 1 ? 255 : static_cast<int32_t>(rng.Int(0, 255));
        const int32_t y_zp = static_cast<int32_t>(rng.Int(0, 255));
        const bool extreme = rng.Int(0, 3) == 0;
        if (!CheckCase(ctx, name, kernel, row_kernel, rng, channels, taps, static_cast<size_t>(rng.Int(1, 3)), x_zp, y_zp,
                       rng.Int(0, 3) == 0, extreme)) {
          return;
        }
      }
    }
    // Larger blocks: many pixels and channels in one call.
    CheckCase(ctx, name, kernel, row_kernel, rng, 256, 5, 17, 128, 3, false, false);
    CheckCase(ctx, name, kernel, row_kernel, rng, 96, 9, 13, 255, 0, true, true);
    CheckCase(ctx, name, kernel, row_kernel, rng, 64, 4, 40, 7, 200, false, false);
    // 1-D windows (conv1d rows), stride 1 and 2, every tap count the shared pairs take and a few
    // beside them, full blocks and tails, one pixel to many.
    if (row_kernel != nullptr) {
      const size_t kWindowTaps[] = {2, 3, 4, 5, 7};
      const size_t kWindowChannels[] = {32, 33, 64, 95, 256};
      for (size_t stride = 1; stride <= 2; ++stride) {
        for (size_t taps : kWindowTaps) {
          for (size_t channels : kWindowChannels) {
            const size_t pixels = static_cast<size_t>(rng.Int(1, 3)) == 1 ? 1 : static_cast<size_t>(rng.Int(2, 37));
            const int32_t x_zp = static_cast<int32_t>(rng.Int(0, 255)), y_zp = static_cast<int32_t>(rng.Int(0, 255));
            if (!CheckCase(ctx, name, kernel, row_kernel, rng, channels, taps, pixels, x_zp, y_zp, rng.Int(0, 3) == 0,
                           rng.Int(0, 3) == 0, stride)) {
              return;
            }
          }
        }
      }
    }
  });
}

// One registration per registry line of the depthwise slot; other signatures are other tests'.
void RegisterKernel(const char* name, Isa isa, DwconvU8Fn* kernel) { RegisterDwconvTests(name, isa, kernel, nullptr); }
void RegisterKernel(const char* name, Isa isa, DwconvRowU8Fn* kernel) { RegisterDwconvTests(name, isa, nullptr, kernel); }
template <typename Fn>
void RegisterKernel(const char*, Isa, Fn*) {}

bool RegisterAllKernels() {
#define QK_UKERNEL(slot, type, isa, function) RegisterKernel(#function, Isa::isa, &function);
#include "ukernels/registry.inc"
#undef QK_UKERNEL
  return true;
}

const bool kKernelsRegistered = RegisterAllKernels();

}  // namespace
}  // namespace test
}  // namespace qk
