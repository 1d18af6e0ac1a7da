// Refusals of models the engine cannot run, tagged with why, so callers (the conformance test,
// reports) can tell "not supported" apart from "malformed" without parsing messages.
#ifndef OCTET_ENGINE_BASE_UNSUPPORTED_H_
#define OCTET_ENGINE_BASE_UNSUPPORTED_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace octet {

enum class UnsupportedKind {
  kOperator,
  kAttribute,
  kElementType,
  // Sequences, maps, optionals, strings and training-only ops: outside what a tensor runtime
  // for inference serves.
  kSequenceStringOrTraining,
};

absl::string_view UnsupportedKindName(UnsupportedKind kind);

// INVALID_ARGUMENT with `message`, tagged with `kind`.
absl::Status UnsupportedError(UnsupportedKind kind, absl::string_view message);

// The tag of a status made by UnsupportedError (kept through StatusWithContext-style rewraps that
// copy payloads), or nullopt.
std::optional<UnsupportedKind> GetUnsupportedKind(const absl::Status& status);

}  // namespace octet

#endif  // OCTET_ENGINE_BASE_UNSUPPORTED_H_
