// Strided copy (ops/strided-copy.h): offset checks against both buffers, dim merging in the destination's order, and the specialised inner loops.
#include "ops/strided-copy.h"

#include <cmath>
#include <cstring>
#include <string>

#include "base/checked.h"
#include "base/expected.h"
#include "base/move-bytes.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qk {
namespace {

enum InnerKind { kStrided = 0, kMove = 1, kFill = 2, kTranspose = 3 };

// Tiles of the transpose: 16 source runs of 16 elements stay in L1 while the tile is written.
constexpr int64_t kTile = 16;

std::string List(const int64_t* values, size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

// The largest offset the box reaches with these strides; false when some offset is negative
// (a negative stride over more than one index) or the arithmetic overflows.
bool LargestOffset(const int64_t* shape, const int64_t* strides, size_t rank, size_t* largest) {
  size_t high = 0;
  for (size_t d = 0; d < rank; ++d) {
    if (shape[d] <= 1 || strides[d] == 0) continue;
    if (strides[d] < 0) return false;
    size_t extent = 0;
    if (!CheckedMul(static_cast<size_t>(shape[d] - 1), static_cast<size_t>(strides[d]), &extent)) return false;
    if (!CheckedAdd(high, extent, &high)) return false;
  }
  *largest = high;
  return true;
}

Status CheckOffsets(const StridedCopyParams& p, const int64_t* strides, size_t length, const char* parameter,
                    const char* buffer) {
  size_t largest = 0;
  if (LargestOffset(p.shape, strides, p.rank, &largest) && largest < length) return Status::Ok();
  return Status::RangeError(Expected("strides whose offsets over shape " + List(p.shape, p.rank) + " stay in [0, " +
                                         std::to_string(length) + ") (the elements of " + buffer + ")",
                                     parameter, List(strides, p.rank) + " of type object"));
}


// One run of the innermost dim (n elements), source and destination strides in elements.
template <typename T>
inline void CopyRun(int kind, const uint8_t* s, int64_t fs, uint8_t* d, int64_t ts, int64_t n) {
  constexpr int64_t E = sizeof(T);
  switch (kind) {
    case kMove:
      MoveBytes(d, s, static_cast<size_t>(n * E));
      return;
    case kFill: {
      const T v = LoadUnaligned<T>(s);
      if (ts == 1 && E == 1) {
        std::memset(d, static_cast<int>(LoadUnaligned<uint8_t>(s)), static_cast<size_t>(n));
      } else {
        for (int64_t i = 0; i < n; ++i) StoreUnaligned<T>(d + i * ts * E, v);
      }
      return;
    }
    default:
      for (int64_t i = 0; i < n; ++i) StoreUnaligned<T>(d + i * ts * E, LoadUnaligned<T>(s + i * fs * E));
      return;
  }
}

// An 8x8 block of bytes transposed in eight 64-bit words (word i, byte j = row i, column j; little
// endian): three rounds swap the off-diagonal 4x4, 2x2 and 1x1 blocks. Eight loads and eight stores
// for 64 bytes, where byte moves take 64 of each.
inline void Transpose8x8Bytes(const uint8_t* s, int64_t s_stride, uint8_t* d, int64_t d_stride) {
  uint64_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = LoadUnaligned<uint64_t>(s + i * s_stride);
  for (int i = 0; i < 4; ++i) {
    const uint64_t t = ((w[i] >> 32) ^ w[i + 4]) & 0x00000000FFFFFFFFull;
    w[i] ^= t << 32;
    w[i + 4] ^= t;
  }
  for (int i : {0, 1, 4, 5}) {
    const uint64_t t = ((w[i] >> 16) ^ w[i + 2]) & 0x0000FFFF0000FFFFull;
    w[i] ^= t << 16;
    w[i + 2] ^= t;
  }
  for (int i : {0, 2, 4, 6}) {
    const uint64_t t = ((w[i] >> 8) ^ w[i + 1]) & 0x00FF00FF00FF00FFull;
    w[i] ^= t << 8;
    w[i + 1] ^= t;
  }
  for (int i = 0; i < 8; ++i) StoreUnaligned<uint64_t>(d + i * d_stride, w[i]);
}

#if defined(__SSE2__)
// A 16x16 block of bytes transposed with SSE2 (every x86-64 CPU has it): four rounds of the
// perfect shuffle (row 2i, 2i+1 <- the low, high interleave of rows i and i + 8) transpose it;
// 64 unpacks, 16 loads and 16 stores for 256 bytes (four 8x8 word blocks take about 350 ops).
static_assert(kTile == 16, "the SSE2 transpose takes whole 16x16 tiles");
inline void Transpose16x16Bytes(const uint8_t* s, int64_t s_stride, uint8_t* d, int64_t d_stride) {
  __m128i x[16], y[16];
  for (int i = 0; i < 16; ++i) x[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i * s_stride));
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 8; ++i) {
      y[2 * i] = _mm_unpacklo_epi8(x[i], x[i + 8]);
      y[2 * i + 1] = _mm_unpackhi_epi8(x[i], x[i + 8]);
    }
    for (int i = 0; i < 16; ++i) x[i] = y[i];
  }
  for (int i = 0; i < 16; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i * d_stride), x[i]);
}
#endif

