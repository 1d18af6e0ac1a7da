#include "client/commands/command.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace octet::client {

void CheckOk(const absl::Status& status) {
  if (!status.ok()) {
    throw CommandError{
        absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message())};
  }
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    throw CommandError{"cannot render the response as JSON"};
  }
  return json;
}

std::string PrecisionName(octet::v1::Precision precision) {
  switch (precision) {
    case octet::v1::PRECISION_INT8:
      return "int8";
    case octet::v1::PRECISION_WEIGHT_ONLY:
      return "weight-only";
    default:
      return "float";
  }
}

}  // namespace octet::client
