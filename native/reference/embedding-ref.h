// Reference embedding-bag lookup: PyTorch 1.13's fallback loop (qembeddingbag.cpp) and float nn.EmbeddingBag's mean/max, element by element.
//
// Written to be read against PyTorch rather than to be fast, and independent of the
// kernels' helpers (its own fp16 decoding, its own row addressing). The arguments must
// already be valid (EmbeddingBagLookup's checks); the C++ tests call it only then.
#pragma once

#include <cstddef>

#include "base/params-embedding.h"

namespace qk {

// out: bags x dim floats, every element written.
void EmbeddingBagRef(const EmbeddingBagArgs& args, size_t bags, float* out);

}  // namespace qk
