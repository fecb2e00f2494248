// Early-return helpers for absl::Status and absl::StatusOr.
//
// Debian's Abseil (20220623) ships neither ABSL_RETURN_IF_ERROR nor
// ABSL_ASSIGN_OR_RETURN, so the project defines its own pair once, here.
#ifndef COMMON_STATUS_MACROS_H_
#define COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define STATUS_MACROS_CONCAT_(x, y) STATUS_MACROS_CONCAT_INNER_(x, y)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status status_macros_status_ = (expr); \
    if (!status_macros_status_.ok()) {             \
      return status_macros_status_;                \
    }                                              \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise move-assigns the value to `lhs`, which may be a declaration:
//   ASSIGN_OR_RETURN(auto file, ReadSafetensors(path));
#define ASSIGN_OR_RETURN(lhs, rexpr)                                       \
  ASSIGN_OR_RETURN_IMPL_(STATUS_MACROS_CONCAT_(status_or_, __LINE__), lhs, \
                         rexpr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                           \
  if (!statusor.ok()) {                              \
    return std::move(statusor).status();             \
  }                                                  \
  lhs = std::move(statusor).value()

#endif  // COMMON_STATUS_MACROS_H_
