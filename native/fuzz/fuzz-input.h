// A reader over libFuzzer's byte string: small integers, booleans and spans, zeros once the bytes run out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qk {
namespace fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool Bool() { return (Byte() & 1) != 0; }
  // Mostly small values, sometimes huge ones: the validation paths must refuse both kinds of lie.
  size_t Size(size_t small_max) {
    const uint8_t selector = Byte();
    if (selector < 232) return Byte() % (small_max + 1);
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | Byte();
    return static_cast<size_t>(value);
  }
  int32_t Int32() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | Byte();
    return static_cast<int32_t>(value);
  }
  // The rest of the bytes (at most `max`).
  size_t Take(void* out, size_t bytes) {
    const size_t n = bytes < size_ - pos_ ? bytes : size_ - pos_;
    if (n > 0) std::memcpy(out, data_ + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A caller-side bound: the targets only run ops whose buffers this many bytes hold.
constexpr size_t kMaxBufferBytes = size_t{1} << 20;

}  // namespace fuzz
}  // namespace qk
