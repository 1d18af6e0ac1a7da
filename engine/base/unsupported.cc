#include "engine/base/unsupported.h"

#include <string>

#include "absl/strings/cord.h"

namespace octet {
namespace {

constexpr absl::string_view kPayloadUrl = "type.octet.dev/unsupported";

}  // namespace

absl::string_view UnsupportedKindName(UnsupportedKind kind) {
  switch (kind) {
    case UnsupportedKind::kOperator: return "operator not supported";
    case UnsupportedKind::kAttribute: return "attribute not supported";
    case UnsupportedKind::kElementType: return "element type not supported";
    case UnsupportedKind::kSequenceStringOrTraining: return "sequence, string or training op";
  }
  return "unknown";
}

absl::Status UnsupportedError(UnsupportedKind kind, absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(kind))));
  return status;
}

std::optional<UnsupportedKind> GetUnsupportedKind(const absl::Status& status) {
  const auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  if (text.size() != 1 || text[0] < '0' || text[0] > '3') return std::nullopt;
  return static_cast<UnsupportedKind>(text[0] - '0');
}

}  // namespace octet
