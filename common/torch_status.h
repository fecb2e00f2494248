// The one bridge from LibTorch's exceptions to absl::Status: runs a callable
// and turns a c10::Error (reported without its C++ backtrace) or any other
// std::exception into a status of the caller's code, prefixed with what was
// being done. The code is the caller's because the same exception means
// different things in different places: a collective that throws is
// UNAVAILABLE (a peer went away), a model step that throws is INTERNAL, a
// checkpoint that does not load is DATA_LOSS.
//
// Includes only c10's exception header, not <torch/torch.h>.
#ifndef COMMON_TORCH_STATUS_H_
#define COMMON_TORCH_STATUS_H_

#include <c10/util/Exception.h>

#include <exception>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace common {

// `f` returns void: OK, or `code` with "what: <exception message>".
template <typename F>
absl::Status CatchTorch(absl::StatusCode code, absl::string_view what, F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const c10::Error& e) {
    return absl::Status(code,
                        absl::StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::Status(code, absl::StrCat(what, ": ", e.what()));
  }
  return absl::OkStatus();
}

// `f` returns a value T: that value, or the status as above.
template <typename F, typename T = std::invoke_result_t<F>>
absl::StatusOr<T> CatchTorchOr(absl::StatusCode code, absl::string_view what,
                               F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const c10::Error& e) {
    return absl::Status(code,
                        absl::StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::Status(code, absl::StrCat(what, ": ", e.what()));
  }
}

}  // namespace common

#endif  // COMMON_TORCH_STATUS_H_
