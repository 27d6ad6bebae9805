// What the test files of qk_test_avx512emu share: case registration, seeds, and arrays that end at a guard page.
//
// Guard pages: the emulation reads no masked-off lane, and the kernels' tails
// rely on that; a read one element too far has to fail the default
// (unsanitized) run, not only the AddressSanitizer one. A PageEndArray's last
// element is followed by an inaccessible page, so such a read faults at once.
// Where mmap is missing this degrades to an exact-size heap block, which
// AddressSanitizer still guards. A fault stops the process; SetFaultLabel names
// what was running, so the message says which kernel, n and parameters went
// out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"

namespace qk {
namespace test {

// Registers a case that belongs to the avx512vnni run (--isa avx512vnni) and is
// excluded from the others: the whole binary is about that one level, and its
// cases need no AVX-512 CPU, so they are never skipped for the lack of one.
inline bool RegisterEmulatedTest(const std::string& name, TestFn fn) {
  return RegisterTest(Mode::kIsa, name, [fn](Context& ctx) {
    if (GetOptions().isa != Isa::kAvx512Vnni) {
      ctx.Exclude();
      return;
    }
    fn(ctx);
  });
}

// FNV-1a of a case name: a seed that differs per case and is the same on every platform.
inline uint64_t SeedFromName(const std::string& name) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (char c : name) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  return hash;
}

// Names the work in progress for the message printed on SIGSEGV / SIGBUS. The
// first call installs the handler, unless one is there already (AddressSanitizer's
// reports the fault with a stack trace, which is better).
void SetFaultLabel(const std::string& label);

// Raw bytes: [data(), data() + size) is read-write, data() + size is the first
// byte of a page that cannot be read or written.
class PageEndBytes {
 public:
  explicit PageEndBytes(size_t size);
  ~PageEndBytes();
  PageEndBytes(const PageEndBytes&) = delete;
  PageEndBytes& operator=(const PageEndBytes&) = delete;
  unsigned char* data() const { return data_; }

 private:
  unsigned char* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  unsigned char* data_ = nullptr;
};

// A copy of `values` whose last element is the last accessible one.
template <typename T>
class PageEndArray {
 public:
  explicit PageEndArray(const std::vector<T>& values) : bytes_(values.size() * sizeof(T)), size_(values.size()) {
    if (size_ != 0) std::memcpy(bytes_.data(), values.data(), size_ * sizeof(T));
  }
  T* data() const { return reinterpret_cast<T*>(bytes_.data()); }
  size_t size() const { return size_; }

 private:
  PageEndBytes bytes_;
  size_t size_;
};

}  // namespace test
}  // namespace qk
