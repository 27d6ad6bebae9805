// MoveBytes: memmove for the short runs the copy ops make by the thousand (a pixel's channels, a plane's row), inline; and the unaligned load/store it is made of.
//
// Runs of up to 64 bytes take a few overlapping 4-, 8- and 16-byte moves, every load before the
// first store (so overlap is safe, as memmove); longer ones call memmove. A memmove call per run
// cost more than the copy for runs of this size (1568 calls of 58 bytes in a channels-last cat,
// 12544 of 64 bytes in a channels-last nearest upsample of [1,64,56,56]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qk {

// A T from `p` at any alignment, and the same for a store (memcpy: no aliasing or alignment rules broken).
template <typename T>
inline T LoadUnaligned(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
inline void StoreUnaligned(uint8_t* p, const T& v) {
  std::memcpy(p, &v, sizeof(T));
}

namespace move_bytes_detail {

struct Bytes16 {
  uint8_t b[16];
};

}  // namespace move_bytes_detail

// MoveBytes' size classes on their own, for callers that pick the class once for many runs
// (every load before the first store, so overlap is safe).
inline void MoveBytes33To64(uint8_t* d, const uint8_t* s, size_t n) {
  using move_bytes_detail::Bytes16;
  const Bytes16 a = LoadUnaligned<Bytes16>(s), b = LoadUnaligned<Bytes16>(s + 16);
  const Bytes16 c = LoadUnaligned<Bytes16>(s + n - 32), e = LoadUnaligned<Bytes16>(s + n - 16);
  StoreUnaligned(d, a);
  StoreUnaligned(d + 16, b);
  StoreUnaligned(d + n - 32, c);
  StoreUnaligned(d + n - 16, e);
}

inline void MoveBytes17To32(uint8_t* d, const uint8_t* s, size_t n) {
  using move_bytes_detail::Bytes16;
  const Bytes16 a = LoadUnaligned<Bytes16>(s), b = LoadUnaligned<Bytes16>(s + n - 16);
  StoreUnaligned(d, a);
  StoreUnaligned(d + n - 16, b);
}

inline void MoveBytes(uint8_t* d, const uint8_t* s, size_t n) {
  if (n > 64) {
    std::memmove(d, s, n);
  } else if (n > 32) {
    MoveBytes33To64(d, s, n);
  } else if (n > 16) {
    MoveBytes17To32(d, s, n);
  } else if (n >= 8) {
    const uint64_t a = LoadUnaligned<uint64_t>(s), b = LoadUnaligned<uint64_t>(s + n - 8);
    StoreUnaligned(d, a);
    StoreUnaligned(d + n - 8, b);
  } else if (n >= 4) {
    const uint32_t a = LoadUnaligned<uint32_t>(s), b = LoadUnaligned<uint32_t>(s + n - 4);
    StoreUnaligned(d, a);
    StoreUnaligned(d + n - 4, b);
  } else if (n > 0) {
    const uint8_t a = s[0], b = s[n / 2], c = s[n - 1];
    d[0] = a;
    d[n / 2] = b;
    d[n - 1] = c;
  }
}

}  // namespace qk
