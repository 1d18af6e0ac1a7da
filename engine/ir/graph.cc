#include "engine/ir/graph.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace octet {
namespace {

template <typename T>
absl::StatusOr<T> GetTyped(const Node& node, const std::string& key, T default_value,
                           absl::string_view type_name) {
  auto it = node.attributes.find(key);
  if (it == node.attributes.end()) return default_value;
  if (const T* value = std::get_if<T>(&it->second)) return *value;
  return absl::InvalidArgumentError(
      absl::StrCat(node.Describe(), ": attribute '", key, "' is not ", type_name));
}

}  // namespace

absl::StatusOr<int64_t> Node::GetInt(const std::string& key, int64_t default_value) const {
  return GetTyped<int64_t>(*this, key, default_value, "an int");
}

absl::StatusOr<float> Node::GetFloat(const std::string& key, float default_value) const {
  return GetTyped<float>(*this, key, default_value, "a float");
}

absl::StatusOr<std::string> Node::GetString(const std::string& key,
                                            const std::string& default_value) const {
  return GetTyped<std::string>(*this, key, default_value, "a string");
}

absl::StatusOr<std::vector<int64_t>> Node::GetInts(const std::string& key,
                                                   std::vector<int64_t> default_value) const {
  return GetTyped<std::vector<int64_t>>(*this, key, std::move(default_value), "a list of ints");
}

const std::string& Node::input(size_t i) const {
  static const std::string* const kEmpty = new std::string();
  return i < inputs.size() ? inputs[i] : *kEmpty;
}

std::string Node::Describe() const {
  return name.empty() ? absl::StrCat(op_type, " node producing '", outputs.empty() ? "" : outputs[0], "'")
                      : absl::StrCat(op_type, " '", name, "'");
}

const Tensor* Graph::FindConstant(const std::string& name) const {
  auto it = constants.find(name);
  return it == constants.end() ? nullptr : &it->second;
}

std::optional<DataType> Graph::TypeOf(const std::string& name) const {
  auto it = value_types.find(name);
  if (it == value_types.end()) return std::nullopt;
  return it->second;
}

}  // namespace octet
