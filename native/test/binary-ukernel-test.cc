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
    for (size_t nc = 1; nc <= 3 * kXnorNR + 1; ++nc) {
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

bool RegisterAll() {
// Each kernel once: the vpopcnt slot repeats the other slot's kernels below avx512vnni.
#define QK_UKERNEL(slot, type, isa, function)                                                              \
  if (std::string(#slot) == "xnor_gemm" || Isa::isa == Isa::kAvx512Vnni)                                  \
    RegisterTest(Mode::kIsa, "binary/ukernel/" #function, [](Context& ctx) {                              \
      TestXnorKernel(ctx, #function, Isa::isa, &function, std::string(#slot) == "xnor_gemm_vpopcnt");       \
    });
#include "ukernels/binary/registry.inc"
#undef QK_UKERNEL
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace test
}  // namespace qk