constexpr bool kLittleEndian =
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
    false;
#endif

// rows x cols where the source is contiguous along rows and the destination along cols:
// dst[r * tr + c] = src[r + c * fc], in kTile x kTile tiles (bytes: 8x8 word blocks inside).
template <typename T>
inline void Transpose(const uint8_t* s, int64_t fc, uint8_t* d, int64_t tr, int64_t rows, int64_t cols) {
  constexpr int64_t E = sizeof(T);
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = r0 + kTile < rows ? r0 + kTile : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = c0 + kTile < cols ? c0 + kTile : cols;
      int64_t r = r0;
#if defined(__SSE2__)
      if (E == 1 && r1 - r0 == kTile && c1 - c0 == kTile) {
        Transpose16x16Bytes(s + r0 + c0 * fc, fc, d + r0 * tr + c0, tr);
        continue;
      }
#endif
      if (E == 1 && kLittleEndian) {
        // Whole 8x8 blocks; the edge rows and columns below.
        const int64_t c8 = c0 + ((c1 - c0) & ~int64_t{7});
        for (; r + 8 <= r1; r += 8) {
          for (int64_t c = c0; c < c8; c += 8) Transpose8x8Bytes(s + r + c * fc, fc, d + r * tr + c, tr);
          for (int64_t rr = r; rr < r + 8; ++rr) {
            for (int64_t c = c8; c < c1; ++c) d[rr * tr + c] = s[rr + c * fc];
          }
        }
      }
      for (; r < r1; ++r) {
        uint8_t* out = d + r * tr * E;
        const uint8_t* in = s + r * E;
        for (int64_t c = c0; c < c1; ++c) StoreUnaligned<T>(out + c * E, LoadUnaligned<T>(in + c * fc * E));
      }
    }
  }
}

// `rows` runs of `bytes` bytes (source rows fs bytes apart, destination rows ts apart), MoveBytes'
// size classes chosen once for all the rows: the runs of a channel shuffle or a channels-last
// copy are tens of bytes, where CopyBox's per-run dispatch and odometer cost more than the move.
// `disjoint`: source and destination buffers do not overlap, so a run longer than 64 bytes may
// move block by block (else it takes MoveBytes' memmove, as before).
inline void MoveRows(const uint8_t* s, int64_t fs, uint8_t* d, int64_t ts, int64_t rows, size_t bytes, bool disjoint) {
  using Bytes16 = move_bytes_detail::Bytes16;
  if (bytes > 32 && bytes <= 64) {
    for (int64_t r = 0; r < rows; ++r, s += fs, d += ts) MoveBytes33To64(d, s, bytes);
  } else if (bytes > 16 && bytes <= 32) {
    for (int64_t r = 0; r < rows; ++r, s += fs, d += ts) MoveBytes17To32(d, s, bytes);
  } else if (disjoint && bytes > 64 && bytes <= 256) {
    // 16-byte blocks, the last one overlapping the one before it: a memmove call per run of a
    // few hundred bytes cost more than these moves (channel shuffle of [1,232,14,14]: 196 bytes).
    for (int64_t r = 0; r < rows; ++r, s += fs, d += ts) {
      size_t i = 0;
      for (; i + 16 <= bytes; i += 16) StoreUnaligned(d + i, LoadUnaligned<Bytes16>(s + i));
      if (i < bytes) StoreUnaligned(d + bytes - 16, LoadUnaligned<Bytes16>(s + bytes - 16));
    }
  } else {
    for (int64_t r = 0; r < rows; ++r, s += fs, d += ts) MoveBytes(d, s, bytes);
  }
}

// fn(s, d) for every index of the `outer` outermost dims in order, with the element offsets
// (source, destination) of that block: an odometer over the dims.
template <typename Fn>
inline void ForEachBlock(size_t outer, const int64_t* size, const int64_t* from, const int64_t* to, Fn fn) {
  int64_t blocks = 1;
  for (size_t k = 0; k < outer; ++k) blocks *= size[k];
  int64_t index[kMaxStridedCopyRank] = {};
  int64_t s = 0, d = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    fn(s, d);
    for (size_t k = outer; k-- > 0;) {
      s += from[k];
      d += to[k];
      if (++index[k] < size[k]) break;
      s -= from[k] * size[k];
      d -= to[k] * size[k];
      index[k] = 0;
    }
  }
}

