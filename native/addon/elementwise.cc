// The binding of activations, quantized arithmetic and tensor ops.
#include "addon/common.h"

namespace qk {
namespace addon {

void RegisterElementwiseOps(Napi::Env env, Napi::Object exports) {}

}  // namespace addon
}  // namespace qk
