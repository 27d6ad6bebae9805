// The one wording of a bad-argument message in the native core: "Expected <what> for <parameter> but received <value>".
#pragma once

#include <string>

namespace qk {

// lib/validate.ts words its errors the same way, so an error reads alike whichever side caught it.
inline std::string Expected(const std::string& what, const std::string& parameter, const std::string& received) {
  return "Expected " + what + " for " + parameter + " but received " + received;
}

}  // namespace qk
