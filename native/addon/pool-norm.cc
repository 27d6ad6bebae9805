// The binding of pooling, normalization and resampling.
#include "addon/common.h"

namespace qk {
namespace addon {

void RegisterPoolNormOps(Napi::Env env, Napi::Object exports) {}

}  // namespace addon
}  // namespace qk
