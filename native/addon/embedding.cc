// The binding of embedding and embedding-bag (prepack, unpack, lookups).
#include "addon/common.h"

namespace qk {
namespace addon {

void RegisterEmbeddingOps(Napi::Env env, Napi::Object exports) {}

}  // namespace addon
}  // namespace qk
