// XNOR-popcount kernel tests: every registered binary kernel the CPU can run against a naive popcount loop, exact.
//
// Sweeps mr = 1..MR, nc across and around the 8-channel block, kw from 1 to 70 words; the
// output tile sits inside sentinel-filled memory so a write past mr x nc shows.
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

void TestXnorKernel(Context& ctx, const char* name, Isa isa, XnorGemmFn* kernel, bool needs_vpopcntdq) {
  if (!Applies(ctx, isa)) return;
  if (needs_vpopcntdq && !GetCpuFeatures().avx512vpopcntdq) {
    ctx.Skip("this CPU has no AVX512_VPOPCNTDQ");
    return;
  }
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

// The sign form: the bytes of the tile against the naive sums compared with thresholds around
// their median (so both bit values occur), written inside sentinel bytes.
void TestXnorSignKernel(Context& ctx, const char* name, Isa isa, XnorSignFn* kernel, bool needs_vpopcntdq) {
  if (!Applies(ctx, isa)) return;
  if (needs_vpopcntdq && !GetCpuFeatures().avx512vpopcntdq) {
    ctx.Skip("this CPU has no AVX512_VPOPCNTDQ");
    return;
  }
  Random rng(SeedFromName(name));
  const size_t kws[] = {1, 2, 3, 5, 12, 27, 36, 70};
  for (size_t kw : kws) {
    for (size_t nc = kXnorNR; nc <= 9 * kXnorNR; nc += kXnorNR) {
      const size_t blocks = nc / kXnorNR;
      std::vector<uint64_t> w(blocks * kw * kXnorNR);
      for (uint64_t& v : w) v = rng.Next();
      const size_t lda = kw + 1;
      std::vector<uint64_t> a(kXnorMR * lda);
      for (uint64_t& v : a) v = rng.Next() & (rng.Next() % 4 == 0 ? 0 : ~uint64_t{0});
      const int32_t half = static_cast<int32_t>(32 * kw);
      for (int32_t threshold : {half - 3, half, half + 1, -1, static_cast<int32_t>(64 * kw)}) {
        for (size_t mr = 1; mr <= kXnorMR; ++mr) {
          const size_t ldb = nc / 8 + 3;
          std::vector<uint8_t> bits((kXnorMR + 1) * ldb, 0xA5);
          kernel(mr, nc, kw, a.data(), lda, w.data(), threshold, bits.data(), ldb);
          for (size_t i = 0; i <= kXnorMR; ++i) {
            for (size_t byte = 0; byte < ldb; ++byte) {
              uint32_t expected = 0xA5;
              if (i < mr && byte < nc / 8) {
                expected = 0;
                for (size_t l = 0; l < 8; ++l) {
                  const size_t j = 8 * byte + l;
                  int32_t sum = 0;
                  for (size_t k = 0; k < kw; ++k)
                    sum += static_cast<int32_t>(NaivePopcount(a[i * lda + k] ^ w[(j / kXnorNR) * kw * kXnorNR + k * kXnorNR + j % kXnorNR]));
                  expected |= static_cast<uint32_t>(sum > threshold) << l;
                }
              }
              if (bits[i * ldb + byte] != expected) {
                ctx.Fail(std::string(name) + ": kw " + std::to_string(kw) + " nc " + std::to_string(nc) + " mr " +
                         std::to_string(mr) + " threshold " + std::to_string(threshold) + ": byte [" + std::to_string(i) +
                         "][" + std::to_string(byte) + "] is " + std::to_string(bits[i * ldb + byte]) + ", expected " +
                         std::to_string(expected));
                return;
              }
            }
          }
        }
      }
    }
  }
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
  if (std::string(#slot) == "xnor_gemm" || std::string(#slot) == "xnor_sign" || Isa::isa == Isa::kAvx512Vnni) \
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
