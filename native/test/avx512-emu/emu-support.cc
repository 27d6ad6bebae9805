// Guard pages for qk_test_avx512emu: mmap a block, make the page after the data inaccessible, report faults by label.
#include "emu-support.h"

#include <cstdio>
#include <cstdlib>
#include <new>

#if defined(__unix__) || defined(__APPLE__)
#define QK_HAVE_GUARD_PAGES 1
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#else
#define QK_HAVE_GUARD_PAGES 0
#endif

namespace qk {
namespace test {
namespace {

char fault_label[512] = "(nothing labelled yet)";

#if QK_HAVE_GUARD_PAGES
void OnFault(int signal_number) {
  // Only async-signal-safe calls here: write and _exit.
  const char head[] = "\nFAULT: touched memory outside its buffers (a guard page) while running ";
  const char tail[] = "\nthe test stops here; this is a failure\n";
  ssize_t ignored = write(STDOUT_FILENO, head, sizeof(head) - 1);
  ignored = write(STDOUT_FILENO, fault_label, std::strlen(fault_label));
  ignored = write(STDOUT_FILENO, tail, sizeof(tail) - 1);
  (void)ignored;
  (void)signal_number;
  _exit(1);
}

void InstallFaultHandlerOnce() {
  static const bool installed = [] {
    for (int signal_number : {SIGSEGV, SIGBUS}) {
      struct sigaction current;
      if (sigaction(signal_number, nullptr, &current) != 0) continue;
      const bool taken = (current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL;
      if (taken) continue;  // e.g. AddressSanitizer's handler
      struct sigaction action;
      std::memset(&action, 0, sizeof(action));
      action.sa_handler = OnFault;
      sigemptyset(&action.sa_mask);
      sigaction(signal_number, &action, nullptr);
    }
    return true;
  }();
  (void)installed;
}
#endif

}  // namespace

void SetFaultLabel(const std::string& label) {
#if QK_HAVE_GUARD_PAGES
  InstallFaultHandlerOnce();
#endif
  std::snprintf(fault_label, sizeof(fault_label), "%s", label.c_str());
  std::fflush(stdout);  // _exit in the handler would drop what is still buffered
}

#if QK_HAVE_GUARD_PAGES

PageEndBytes::PageEndBytes(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t data_pages = (size + page - 1) / page;
  mapping_size_ = (data_pages + 1) * page;
  void* mapping = mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::bad_alloc();
  mapping_ = static_cast<unsigned char*>(mapping);
  unsigned char* guard = mapping_ + data_pages * page;
  if (mprotect(guard, page, PROT_NONE) != 0) {
    std::perror("mprotect");
    std::abort();
  }
  data_ = guard - size;
}

PageEndBytes::~PageEndBytes() { munmap(mapping_, mapping_size_); }

#else

PageEndBytes::PageEndBytes(size_t size) {
  mapping_ = new unsigned char[size == 0 ? 1 : size];
  mapping_size_ = size;
  data_ = mapping_;
}

PageEndBytes::~PageEndBytes() { delete[] mapping_; }

#endif

}  // namespace test
}  // namespace qk
