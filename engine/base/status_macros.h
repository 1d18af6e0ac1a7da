// RETURN_IF_ERROR and ASSIGN_OR_RETURN for Debian's Abseil (20220623), which predates
// absl/status/status_macros.h.
#ifndef OCTET_ENGINE_BASE_STATUS_MACROS_H_
#define OCTET_ENGINE_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) once and returns it from the enclosing function if not OK.
#define OCTET_RETURN_IF_ERROR(expr)                      \
  do {                                                   \
    ::absl::Status octet_status_ = (expr);               \
    if (!octet_status_.ok()) return octet_status_;       \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, otherwise moves the value
// into `lhs`, which may be a declaration (`auto x`) or an existing variable.
#define OCTET_ASSIGN_OR_RETURN(lhs, rexpr) \
  OCTET_ASSIGN_OR_RETURN_IMPL_(OCTET_STATUS_CONCAT_(octet_statusor_, __LINE__), lhs, rexpr)

#define OCTET_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#define OCTET_STATUS_CONCAT_(a, b) OCTET_STATUS_CONCAT_INNER_(a, b)
#define OCTET_STATUS_CONCAT_INNER_(a, b) a##b

#endif  // OCTET_ENGINE_BASE_STATUS_MACROS_H_
