// The binding of linear, conv and conv-transpose (prepack and run).
#include "addon/common.h"

namespace qk {
namespace addon {

void RegisterLinearConvOps(Napi::Env env, Napi::Object exports) {}

}  // namespace addon
}  // namespace qk
