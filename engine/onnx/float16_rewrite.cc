#include "engine/onnx/float16_rewrite.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/tensor/data_type.h"
#include "engine/tensor/float16.h"

namespace octet {
namespace {

constexpr int64_t kOnnxFloat = 1;
constexpr int64_t kOnnxFloat16 = 10;

bool IsHalf(const Tensor& tensor) { return tensor.type() == DataType::kFloat16; }

// A value name no node, constant or graph input uses yet, from `base`.
std::string FreshName(const std::string& base, const absl::flat_hash_set<std::string>& used) {
  std::string name = absl::StrCat(base, "::float32");
  for (int i = 2; used.contains(name); ++i) name = absl::StrCat(base, "::float32_", i);
  return name;
}

Node MakeCast(std::string from, std::string to, int64_t type, const std::string& why) {
  Node cast;
  cast.name = absl::StrCat(why, " ", from);
  cast.op_type = "Cast";
  cast.inputs = {std::move(from)};
  cast.outputs = {std::move(to)};
  cast.attributes.emplace("to", type);
  return cast;
}

}  // namespace

bool ComputeFloat16InFloat32(Graph* graph) {
  bool any = false;
  for (const auto& [name, type] : graph->value_types) any = any || type == DataType::kFloat16;
  for (const ValueInfo& v : graph->inputs) any = any || v.type == DataType::kFloat16;
  for (const ValueInfo& v : graph->outputs) any = any || v.type == DataType::kFloat16;
  for (const Node& node : graph->nodes) {
    if (node.op_type == "Cast" && node.GetInt("to", 0).value_or(0) == kOnnxFloat16) any = true;
    for (const auto& [key, value] : node.attributes) {
      if (const Tensor* t = std::get_if<Tensor>(&value); t != nullptr && IsHalf(*t)) any = true;
    }
  }
  if (!any) return false;

  for (auto& [name, tensor] : graph->constants) {
    if (IsHalf(tensor)) tensor = HalfTensorToFloat(tensor);
  }
  for (auto& [name, type] : graph->value_types) {
    if (type == DataType::kFloat16) type = DataType::kFloat32;
  }
  for (Node& node : graph->nodes) {
    if (!node.domain.empty()) continue;
    for (auto& [key, value] : node.attributes) {
      if (Tensor* t = std::get_if<Tensor>(&value); t != nullptr && IsHalf(*t)) {
        *t = HalfTensorToFloat(*t);
      }
      // RandomNormal/RandomUniform(Like) and EyeLike name their result type in `dtype`.
      if (key == "dtype") {
        if (int64_t* type = std::get_if<int64_t>(&value);
            type != nullptr && *type == kOnnxFloat16) {
          *type = kOnnxFloat;
        }
      }
    }
    if (node.op_type != "Cast") continue;
    const int64_t to = node.GetInt("to", 0).value_or(0);
    if (to != kOnnxFloat && to != kOnnxFloat16) continue;
    // Both now mean float32: from float32 (as every float16 value now is) a Cast is an Identity,
    // so nothing is rounded to float16 and back; from any other type, a Cast to float32.
    if (graph->TypeOf(node.input(0)) == DataType::kFloat32) {
      node.op_type = "Identity";
      node.attributes.clear();
    } else {
      node.attributes["to"] = kOnnxFloat;
    }
  }

  // The boundary: what clients send and receive keeps its declared float16 type.
  absl::flat_hash_set<std::string> used;
  for (const auto& [name, tensor] : graph->constants) used.insert(name);
  for (const ValueInfo& v : graph->inputs) used.insert(v.name);
  for (const Node& node : graph->nodes) used.insert(node.outputs.begin(), node.outputs.end());

  std::vector<Node> first;
  for (const ValueInfo& input : graph->inputs) {
    if (input.type != DataType::kFloat16) continue;
    const std::string inside = FreshName(input.name, used);
    used.insert(inside);
    for (Node& node : graph->nodes) {
      for (std::string& name : node.inputs) {
        if (name == input.name) name = inside;
      }
    }
    graph->value_types[input.name] = DataType::kFloat16;
    graph->value_types[inside] = DataType::kFloat32;
    first.push_back(MakeCast(input.name, inside, kOnnxFloat, "float16 input to float32:"));
  }
  std::vector<Node> last;
  absl::flat_hash_set<std::string> cast_back;
  for (const ValueInfo& output : graph->outputs) {
    if (output.type != DataType::kFloat16 || !cast_back.insert(output.name).second) continue;
    const bool is_input = std::any_of(graph->inputs.begin(), graph->inputs.end(),
                                      [&](const ValueInfo& v) { return v.name == output.name; });
    if (is_input) continue;  // a float16 input returned as it is
    const std::string inside = FreshName(output.name, used);
    used.insert(inside);
    if (auto it = graph->constants.find(output.name); it != graph->constants.end()) {
      Tensor value = std::move(it->second);
      graph->constants.erase(it);
      graph->constants.emplace(inside, std::move(value));
    }
    for (Node& node : graph->nodes) {
      for (std::string& name : node.inputs) {
        if (name == output.name) name = inside;
      }
      for (std::string& name : node.outputs) {
        if (name == output.name) name = inside;
      }
    }
    graph->value_types[output.name] = DataType::kFloat16;
    graph->value_types[inside] = DataType::kFloat32;
    last.push_back(MakeCast(inside, output.name, kOnnxFloat16, "float32 output to float16:"));
  }
  if (!first.empty() || !last.empty()) {
    std::vector<Node> nodes = std::move(first);
    for (Node& node : graph->nodes) nodes.push_back(std::move(node));
    for (Node& node : last) nodes.push_back(std::move(node));
    graph->nodes = std::move(nodes);
  }
  return true;
}

}  // namespace octet
