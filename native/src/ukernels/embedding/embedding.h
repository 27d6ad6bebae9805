// Embedding-bag row microkernels: function types and parameter structs (declarations come from registry.inc via ukernels.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {

}  // namespace qk
