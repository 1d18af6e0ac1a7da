#include "engine/onnx/opset_upgrade.h"

#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

absl::Status Refuse(const Node& node, int64_t from, int64_t to, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(node.Describe(), " cannot be upgraded from opset ",
                                                 from, " to ", to, ": ", why));
}

// Adds nodes and constants to a copy of the graph under names no value has.
class Rewriter {
 public:
  explicit Rewriter(Graph* graph) : graph_(graph) {}

  std::string UniqueName(const std::string& base) {
    std::string name = base;
    for (int i = 1; graph_->constants.contains(name) || graph_->value_types.contains(name) ||
                    taken_.count(name) > 0;
         ++i) {
      name = absl::StrCat(base, "_", i);
    }
    taken_.insert(name);
    return name;
  }

  std::string AddConstant(const std::string& base, Tensor value) {
    const std::string name = UniqueName(base);
    graph_->value_types[name] = value.type();
    graph_->constants.emplace(name, std::move(value));
    return name;
  }

  std::string Ints(const std::string& base, const std::vector<int64_t>& values) {
    return AddConstant(base,
                       Tensor::FromVector<int64_t>({static_cast<int64_t>(values.size())}, values));
  }

  // Moves the ints attribute `key` of `node` to input `index` (a constant), filling skipped
  // inputs with "". Absent attributes leave the input absent.
  absl::Status AttributeToInput(Node& node, const std::string& key, size_t index) {
    if (!node.HasAttribute(key)) return absl::OkStatus();
    OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> values, node.GetInts(key, {}));
    node.attributes.erase(key);
    SetInput(node, index, Ints(absl::StrCat(Base(node), "/", key), values));
    return absl::OkStatus();
  }

  static void SetInput(Node& node, size_t index, const std::string& name) {
    if (node.inputs.size() <= index) node.inputs.resize(index + 1);
    node.inputs[index] = name;
  }

  static std::string Base(const Node& node) {
    return node.name.empty() ? node.outputs[0] : node.name;
  }

 private:
  Graph* graph_;
  std::set<std::string> taken_;
};

bool IsOneOf(const std::string& op, std::initializer_list<const char*> ops) {
  for (const char* o : ops) {
    if (op == o) return true;
  }
  return false;
}

// Softmax, LogSoftmax and Hardmax before 13 coerce the input to 2-D at `axis` and normalize over
// the flattened trailing part; from 13 they normalize along `axis` alone. The same function at 13:
// Flatten at `axis`, normalize along the last axis, Reshape back. Along the last axis already,
// nothing changes.
absl::Status UpgradeSoftmax(Node node, Rewriter& r, std::vector<Node>* out) {
  OCTET_ASSIGN_OR_RETURN(const int64_t axis, node.GetInt("axis", 1));
  if (axis == -1) {
    out->push_back(std::move(node));
    return absl::OkStatus();
  }
  const std::string base = Rewriter::Base(node);
  const std::string x = node.input(0), y = node.outputs[0];
  Node shape;
  shape.op_type = "Shape";
  shape.name = r.UniqueName(absl::StrCat(base, "/input_shape"));
  shape.inputs = {x};
  shape.outputs = {r.UniqueName(absl::StrCat(base, "/input_shape"))};
  Node flatten;
  flatten.op_type = "Flatten";
  flatten.name = r.UniqueName(absl::StrCat(base, "/flatten"));
  flatten.inputs = {x};
  flatten.outputs = {r.UniqueName(absl::StrCat(base, "/flattened"))};
  flatten.attributes["axis"] = axis;
  Node normalize = node;
  normalize.inputs = {flatten.outputs[0]};
  normalize.outputs = {r.UniqueName(absl::StrCat(base, "/normalized"))};
  normalize.attributes["axis"] = int64_t{-1};
  Node reshape;
  reshape.op_type = "Reshape";
  reshape.name = r.UniqueName(absl::StrCat(base, "/reshape"));
  reshape.inputs = {normalize.outputs[0], shape.outputs[0]};
  reshape.outputs = {y};
  out->push_back(std::move(shape));
  out->push_back(std::move(flatten));
  out->push_back(std::move(normalize));
  out->push_back(std::move(reshape));
  return absl::OkStatus();
}

