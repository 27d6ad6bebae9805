// XNOR-popcount kernel tests: every registered binary kernel the CPU can run against a naive popcount loop, exact.
//
// Sweeps mr = 1..MR, nc across and around the 8-channel block, kw from 1 to 70 words; the
// output tile sits inside sentinel-filled memory so a write past mr x nc shows.
#include <cmath>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "harness.h"
#include "ukernels/ukernels.h"

namespace qk {
namespace test {
namespace {

constexpr int32_t kSentinel = -777;

uint32_t NaivePopcount(uint64_t x) {
  uint32_t n = 0;
  for (; x != 0; x >>= 1) n += static_cast<uint32_t>(x & 1);
  return n;
}

// Whether this CPU runs the kernel (skipping, with the reason, when it lacks VPOPCNTDQ).
bool Runs(Context& ctx, Isa isa, bool needs_vpopcntdq) {
  if (!Applies(ctx, isa)) return false;
  if (needs_vpopcntdq && !GetCpuFeatures().avx512vpopcntdq) {
    ctx.Skip("this CPU has no AVX512_VPOPCNTDQ");
    return false;
  }
  return true;
}

void TestXnorKernel(Context& ctx, const char* name, Isa isa, XnorGemmFn* kernel, bool needs_vpopcntdq) {
  if (!Runs(ctx, isa, needs_vpopcntdq)) return;
  Random rng(SeedFromName(name));
  const size_t kws[] = {1, 2, 3, 5, 8, 9, 16, 27, 33, 64, 70};
  for (size_t kw : kws) {
    for (size_t nc = 1; nc <= 9 * kXnorNR + 1; ++nc) {  // passes of 4 blocks, remainders of 1..3
      const size_t blocks = (nc + kXnorNR - 1) / kXnorNR;
      std::vector<uint64_t> w(blocks * kw * kXnorNR, 0);
      for (size_t j = 0; j < nc; ++j)
        for (size_t k = 0; k < kw; ++k) w[(j / kXnorNR) * kw * kXnorNR + k * kXnorNR + j % kXnorNR] = rng.Next();
      const size_t lda = kw + 3;
      std::vector<uint64_t> a(kXnorMR * lda);
      for (uint64_t& v : a) v = rng.Next() & (rng.Next() % 3 == 0 ? 0 : ~uint64_t{0});  // some all-zero words
      for (size_t mr = 1; mr <= kXnorMR; ++mr) {
        const size_t ldc = nc + 2;
        std::vector<int32_t> c((kXnorMR + 1) * ldc, kSentinel);
        kernel(mr, nc, kw, a.data(), lda, w.data(), c.data(), ldc);
        for (size_t i = 0; i <= kXnorMR; ++i) {
          for (size_t j = 0; j < ldc; ++j) {
            int32_t expected = kSentinel;
            if (i < mr && j < nc) {
              expected = 0;
              for (size_t k = 0; k < kw; ++k)
                expected += static_cast<int32_t>(NaivePopcount(a[i * lda + k] ^ w[(j / kXnorNR) * kw * kXnorNR + k * kXnorNR + j % kXnorNR]));
            }
            if (c[i * ldc + j] != expected) {
              ctx.Fail(std::string(name) + ": kw " + std::to_string(kw) + " nc " + std::to_string(nc) + " mr " +
                       std::to_string(mr) + ": c[" + std::to_string(i) + "][" + std::to_string(j) + "] is " +
                       std::to_string(c[i * ldc + j]) + ", expected " + std::to_string(expected));
              return;
            }
          }
        }
      }
    }
  }
}

// The sign form: a list of tiles (each with its own rows, stride, mr and output bytes, the
// outputs interleaved in one sentinel-filled buffer at odd offsets) against the naive sums
// compared with thresholds around their median (so both bit values occur); every byte of the
// buffer is checked, so a write past a tile's mr x nc shows.
void TestXnorSignKernel(Context& ctx, const char* name, Isa isa, XnorSignFn* kernel, bool needs_vpopcntdq) {
  if (!Runs(ctx, isa, needs_vpopcntdq)) return;
  Random rng(SeedFromName(name));
  const size_t kws[] = {1, 2, 3, 5, 12, 27, 36, 70};
  constexpr size_t kMaxTiles = kXnorMR + 2;  // every mr, then full tiles
  for (size_t kw : kws) {
    for (size_t nc = kXnorNR; nc <= 9 * kXnorNR; nc += kXnorNR) {
      const size_t blocks = nc / kXnorNR;
      std::vector<uint64_t> w(blocks * kw * kXnorNR);
      for (uint64_t& v : w) v = rng.Next();
      const size_t ldb = nc / 8 + 3, tile_bytes = (kXnorMR + 1) * ldb;
      std::vector<std::vector<uint64_t>> a(kMaxTiles);
      for (size_t t = 0; t < kMaxTiles; ++t) {
        a[t].resize(kXnorMR * (kw + t));
        for (uint64_t& v : a[t]) v = rng.Next() & (rng.Next() % 4 == 0 ? 0 : ~uint64_t{0});
      }
      const int32_t half = static_cast<int32_t>(32 * kw);
      for (int32_t threshold : {half - 3, half, half + 1, -1, static_cast<int32_t>(64 * kw)}) {
        for (size_t tiles = 0; tiles <= kMaxTiles; tiles += (tiles == 0 ? 1 : kMaxTiles - 1)) {  // 0, 1, all
          std::vector<uint8_t> bits(kMaxTiles * tile_bytes + 1, 0xA5), expected(bits);
          std::vector<XnorSignTile> list(tiles);
          for (size_t t = 0; t < tiles; ++t) {
            const size_t mr = t < kXnorMR ? kXnorMR - t : kXnorMR, lda = kw + t;
            // Tiles in reverse order of their outputs, each starting at an odd byte for odd t.
            uint8_t* out = bits.data() + (kMaxTiles - 1 - t) * tile_bytes + t % 2;
            list[t] = XnorSignTile{a[t].data(), lda, mr, out};
            for (size_t i = 0; i < mr; ++i) {
              for (size_t byte = 0; byte < nc / 8; ++byte) {
                uint32_t value = 0;
                for (size_t l = 0; l < 8; ++l) {
                  const size_t j = 8 * byte + l;
                  int32_t sum = 0;
                  for (size_t k = 0; k < kw; ++k)
                    sum += static_cast<int32_t>(
                        NaivePopcount(a[t][i * lda + k] ^ w[(j / kXnorNR) * kw * kXnorNR + k * kXnorNR + j % kXnorNR]));
                  value |= static_cast<uint32_t>(sum > threshold) << l;
                }
                expected[static_cast<size_t>(out - bits.data()) + i * ldb + byte] = static_cast<uint8_t>(value);
              }
            }
          }
          kernel(tiles, list.data(), nc, kw, w.data(), threshold, ldb);
          for (size_t byte = 0; byte < bits.size(); ++byte) {
            if (bits[byte] != expected[byte]) {
              ctx.Fail(std::string(name) + ": kw " + std::to_string(kw) + " nc " + std::to_string(nc) + " tiles " +
                       std::to_string(tiles) + " threshold " + std::to_string(threshold) + ": byte " +
                       std::to_string(byte) + " is " + std::to_string(bits[byte]) + ", expected " +
                       std::to_string(expected[byte]));
              return;
            }
          }
        }
      }
    }
  }
}

// The float packer against the rule written per value: special values (+-0, NaN, +-Inf, the
// smallest denormals) among random ones, every channel count 1..64, tails of the 16-position vectors.
void TestPackKernel(Context& ctx, const char* name, Isa isa, BinaryPackFn* kernel) {
  if (!Applies(ctx, isa)) return;
  Random rng(SeedFromName(name));
  const float specials[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-45f, -1e-45f, 1.0f, -1.0f};
  for (size_t channels = 1; channels <= 64; ++channels) {
    for (size_t positions : {1, 7, 16, 17, 40, 64, 100}) {
      const size_t plane_stride = positions + 3, out_stride = 3;
      std::vector<float> x(channels * plane_stride);
      for (float& v : x) v = rng.Next() % 4 == 0 ? specials[rng.Next() % 10] : static_cast<float>(rng.Uniform(-1, 1));
      for (uint32_t rule : {kPackSign, kPackHeaviside}) {
        std::vector<uint64_t> out(positions * out_stride + 2, 0x5A5A5A5A5A5A5A5Aull);
        kernel(channels, positions, x.data(), plane_stride, rule, out.data(), out_stride);
        for (size_t k = 0; k < out.size(); ++k) {
          uint64_t expected = 0x5A5A5A5A5A5A5A5Aull;
          if (k % out_stride == 0 && k / out_stride < positions) {
            expected = 0;
            for (size_t c = 0; c < channels; ++c) {
              const float v = x[c * plane_stride + k / out_stride];
              const bool minus = rule == kPackSign ? v < 0.0f : !(v > 0.0f);
              expected |= static_cast<uint64_t>(minus) << c;
            }
          }
          if (out[k] != expected) {
            ctx.Fail(std::string(name) + ": channels " + std::to_string(channels) + " positions " +
                     std::to_string(positions) + " rule " + std::to_string(rule) + ": word " + std::to_string(k) +
                     " differs");
            return;
          }
        }
      }
    }
  }
}

void RunBinaryPackFn(Context& ctx, const char* name, Isa isa, BinaryPackFn* kernel, bool) {
  TestPackKernel(ctx, name, isa, kernel);
}

void RunXnorGemmFn(Context& ctx, const char* name, Isa isa, XnorGemmFn* kernel, bool needs_vpopcntdq) {
  TestXnorKernel(ctx, name, isa, kernel, needs_vpopcntdq);
}
void RunXnorSignFn(Context& ctx, const char* name, Isa isa, XnorSignFn* kernel, bool needs_vpopcntdq) {
  TestXnorSignKernel(ctx, name, isa, kernel, needs_vpopcntdq);
}

bool RegisterAll() {
// Each kernel once: the vpopcnt slot repeats the other slot's kernels below avx512vnni.
#define QK_UKERNEL(slot, type, isa, function)                                                              \
  if (std::string(#slot).find("_vpopcnt") == std::string::npos || Isa::isa == Isa::kAvx512Vnni)       \
    RegisterTest(Mode::kIsa, "binary/ukernel/" #function, [](Context& ctx) {                              \
      Run##type(ctx, #function, Isa::isa, &function, std::string(#slot).find("_vpopcnt") != std::string::npos); \
    });
#include "ukernels/binary/registry.inc"
#undef QK_UKERNEL
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace test
}  // namespace qk