template <typename T>
void CopyBox(int kind, size_t rank, const int64_t* size, const int64_t* from, const int64_t* to, const uint8_t* src,
             uint8_t* dst, bool disjoint) {
  constexpr int64_t E = sizeof(T);
  if (rank == 0) {
    StoreUnaligned<T>(dst, LoadUnaligned<T>(src));
    return;
  }
  if (kind == kMove && rank >= 2) {
    // Runs contiguous on both sides: the dim outside them is a loop of MoveRows, the rest an odometer.
    const size_t mid = rank - 2;
    const size_t bytes = static_cast<size_t>(size[rank - 1] * E);
    const int64_t rows = size[mid], fs = from[mid] * E, ts = to[mid] * E;
    ForEachBlock(mid, size, from, to,
                 [&](int64_t s, int64_t d) { MoveRows(src + s * E, fs, dst + d * E, ts, rows, bytes, disjoint); });
    return;
  }
  const size_t last = rank - 1;
  ForEachBlock(rank - (kind == kTranspose ? 2 : 1), size, from, to, [&](int64_t s, int64_t d) {
    if (kind == kTranspose) {
      Transpose<T>(src + s * E, from[last], dst + d * E, to[last - 1], size[last - 1], size[last]);
    } else {
      CopyRun<T>(kind, src + s * E, from[last], dst + d * E, to[last], size[last]);
    }
  });
}

}  // namespace

void TransposeBytes(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t rows, int64_t cols) {
  Transpose<uint8_t>(src, src_stride, dst, dst_stride, rows, cols);
}

Status ReadStridedCopyLayout(const double* values, size_t count, StridedCopyParams* params) {
  const double rank = count > 0 ? values[0] : -1;
  if (!(rank >= 0 && rank <= static_cast<double>(kMaxStridedCopyRank)) || std::floor(rank) != rank ||
      count != 1 + 3 * static_cast<size_t>(rank)) {
    return Status::RangeError(Expected("Float64Array [rank, shape, srcStrides, dstStrides] with rank in [0, " +
                                           std::to_string(kMaxStridedCopyRank) + "]",
                                       "layout", std::to_string(count) + " values of type Float64Array"));
  }
  params->rank = static_cast<size_t>(rank);
  static const char* const kNames[3] = {"shape", "srcStrides", "dstStrides"};
  int64_t* const targets[3] = {params->shape, params->src_strides, params->dst_strides};
  for (size_t part = 0; part < 3; ++part) {
    for (size_t d = 0; d < params->rank; ++d) {
      const double v = values[1 + part * params->rank + d];
      const bool exact = std::fabs(v) <= 9007199254740991.0 && std::floor(v) == v;
      if (!exact || (part == 0 && v < 0)) {
        return Status::RangeError(Expected(part == 0 ? "non-negative integer" : "integer exact in a double",
                                           std::string(kNames[part]) + "[" + std::to_string(d) + "]",
                                           std::to_string(v) + " of type number"));
      }
      targets[part][d] = static_cast<int64_t>(v);
    }
  }
  return Status::Ok();
}

Status StridedCopyOp::Prepare(const StridedCopyParams& p, std::shared_ptr<const StridedCopyOp>* out) {
  auto op = std::make_shared<StridedCopyOp>();
  QK_RETURN_IF_ERROR(PrepareInto(p, op.get()));
  *out = std::move(op);
  return Status::Ok();
}

