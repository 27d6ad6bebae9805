// The one wording of a bad-argument message in the native core ("Expected <what> for <parameter> but received <value>") and the one scale check.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "base/status.h"

namespace qk {

// lib/validate.ts words its errors the same way, so an error reads alike whichever side caught it.
inline std::string Expected(const std::string& what, const std::string& parameter, const std::string& received) {
  return "Expected " + what + " for " + parameter + " but received " + received;
}

// Which scales an op accepts: positive and finite, and for ops whose kernels read the scale as a
// float, still so once rounded to float32 (1e-50 is a positive double but rounds to 0).
enum class ScaleRule { kPositiveFinite, kPositiveFiniteInFloat32 };

inline bool ScaleOk(double scale, ScaleRule rule) {
  if (!(std::isfinite(scale) && scale > 0)) return false;
  if (rule == ScaleRule::kPositiveFinite) return true;
  const float rounded = static_cast<float>(scale);
  return std::isfinite(rounded) && rounded > 0;
}

// A message part given as text or as a callable that makes it. The checks below run on every
// call of an op (a traced plan's steps included), so they take the callable form where making
// the text costs something (a number printed, an indexed name) and call it only on failure.
template <typename Part>
std::string MessagePart(Part&& part) {
  if constexpr (std::is_invocable_v<Part&>) {
    return std::string(part());
  } else {
    return std::string(std::forward<Part>(part));
  }
}

// Ok, or a RangeError "Expected <what> for <parameter> but received <received>" (each op keeps
// its own wording of `what` and its own rendering of the number, which its callers may match).
// `parameter` and `received`: text or a callable (MessagePart), used only for the error.
template <typename Parameter, typename Received>
inline Status CheckScale(double scale, ScaleRule rule, const char* what, Parameter&& parameter, Received&& received) {
  if (ScaleOk(scale, rule)) return Status::Ok();
  return Status::RangeError(Expected(what, MessagePart(parameter), MessagePart(received)));
}

// Ok, or a RangeError "Expected integer in [lo, hi] for <parameter> but received <zero_point>".
template <typename Parameter>
inline Status CheckZeroPoint(int64_t zero_point, int64_t lo, int64_t hi, Parameter&& parameter) {
  if (zero_point >= lo && zero_point <= hi) return Status::Ok();
  return Status::RangeError(Expected("integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
                                     MessagePart(parameter), std::to_string(zero_point)));
}

}  // namespace qk
