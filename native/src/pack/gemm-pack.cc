// GEMM weight packing and A panels for every kernel layout (the format is described in gemm-pack.h).
#include "pack/gemm-pack.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "base/checked.h"
#include "base/expected.h"
#include "ukernels/dispatch.h"

namespace qk {
namespace {

struct IgemmPair {
  const char* gemm_name;  // the u8 kernel's name: pairs are matched by name (below)
  IgemmU8Fn* igemm;
  const char* name;
};
constexpr IgemmPair kIgemmPairs[] = {
#define QK_IGEMM_LAYOUT(u8_kernel, igemm_kernel) IgemmPair{#u8_kernel, &igemm_kernel, #igemm_kernel},
#include "ukernels/gemm/registry.inc"
#undef QK_IGEMM_LAYOUT
};
struct IgemmStridedPair {
  const char* gemm_name;
  IgemmStridedU8Fn* kernel;
  const char* name;
};
constexpr IgemmStridedPair kIgemmStridedPairs[] = {
#define QK_IGEMM_STRIDED_LAYOUT(u8_kernel, strided_kernel) IgemmStridedPair{#u8_kernel, &strided_kernel, #strided_kernel},
#include "ukernels/gemm/registry.inc"
#undef QK_IGEMM_STRIDED_LAYOUT
};

constexpr bool SameName(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// The layout with its indirect kernels, if QK_IGEMM_LAYOUT / QK_IGEMM_STRIDED_LAYOUT lines pair them with its u8 kernel.
// constexpr, so kLayouts stays constant-initialized: other files' static initializers (the
// tests' registration) read it. The kernels are matched by name, not by address: the equality
// of two functions' addresses is not a constant expression under every build (GCC's
// sanitizer build refuses it).
constexpr GemmLayout WithIgemm(GemmLayout l) {
  for (const IgemmPair& pair : kIgemmPairs) {
    if (SameName(pair.gemm_name, l.u8_name)) {
      l.igemm_kernel = pair.igemm;
      l.igemm_name = pair.name;
    }
  }
  for (const IgemmStridedPair& pair : kIgemmStridedPairs) {
    if (SameName(pair.gemm_name, l.u8_name)) {
      l.igemm_strided_kernel = pair.kernel;
      l.igemm_strided_name = pair.name;
    }
  }
  return l;
}

constexpr GemmLayout kLayouts[] = {
#define QK_GEMM_LAYOUT(isa, mr, nr, kr, a_format, w_format, exactness, u8_kernel, f32_kernel)                  \
  WithIgemm(GemmLayout{Isa::isa, mr, nr, kr, GemmAFormat::a_format, GemmWFormat::w_format,                     \
                       GemmExactness::exactness, &u8_kernel, &f32_kernel, #u8_kernel, #f32_kernel}),
#include "ukernels/gemm/registry.inc"
#undef QK_GEMM_LAYOUT
};

constexpr size_t kAlign = 64;

template <typename T>
void PackBlock(const GemmLayout& l, size_t n, size_t k, size_t kpad, const int8_t* w, const int32_t* w_zp,
               size_t n0, uint8_t* block) {
  int32_t* colsum = reinterpret_cast<int32_t*>(block);
  int32_t* zps = colsum + l.nr;
  T* out = reinterpret_cast<T*>(zps + l.nr);
  for (size_t j = 0; j < l.nr; ++j) {
    const size_t col = n0 + j;
    int32_t sum = 0;
    for (size_t g = 0; g < kpad / l.kr; ++g) {
      for (size_t r = 0; r < l.kr; ++r) {
        const size_t kk = g * l.kr + r;
        const int32_t v = (col < n && kk < k) ? w[col * k + kk] : 0;
        out[(g * l.nr + j) * l.kr + r] = static_cast<T>(v);
        sum += v;  // |sum| <= 128 * k: no overflow for any k a Linear can have (k < 2^24)
      }
    }
    colsum[j] = sum;
    zps[j] = col < n ? w_zp[col] : 0;
  }
}

// True when every pair (w[j][2t], w[j][2t+1]) has |w0| + |w1| <= 128 (a lone last element always does).
bool WeightPairsSafe(size_t n, size_t k, const int8_t* w) {
  for (size_t j = 0; j < n; ++j) {
    const int8_t* row = w + j * k;
    for (size_t kk = 0; kk + 1 < k; kk += 2) {
      if (std::abs(static_cast<int32_t>(row[kk])) + std::abs(static_cast<int32_t>(row[kk + 1])) > 128) return false;
    }
  }
  return true;
}

template <typename T>
void PackRows(size_t rows, size_t k, size_t kpad, const uint8_t* a, size_t lda, int32_t a_zp, uint8_t* panel,
              size_t row_bytes, int32_t* row_terms, uint8_t flip) {
  for (size_t i = 0; i < rows; ++i) {
    const uint8_t* src = a + i * lda;
    T* dst = reinterpret_cast<T*>(panel + i * row_bytes);
    uint32_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) {
      sum += src[kk];
      dst[kk] = static_cast<T>(static_cast<uint8_t>(src[kk] ^ flip));
    }
    for (size_t kk = k; kk < kpad; ++kk) dst[kk] = 0;
    row_terms[i] = static_cast<int32_t>(static_cast<uint32_t>(k) * static_cast<uint32_t>(a_zp) - sum);
  }
}

}  // namespace

bool ActivationsAre7Bit(size_t m, size_t k, const uint8_t* a, size_t lda) {
  for (size_t i = 0; i < m; ++i) {
    const uint8_t* row = a + i * lda;
    uint8_t any = 0;
    for (size_t kk = 0; kk < k; ++kk) any |= row[kk];
    if (any & 0x80) return false;
  }
  return true;
}

size_t RoundUp(size_t x, size_t multiple) { return (x + multiple - 1) / multiple * multiple; }

size_t GemmLayoutCount() { return sizeof(kLayouts) / sizeof(kLayouts[0]); }
const GemmLayout& GemmLayoutAt(size_t index) { return kLayouts[index]; }

bool GemmLayoutForIsa(Isa isa, GemmLayout* out) {
  const DispatchTable& table = DispatchFor(isa);
  for (const GemmLayout& l : kLayouts) {
    if (l.u8_kernel == table.qu8_gemm && l.f32_kernel == table.qu8_f32_gemm) {
      *out = l;
      return true;
    }
  }
  return false;
}

Status PackedGemm::Create(const GemmLayout& layout, size_t n, size_t k, const int8_t* w, const int32_t* w_zero_points,
                          std::shared_ptr<const PackedGemm>* out) {
  auto p = std::make_shared<PackedGemm>();
  p->layout_ = layout;
  p->n_ = n;
  p->k_ = k;
  p->kpad_ = RoundUp(k == 0 ? 1 : k, layout.kr);
  p->blocks_ = (n + layout.nr - 1) / layout.nr;
  size_t weight_bytes = 0, total = 0, a_bytes = 0;
  if (!CheckedMul(p->kpad_, layout.nr * GemmWElementBytes(layout.w_format), &weight_bytes) ||
      !CheckedMul(p->kpad_, GemmAElementBytes(layout.a_format), &a_bytes) || k > (size_t{1} << 30)) {
    return Status::RangeError(Expected("in_features that fit in memory", "weight", std::to_string(k)));
  }
  p->block_bytes_ = RoundUp(weight_bytes + 2 * layout.nr * sizeof(int32_t), kAlign);
  p->a_row_bytes_ = RoundUp(a_bytes, kAlign);
  if (!CheckedMul(p->block_bytes_, p->blocks_, &total) || !CheckedAdd(total, kAlign, &total)) {
    return Status::RangeError("Expected a weight whose packed size fits in memory but received " +
                              std::to_string(n) + " x " + std::to_string(k));
  }
  p->storage_.reset(new uint8_t[total]);
  p->base_ = p->storage_.get() + (kAlign - reinterpret_cast<uintptr_t>(p->storage_.get()) % kAlign) % kAlign;
  for (size_t b = 0; b < p->blocks_; ++b) {
    uint8_t* block = p->base_ + b * p->block_bytes_;
    std::memset(block, 0, p->block_bytes_);
    if (layout.w_format == GemmWFormat::kS16) {
      PackBlock<int16_t>(layout, n, k, p->kpad_, w, w_zero_points, b * layout.nr, block);
    } else {
      PackBlock<int8_t>(layout, n, k, p->kpad_, w, w_zero_points, b * layout.nr, block);
    }
  }
  if (layout.exactness == GemmExactness::kPairProof) {
    p->pairs_safe_ = WeightPairsSafe(n, k, w);
    if (!p->pairs_safe_) {
      const GemmLayout* exact = nullptr;
      for (const GemmLayout& l : kLayouts) {
        if (l.isa == layout.isa && l.exactness == GemmExactness::kAlways) exact = &l;
      }
      if (exact == nullptr) return Status::Error("no exact GEMM layout beside " + std::string(layout.u8_name));
      QK_RETURN_IF_ERROR(Create(*exact, n, k, w, w_zero_points, &p->exact_twin_));
    }
  }
  *out = std::move(p);
  return Status::Ok();
}

const PackedGemm& GemmPackForCall(const PackedGemm& packed, size_t m, const uint8_t* a, size_t lda) {
  const PackedGemm* twin = packed.exact_twin();
  if (twin == nullptr || ActivationsAre7Bit(m, packed.k(), a, lda)) return packed;
  return *twin;
}

void PackGemmA(const PackedGemm& packed, size_t rows, const uint8_t* a, size_t lda, int32_t a_zero_point,
               uint8_t* panel, int32_t* row_terms) {
  const GemmLayout& l = packed.layout();
  switch (l.a_format) {
    case GemmAFormat::kU8:
      PackRows<uint8_t>(rows, packed.k(), packed.kpad(), a, lda, a_zero_point, panel, packed.a_row_bytes(), row_terms, 0);
      break;
    case GemmAFormat::kS16:
      PackRows<int16_t>(rows, packed.k(), packed.kpad(), a, lda, a_zero_point, panel, packed.a_row_bytes(), row_terms, 0);
      break;
    case GemmAFormat::kS8Flip:
      PackRows<int8_t>(rows, packed.k(), packed.kpad(), a, lda, a_zero_point, panel, packed.a_row_bytes(), row_terms,
                       0x80);
      break;
  }
}

}  // namespace qk