Status StridedCopyOp::PrepareInto(const StridedCopyParams& p, StridedCopyOp* op) {
  const size_t e = p.element_bytes;
  if (e != 1 && e != 2 && e != 4 && e != 8) {
    return Status::RangeError(Expected("1, 2, 4 or 8", "elementBytes", std::to_string(e) + " of type number"));
  }
  if (p.rank > kMaxStridedCopyRank) {
    return Status::RangeError(
        Expected("at most " + std::to_string(kMaxStridedCopyRank) + " dims", "shape", std::to_string(p.rank) + " dims of type object"));
  }
  op->element_bytes_ = e;
  if (!CheckedShapeProduct(p.shape, p.rank, &op->numel_)) {
    return Status::RangeError(Expected("non-negative sizes whose product fits size_t", "shape", List(p.shape, p.rank) + " of type object"));
  }
  if (!CheckedBytes(p.src_length, e, &op->src_bytes_) || !CheckedBytes(p.dst_length, e, &op->dst_bytes_)) {
    return Status::RangeError(Expected("buffers whose byte length fits size_t", "src", std::to_string(p.src_length) + " elements of type object"));
  }
  if (op->numel_ == 0) {  // nothing is read or written
    op->writes_whole_output_ = p.dst_length == 0;
    return Status::Ok();
  }
  // Every offset of the box inside both buffers: Run then needs no checks of its own (and the
  // stride * size products below cannot overflow).
  QK_RETURN_IF_ERROR(CheckOffsets(p, p.src_strides, p.src_length, "srcStrides", "src"));
  QK_RETURN_IF_ERROR(CheckOffsets(p, p.dst_strides, p.dst_length, "dstStrides", "dst"));

  // The dims in the destination's memory order (largest stride first, then the source's),
  // size-1 dims dropped: their index is always 0.
  size_t order[kMaxStridedCopyRank];
  size_t n = 0;
  for (size_t d = 0; d < p.rank; ++d) {
    if (p.shape[d] == 1) continue;
    size_t at = n++;
    while (at > 0) {
      const size_t prev = order[at - 1];
      const bool before = p.dst_strides[d] > p.dst_strides[prev] ||
                          (p.dst_strides[d] == p.dst_strides[prev] && p.src_strides[d] > p.src_strides[prev]);
      if (!before) break;
      order[at] = prev;
      --at;
    }
    order[at] = d;
  }
  // Every dst element written once: the dims, innermost first, tile dst densely (strides 1,
  // size, size * size, ...) and cover all of it.
  size_t dense = 1;
  bool tiles = true;
  for (size_t i = n; i-- > 0 && tiles;) {
    const size_t d = order[i];
    tiles = p.dst_strides[d] == static_cast<int64_t>(dense);
    dense *= static_cast<size_t>(p.shape[d]);
  }
  op->writes_whole_output_ = tiles && dense == p.dst_length;
  // Neighbours merge when both layouts step over the inner one's whole extent as one outer step.
  size_t rank = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t d = order[i];
    if (rank > 0 && op->from_[rank - 1] == p.src_strides[d] * p.shape[d] &&
        op->to_[rank - 1] == p.dst_strides[d] * p.shape[d]) {
      op->size_[rank - 1] *= p.shape[d];
      op->from_[rank - 1] = p.src_strides[d];
      op->to_[rank - 1] = p.dst_strides[d];
      continue;
    }
    op->size_[rank] = p.shape[d];
    op->from_[rank] = p.src_strides[d];
    op->to_[rank] = p.dst_strides[d];
    ++rank;
  }
  op->rank_ = rank;

  op->inner_kind_ = kStrided;
  if (rank > 0) {
    const size_t last = rank - 1;
    if (op->from_[last] == 1 && op->to_[last] == 1) {
      op->inner_kind_ = kMove;
    } else if (op->from_[last] == 0) {
      op->inner_kind_ = kFill;
    } else if (op->to_[last] == 1 && op->size_[last] >= 4) {
      // A source contiguous along an outer dim (NHWC -> NCHW, channel shuffle's transposes):
      // that dim moves next to the innermost one (the visiting order of the outer dims does not
      // change what is copied) and the pair runs as a tiled transpose.
      for (size_t k = last; k-- > 0;) {
        if (op->from_[k] != 1 || op->size_[k] < 4) continue;
        const int64_t size = op->size_[k], from = op->from_[k], to = op->to_[k];
        for (size_t j = k; j + 1 < last; ++j) {
          op->size_[j] = op->size_[j + 1];
          op->from_[j] = op->from_[j + 1];
          op->to_[j] = op->to_[j + 1];
        }
        op->size_[last - 1] = size;
        op->from_[last - 1] = from;
        op->to_[last - 1] = to;
        op->inner_kind_ = kTranspose;
        break;
      }
    }
  }
  return Status::Ok();
}

Status StridedCopyOp::Run(const void* const* inputs, void* output, void*) const {
  if (numel_ == 0) return Status::Ok();
  const uint8_t* src = static_cast<const uint8_t*>(inputs[0]);
  uint8_t* dst = static_cast<uint8_t*>(output);
  // Compared as integers: pointers into different buffers have no order in C++.
  const uintptr_t s0 = reinterpret_cast<uintptr_t>(src), d0 = reinterpret_cast<uintptr_t>(dst);
  const bool disjoint = s0 + src_bytes_ <= d0 || d0 + dst_bytes_ <= s0;
  switch (element_bytes_) {
    case 1: CopyBox<uint8_t>(inner_kind_, rank_, size_, from_, to_, src, dst, disjoint); break;
    case 2: CopyBox<uint16_t>(inner_kind_, rank_, size_, from_, to_, src, dst, disjoint); break;
    case 4: CopyBox<uint32_t>(inner_kind_, rank_, size_, from_, to_, src, dst, disjoint); break;
    default: CopyBox<uint64_t>(inner_kind_, rank_, size_, from_, to_, src, dst, disjoint); break;
  }
  return Status::Ok();
}

}  // namespace qk
