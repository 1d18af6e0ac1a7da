#include "engine/onnx/qoperator_rewrite.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

constexpr int64_t kOnnxInt32 = 6;

class Rewriter {
 public:
  explicit Rewriter(Graph* graph) : graph_(graph) {
    for (const ValueInfo& v : graph->inputs) names_.insert(v.name);
    for (const auto& [name, tensor] : graph->constants) names_.insert(name);
    for (const Node& node : graph->nodes) names_.insert(node.outputs.begin(), node.outputs.end());
  }

  absl::Status Run() {
    std::vector<Node> nodes = std::move(graph_->nodes);
    graph_->nodes.clear();
    for (Node& node : nodes) {
      if (!node.domain.empty()) {
        graph_->nodes.push_back(std::move(node));
        continue;
      }
      if (node.op_type == "QLinearConv") {
        OCTET_RETURN_IF_ERROR(RewriteQLinear(node, "Conv", 9));
      } else if (node.op_type == "QLinearMatMul") {
        OCTET_RETURN_IF_ERROR(RewriteQLinear(node, "MatMul", 8));
      } else if (node.op_type == "ConvInteger") {
        OCTET_RETURN_IF_ERROR(RewriteInteger(node, "Conv"));
      } else if (node.op_type == "MatMulInteger") {
        OCTET_RETURN_IF_ERROR(RewriteInteger(node, "MatMul"));
      } else {
        graph_->nodes.push_back(std::move(node));
      }
    }
    return absl::OkStatus();
  }

 private:
  // A value name no other value has, derived from `base`.
  std::string NewName(const std::string& base) {
    std::string name = base;
    for (int i = 1; names_.contains(name); ++i) name = absl::StrCat(base, "_", i);
    names_.insert(name);
    return name;
  }

  std::string AddConstant(const std::string& base, Tensor value) {
    const std::string name = NewName(base);
    graph_->value_types[name] = value.type();
    graph_->constants.emplace(name, std::move(value));
    return name;
  }

  std::string AddNode(const Node& origin, const std::string& op_type, std::string suffix,
                      std::vector<std::string> inputs, DataType output_type,
                      std::string output = "") {
    Node node;
    node.name = absl::StrCat(origin.name.empty() ? origin.op_type : origin.name, "/", suffix);
    node.op_type = op_type;
    node.inputs = std::move(inputs);
    if (output.empty()) output = NewName(absl::StrCat(origin.outputs[0], "/", suffix));
    node.outputs = {output};
    graph_->value_types[output] = output_type;
    graph_->nodes.push_back(std::move(node));
    return output;
  }

  // The rank of `name` when the graph says it: a constant's, or a declared input's.
  std::optional<size_t> RankOf(const std::string& name) const {
    if (const Tensor* t = graph_->FindConstant(name)) return t->rank();
    for (const ValueInfo& v : graph_->inputs) {
      if (v.name == name && v.shape.has_value()) return v.shape->size();
    }
    return std::nullopt;
  }

  // The shape of a quantization parameter: a constant's, or a declared static input's.
  std::optional<Shape> ParameterShape(const std::string& name) const {
    if (const Tensor* t = graph_->FindConstant(name)) return t->shape();
    for (const ValueInfo& v : graph_->inputs) {
      if (v.name != name || !v.shape.has_value()) continue;
      Shape shape;
      for (const Dim& d : *v.shape) {
        if (!d.is_static()) return std::nullopt;
        shape.push_back(d.size);
      }
      return shape;
    }
    return std::nullopt;
  }

