// Error reporting for the native core: a Status carries the kind of error and its message.
#pragma once

#include <string>
#include <utility>

namespace qk {

// The kinds map one to one onto the JS errors the binding throws.
enum class ErrorKind { kOk, kTypeError, kRangeError, kError };

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status TypeError(std::string message) { return Status(ErrorKind::kTypeError, std::move(message)); }
  static Status RangeError(std::string message) { return Status(ErrorKind::kRangeError, std::move(message)); }
  static Status Error(std::string message) { return Status(ErrorKind::kError, std::move(message)); }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

 private:
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
};

#define QK_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::qk::Status qk_status_ = (expr);     \
    if (!qk_status_.ok()) return qk_status_; \
  } while (0)

}  // namespace qk
