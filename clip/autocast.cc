#include "clip/autocast.h"

#include <ATen/autocast_mode.h>
#include <c10/core/ScalarType.h>

namespace clip {

AutocastGuard::AutocastGuard(bool cuda, Precision precision) : cuda_(cuda) {
  if (precision != Precision::kBf16 && precision != Precision::kFp16) return;
  const at::ScalarType dtype =
      precision == Precision::kBf16 ? at::kBFloat16 : at::kHalf;
  active_ = true;
  if (cuda_) {
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = static_cast<int>(at::autocast::get_autocast_gpu_dtype());
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = static_cast<int>(at::autocast::get_autocast_cpu_dtype());
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  const auto dtype = static_cast<at::ScalarType>(previous_dtype_);
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}

}  // namespace clip
