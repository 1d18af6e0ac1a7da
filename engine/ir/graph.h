// The engine's graph IR: nodes in topological order over named values, with typed attributes,
// constant tensors (initializers and folded Constant nodes) and the declared inputs and outputs.
#ifndef OCTET_ENGINE_IR_GRAPH_H_
#define OCTET_ENGINE_IR_GRAPH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tensor/tensor.h"

namespace octet {

// One dimension of a declared shape: a fixed size, or dynamic (size -1) with an optional name.
struct Dim {
  int64_t size = -1;
  std::string name;

  bool is_static() const { return size >= 0; }
};

// A graph input or output as the model declares it.
struct ValueInfo {
  std::string name;
  DataType type = DataType::kFloat32;
  // nullopt when the model does not declare a rank.
  std::optional<std::vector<Dim>> shape;
};

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>, Tensor>;

class Node {
 public:
  std::string name;
  std::string op_type;
  std::string domain;
  // An empty name marks an omitted optional input.
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  absl::flat_hash_map<std::string, Attribute> attributes;

  bool HasAttribute(const std::string& key) const { return attributes.contains(key); }

  // Typed attribute access: the default when absent, INVALID_ARGUMENT when present with another
  // type.
  absl::StatusOr<int64_t> GetInt(const std::string& key, int64_t default_value) const;
  absl::StatusOr<float> GetFloat(const std::string& key, float default_value) const;
  absl::StatusOr<std::string> GetString(const std::string& key,
                                        const std::string& default_value) const;
  absl::StatusOr<std::vector<int64_t>> GetInts(const std::string& key,
                                               std::vector<int64_t> default_value) const;

  // The i-th input's name, or "" when absent or omitted.
  const std::string& input(size_t i) const;

  // "Conv 'conv1'" (or "Conv #3" when unnamed), for messages.
  std::string Describe() const;
};

class Graph {
 public:
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  // Topologically sorted.
  std::vector<Node> nodes;
  absl::flat_hash_map<std::string, Tensor> constants;
  // The element type of every value whose type is known (inputs, constants, and what the
  // importer propagated to node outputs).
  absl::flat_hash_map<std::string, DataType> value_types;
  // The default ONNX domain's opset.
  int64_t opset = 0;
  std::string producer_name;

  // The constant named `name`, or nullptr.
  const Tensor* FindConstant(const std::string& name) const;
  // The element type of `name`, when known.
  std::optional<DataType> TypeOf(const std::string& name) const;
};

}  // namespace octet

#endif  // OCTET_ENGINE_IR_GRAPH_H_