// Rewrites one node from opset `from` to `to`, appending what replaces it to `out`.
absl::Status UpgradeNode(Node node, int64_t from, int64_t to, Graph& graph, Rewriter& r,
                         std::vector<Node>* out) {
  const std::string& op = node.op_type;
  auto crosses = [&](int64_t version) { return from < version && to >= version; };
  if (!node.domain.empty()) {
    out->push_back(std::move(node));
    return absl::OkStatus();
  }
  if (IsOneOf(op, {"Softmax", "LogSoftmax", "Hardmax"}) && crosses(13)) {
    return UpgradeSoftmax(std::move(node), r, out);
  }
  if (op == "Split" && crosses(13)) {
    OCTET_RETURN_IF_ERROR(r.AttributeToInput(node, "split", 1));
  } else if (IsOneOf(op, {"Squeeze", "Unsqueeze", "ReduceSum"}) && crosses(13)) {
    OCTET_RETURN_IF_ERROR(r.AttributeToInput(node, "axes", 1));
  } else if (op == "Slice" && crosses(10)) {
    OCTET_RETURN_IF_ERROR(r.AttributeToInput(node, "starts", 1));
    OCTET_RETURN_IF_ERROR(r.AttributeToInput(node, "ends", 2));
    OCTET_RETURN_IF_ERROR(r.AttributeToInput(node, "axes", 3));
  } else if (op == "TopK" && crosses(10)) {
    OCTET_ASSIGN_OR_RETURN(const int64_t k, node.GetInt("k", -1));
    if (k < 0) return Refuse(node, from, to, "it has no k");
    node.attributes.erase("k");
    Rewriter::SetInput(node, 1, r.Ints(absl::StrCat(Rewriter::Base(node), "/k"), {k}));
  } else if (op == "Pad" && crosses(11)) {
    OCTET_ASSIGN_OR_RETURN(const float value, node.GetFloat("value", 0.0f));
    const bool has_value = node.HasAttribute("value");
    node.attributes.erase("value");
    OCTET_RETURN_IF_ERROR(r.AttributeToInput(node, "pads", 1));
    if (has_value && value != 0.0f) {
      if (graph.TypeOf(node.input(0)).value_or(DataType::kFloat32) != DataType::kFloat32) {
        return Refuse(node, from, to, "a non-zero pad value for a non-float input");
      }
      Rewriter::SetInput(node, 2,
                         r.AddConstant(absl::StrCat(Rewriter::Base(node), "/value"),
                                       Tensor::FromVector<float>({}, {value})));
    }
  } else if (op == "Clip" && crosses(11)) {
    const bool has_min = node.HasAttribute("min"), has_max = node.HasAttribute("max");
    OCTET_ASSIGN_OR_RETURN(const float min, node.GetFloat("min", 0.0f));
    OCTET_ASSIGN_OR_RETURN(const float max, node.GetFloat("max", 0.0f));
    node.attributes.erase("min");
    node.attributes.erase("max");
    const std::string base = Rewriter::Base(node);
    if (has_min) {
      Rewriter::SetInput(
          node, 1, r.AddConstant(absl::StrCat(base, "/min"), Tensor::FromVector<float>({}, {min})));
    }
    if (has_max) {
      Rewriter::SetInput(
          node, 2, r.AddConstant(absl::StrCat(base, "/max"), Tensor::FromVector<float>({}, {max})));
    }
  } else if (op == "BatchNormalization" && crosses(9)) {
    OCTET_ASSIGN_OR_RETURN(const int64_t spatial, node.GetInt("spatial", 1));
    if (spatial == 0) return Refuse(node, from, to, "spatial=0 (per-element statistics)");
    OCTET_ASSIGN_OR_RETURN(const int64_t is_test, node.GetInt("is_test", 1));
    if (is_test == 0 && from < 7 && node.outputs.size() > 1) {
      return Refuse(node, from, to, "training mode with running statistics as outputs");
    }
    node.attributes.erase("spatial");
    node.attributes.erase("is_test");
    node.attributes.erase("consumed_inputs");
  } else if (op == "Resize" && crosses(11)) {
    // Resize-10 takes (X, scales) and transforms coordinates as "asymmetric".
    if (!node.HasAttribute("coordinate_transformation_mode")) {
      node.attributes["coordinate_transformation_mode"] = std::string("asymmetric");
    }
    const std::string scales = node.input(1);
    node.inputs = {node.input(0), "", scales};
  } else if (IsOneOf(op, {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater",
                          "Less", "Gemm"}) &&
             crosses(7)) {
    // Before 7, `broadcast` allowed B to match a suffix of A's shape (numpy broadcasting does
    // the same) or, with `axis`, a run of A's axes starting there (no equivalent without shapes).
    OCTET_ASSIGN_OR_RETURN(const int64_t broadcast, node.GetInt("broadcast", 0));
    if (broadcast != 0 && node.HasAttribute("axis") && op != "Gemm") {
      return Refuse(node, from, to, "legacy broadcasting along `axis`");
    }
    node.attributes.erase("broadcast");
    node.attributes.erase("axis");
  } else if (op == "PRelu" && crosses(7)) {
    // Before 7 a [C] slope applies per channel (axis 1); numpy broadcasting would put it last.
    const Tensor* slope = graph.FindConstant(node.input(1));
    if (slope == nullptr || (slope->rank() == 1 && slope->element_count() > 1)) {
      return Refuse(node, from, to,
                    "a per-channel slope whose placement depends on the input's rank");
    }
  } else if (IsOneOf(op, {"Upsample", "If", "Loop", "Scan"})) {
    return Refuse(node, from, to, "this op has no upgrade in Octet");
  }
  out->push_back(std::move(node));
  return absl::OkStatus();
}

}  // namespace