  // The DequantizeLinear axis for a parameter applying along `axis_from_end` of operand `operand`
  // (0: last dim), or nullopt when the parameter is per tensor.
  absl::StatusOr<std::optional<int64_t>> AxisFor(const Node& node, const std::string& parameter,
                                                 const std::string& operand,
                                                 int64_t axis_from_end) const {
    std::optional<Shape> shape = ParameterShape(parameter);
    if (shape.has_value() && (shape->empty() || (shape->size() == 1 && (*shape)[0] == 1))) {
      return std::nullopt;
    }
    std::optional<size_t> rank = RankOf(operand);
    if (!rank.has_value() || *rank < static_cast<size_t>(axis_from_end) + 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": per-row/per-column parameter '", parameter,
                       "' needs the rank of '", operand, "', which the model does not declare"));
    }
    return std::optional<int64_t>(static_cast<int64_t>(*rank) - 1 - axis_from_end);
  }

  std::string Dequantize(const Node& origin, const std::string& suffix, const std::string& x,
                         const std::string& scale, const std::string& zero_point,
                         std::optional<int64_t> axis) {
    const std::string out =
        AddNode(origin, "DequantizeLinear", suffix, {x, scale, zero_point}, DataType::kFloat32);
    if (axis.has_value()) graph_->nodes.back().attributes["axis"] = *axis;
    if (zero_point.empty()) graph_->nodes.back().inputs.resize(2);
    return out;
  }

  // QLinearConv(x, xs, xz, w, ws, wz, ys, yz[, B]) / QLinearMatMul(a, as, az, b, bs, bz, ys, yz).
  absl::Status RewriteQLinear(const Node& node, const std::string& float_op, size_t max_inputs) {
    if (node.inputs.size() < 8 || node.inputs.size() > max_inputs || node.outputs.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), " has ", node.inputs.size(), " inputs and ", node.outputs.size(),
          " outputs; expected 8", max_inputs > 8 ? " or 9" : "", " and 1"));
    }
    for (size_t i = 0; i < 8; ++i) {
      if (node.inputs[i].empty() && i != 2 && i != 5 && i != 7) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": input ", i, " is required"));
      }
    }
    const bool is_conv = float_op == "Conv";
    // Convolution weights are per output channel (axis 0) when per axis.
    std::optional<int64_t> a_axis, b_axis = 0;
    if (!is_conv) {
      OCTET_ASSIGN_OR_RETURN(a_axis, AxisFor(node, node.input(1), node.input(0), 1));
      OCTET_ASSIGN_OR_RETURN(b_axis, AxisFor(node, node.input(4), node.input(3), 0));
    }
    const std::string a =
        Dequantize(node, "DequantizeA", node.input(0), node.input(1), node.input(2), a_axis);
    const std::string b =
        Dequantize(node, "DequantizeB", node.input(3), node.input(4), node.input(5), b_axis);
    std::vector<std::string> inputs = {a, b};
    if (is_conv && !node.input(8).empty()) {
      const std::string bias_scale =
          AddNode(node, "Mul", "BiasScale", {node.input(1), node.input(4)}, DataType::kFloat32);
      inputs.push_back(Dequantize(node, "DequantizeBias", node.input(8), bias_scale, "", 0));
    }
    const std::string y = AddNode(node, float_op, float_op, inputs, DataType::kFloat32);
    if (is_conv) graph_->nodes.back().attributes = node.attributes;
    const DataType y_type = node.input(7).empty()
                                ? DataType::kUint8
                                : graph_->TypeOf(node.input(7)).value_or(DataType::kUint8);
    AddNode(node, "QuantizeLinear", "QuantizeY", {y, node.input(6), node.input(7)}, y_type,
            node.outputs[0]);
    if (node.input(7).empty()) graph_->nodes.back().inputs.resize(2);
    return absl::OkStatus();
  }

  // ConvInteger(x, w[, xz[, wz]]) / MatMulInteger(a, b[, az[, bz]]) -> int32.
  absl::Status RewriteInteger(const Node& node, const std::string& float_op) {
    if (node.inputs.size() < 2 || node.inputs.size() > 4 || node.outputs.size() != 1 ||
        node.input(0).empty() || node.input(1).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), " needs inputs 0 and 1 of at most 4, and one output"));
    }
    const bool is_conv = float_op == "Conv";
    std::string shifted[2];
    for (int operand = 0; operand < 2; ++operand) {
      const std::string& zero_point = node.input(2 + operand);
      Shape scale_shape;
      std::optional<int64_t> axis;
      if (!zero_point.empty()) {
        std::optional<Shape> shape = ParameterShape(zero_point);
        if (!shape.has_value()) {
          return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": zero point '",
                                                         zero_point, "' must have a static shape"));
        }
        scale_shape = *shape;
        if (scale_shape.size() == 1 && scale_shape[0] != 1) {
          if (is_conv) {
            axis = operand == 1 ? 0 : 1;  // per output channel / per input channel
          } else {
            OCTET_ASSIGN_OR_RETURN(
                axis, AxisFor(node, zero_point, node.input(operand), operand == 0 ? 1 : 0));
          }
        } else if (scale_shape.size() > 1) {
          return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": zero point '",
                                                         zero_point, "' must be a scalar or 1-D"));
        }
      }
      int64_t count = 1;
      for (int64_t d : scale_shape) count *= d;
      const std::string one =
          AddConstant(absl::StrCat(node.outputs[0], "/unit_scale"),
                      Tensor::FromVector<float>(scale_shape, std::vector<float>(count, 1.0f)));
      shifted[operand] = Dequantize(node, operand == 0 ? "ShiftA" : "ShiftB", node.input(operand),
                                    one, zero_point, axis);
    }
    const std::string y =
        AddNode(node, float_op, float_op, {shifted[0], shifted[1]}, DataType::kFloat32);
    if (is_conv) graph_->nodes.back().attributes = node.attributes;
    AddNode(node, "Cast", "Cast", {y}, DataType::kInt32, node.outputs[0]);
    graph_->nodes.back().attributes["to"] = kOnnxInt32;
    return absl::OkStatus();
  }

  Graph* graph_;
  absl::flat_hash_set<std::string> names_;
};

}  // namespace

absl::Status RewriteQOperatorsToQdq(Graph* graph) { return Rewriter(graph).Run(); }

}  // namespace octet