absl::Status UpgradeOpset(Graph* graph, int64_t target) {
  const int64_t from = graph->opset;
  if (target <= from || target > kMaxUpgradeOpset) {
    return absl::InvalidArgumentError(absl::StrCat("cannot upgrade opset ", from, " to ", target,
                                                   " (Octet upgrades up to opset ",
                                                   kMaxUpgradeOpset, ")"));
  }
  Graph upgraded = *graph;
  Rewriter rewriter(&upgraded);
  std::vector<Node> nodes;
  for (const Node& node : graph->nodes) {
    OCTET_RETURN_IF_ERROR(UpgradeNode(node, from, target, upgraded, rewriter, &nodes));
  }
  upgraded.nodes = std::move(nodes);
  for (const Node& node : upgraded.nodes) {
    if (IsOneOf(node.op_type, {"Shape"})) upgraded.value_types[node.outputs[0]] = DataType::kInt64;
    if (IsOneOf(node.op_type, {"Flatten", "Softmax", "LogSoftmax", "Hardmax"})) {
      const std::optional<DataType> type = upgraded.TypeOf(node.input(0));
      if (type.has_value()) upgraded.value_types[node.outputs[0]] = *type;
    }
  }
  upgraded.opset = target;
  *graph = std::move(upgraded);
  return absl::OkStatus();
}

absl::Status RewriteUpsampleAsResize(Graph* graph) {
  Rewriter rewriter(graph);
  for (Node& node : graph->nodes) {
    if (node.op_type != "Upsample" || !node.domain.empty()) continue;
    if (graph->opset < 7) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(),
                       ": Upsample before opset 7 (height_scale and width_scale) "
                       "is not supported"));
    }
    OCTET_ASSIGN_OR_RETURN(std::string mode, node.GetString("mode", "nearest"));
    if (mode == "bilinear") mode = "linear";
    if (mode != "nearest" && mode != "linear") {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": Upsample mode '", mode, "' is not supported"));
    }
    if (node.HasAttribute("scales")) {  // Upsample-7
      const Attribute& attribute = node.attributes.at("scales");
      if (!std::holds_alternative<std::vector<float>>(attribute)) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": scales is not a list of floats"));
      }
      const std::vector<float> scales = std::get<std::vector<float>>(attribute);
      node.attributes.erase("scales");
      Rewriter::SetInput(node, 1,
                         rewriter.AddConstant(absl::StrCat(Rewriter::Base(node), "/scales"),
                                              Tensor::FromVector<float>(
                                                  {static_cast<int64_t>(scales.size())}, scales)));
    }
    if (node.input(1).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": Upsample has no scales"));
    }
    // Upsample maps output index i to input i / scale (floored for nearest): Resize's
    // "asymmetric" transformation with floor rounding, in the (X, scales) form of Resize-10.
    node.op_type = "Resize";
    node.attributes["mode"] = mode;
    node.attributes["coordinate_transformation_mode"] = std::string("asymmetric");
    node.attributes["nearest_mode"] = std::string("floor");
  }
  return absl::OkStatus();
}

}  // namespace octet
