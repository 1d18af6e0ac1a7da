#include "engine/onnx/onnx_importer.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/onnx/float16_rewrite.h"
#include "engine/onnx/opset_upgrade.h"
#include "engine/onnx/qoperator_rewrite.h"
#include "onnx/onnx_pb.h"

namespace octet {
namespace {

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

// Copies a repeated numeric field into the tensor, converting each element to T.
template <typename T, typename Repeated>
absl::Status CopyTypedField(const Repeated& field, const std::string& name, Tensor* tensor) {
  if (field.size() != tensor->element_count()) {
    return Invalid(absl::StrCat("tensor '", name, "' of shape ", ShapeToString(tensor->shape()),
                                " holds ", field.size(), " values, expected ",
                                tensor->element_count()));
  }
  T* out = tensor->data<T>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
  return absl::OkStatus();
}

absl::StatusOr<Tensor> ConvertTensor(const onnx::TensorProto& proto) {
  const std::string& name = proto.name();
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0) {
    return Invalid(absl::StrCat("tensor '", name,
                                "' refers to external data; embed the weights in the model file"));
  }
  if (proto.has_segment()) {
    return Invalid(absl::StrCat("tensor '", name, "' is segmented, which is not supported"));
  }
  const std::optional<DataType> type = DataTypeFromOnnx(proto.data_type());
  if (!type.has_value()) {
    return UnsupportedError(
        proto.data_type() == onnx::TensorProto::STRING ? UnsupportedKind::kSequenceStringOrTraining
                                                       : UnsupportedKind::kElementType,
        absl::StrCat("tensor '", name, "' has unsupported element type ",
                     onnx::TensorProto::DataType_Name(
                         static_cast<onnx::TensorProto::DataType>(proto.data_type()))));
  }
  Shape shape(proto.dims().begin(), proto.dims().end());
  absl::StatusOr<int64_t> count = CheckedElementCount(shape, ElementSize(*type));
  if (!count.ok()) return Invalid(absl::StrCat("tensor '", name, "': ", count.status().message()));

  if (proto.has_raw_data()) {
    const uint64_t expected = static_cast<uint64_t>(*count) * ElementSize(*type);
    if (proto.raw_data().size() != expected) {
      return Invalid(absl::StrCat("tensor '", name, "' of shape ", ShapeToString(shape), " needs ",
                                  expected, " bytes of data, has ", proto.raw_data().size()));
    }
    return Tensor::FromBytes(*type, std::move(shape), proto.raw_data().data(),
                             proto.raw_data().size());
  }
  // Without raw data, the values sit in the typed field for the element type; its length bounds
  // the allocation, since a short field is refused before anything is copied.
  int64_t available = 0;
  switch (*type) {
    case DataType::kFloat32:
      available = proto.float_data_size();
      break;
    case DataType::kFloat64:
      available = proto.double_data_size();
      break;
    case DataType::kInt64:
      available = proto.int64_data_size();
      break;
    default:
      available = proto.int32_data_size();
      break;
  }
  if (available != *count) {
    return Invalid(absl::StrCat("tensor '", name, "' of shape ", ShapeToString(shape), " holds ",
                                available, " values, expected ", *count));
  }
  OCTET_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Create(*type, std::move(shape)));
  switch (*type) {
    case DataType::kFloat32:
      OCTET_RETURN_IF_ERROR(CopyTypedField<float>(proto.float_data(), name, &tensor));
      break;
    case DataType::kFloat64:
      OCTET_RETURN_IF_ERROR(CopyTypedField<double>(proto.double_data(), name, &tensor));
      break;
    case DataType::kInt64:
      OCTET_RETURN_IF_ERROR(CopyTypedField<int64_t>(proto.int64_data(), name, &tensor));
      break;
    case DataType::kInt32:
      OCTET_RETURN_IF_ERROR(CopyTypedField<int32_t>(proto.int32_data(), name, &tensor));
      break;
    case DataType::kUint8:
      OCTET_RETURN_IF_ERROR(CopyTypedField<uint8_t>(proto.int32_data(), name, &tensor));
      break;
    case DataType::kInt8:
      OCTET_RETURN_IF_ERROR(CopyTypedField<int8_t>(proto.int32_data(), name, &tensor));
      break;
    case DataType::kBool:
      OCTET_RETURN_IF_ERROR(CopyTypedField<bool>(proto.int32_data(), name, &tensor));
      break;
    case DataType::kFloat16:
      // float16 values travel as their 16-bit patterns in int32_data.
      OCTET_RETURN_IF_ERROR(CopyTypedField<uint16_t>(proto.int32_data(), name, &tensor));
      break;
  }
  return tensor;
}

absl::StatusOr<ValueInfo> ConvertValueInfo(const onnx::ValueInfoProto& proto) {
  ValueInfo info;
  info.name = proto.name();
  if (!proto.type().has_tensor_type()) {
    return UnsupportedError(UnsupportedKind::kSequenceStringOrTraining,
                            absl::StrCat("graph input/output '", proto.name(),
                                         "' is not a tensor (sequences, maps and optionals are "
                                         "not supported)"));
  }
  const onnx::TypeProto::Tensor& tensor_type = proto.type().tensor_type();
  const std::optional<DataType> type = DataTypeFromOnnx(tensor_type.elem_type());
  if (!type.has_value()) {
    return UnsupportedError(
        tensor_type.elem_type() == onnx::TensorProto::STRING
            ? UnsupportedKind::kSequenceStringOrTraining
            : UnsupportedKind::kElementType,
        absl::StrCat("graph input/output '", proto.name(), "' has unsupported element type ",
                     onnx::TensorProto::DataType_Name(
                         static_cast<onnx::TensorProto::DataType>(tensor_type.elem_type()))));
  }
  info.type = *type;
  if (tensor_type.has_shape()) {
    std::vector<Dim> dims;
    for (const onnx::TensorShapeProto::Dimension& d : tensor_type.shape().dim()) {
      Dim dim;
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) {
          return Invalid(absl::StrCat("graph input/output '", proto.name(),
                                      "' has negative dimension ", d.dim_value()));
        }
        dim.size = d.dim_value();
      } else if (d.has_dim_param()) {
        dim.name = d.dim_param();
      }
      dims.push_back(std::move(dim));
    }
    info.shape = std::move(dims);
  }
  return info;
}

absl::StatusOr<Attribute> ConvertAttribute(const onnx::AttributeProto& proto,
                                           const std::string& where) {
  if (!proto.ref_attr_name().empty()) {
    return Invalid(absl::StrCat(where, ": attribute '", proto.name(),
                                "' refers to a function attribute, which is not supported"));
  }
  switch (proto.type()) {
    case onnx::AttributeProto::INT:
      return Attribute(proto.i());
    case onnx::AttributeProto::FLOAT:
      return Attribute(proto.f());
    case onnx::AttributeProto::STRING:
      return Attribute(proto.s());
    case onnx::AttributeProto::INTS:
      return Attribute(std::vector<int64_t>(proto.ints().begin(), proto.ints().end()));
    case onnx::AttributeProto::FLOATS:
      return Attribute(std::vector<float>(proto.floats().begin(), proto.floats().end()));
    case onnx::AttributeProto::STRINGS:
      return Attribute(std::vector<std::string>(proto.strings().begin(), proto.strings().end()));
    case onnx::AttributeProto::TENSOR: {
      absl::StatusOr<Tensor> tensor = ConvertTensor(proto.t());
      if (!tensor.ok()) return Invalid(absl::StrCat(where, ": ", tensor.status().message()));
      return Attribute(*std::move(tensor));
    }
    default:
      return UnsupportedError(UnsupportedKind::kAttribute,
                              absl::StrCat(where, ": attribute '", proto.name(), "' of type ",
                                           onnx::AttributeProto::AttributeType_Name(proto.type()),
                                           " is not supported"));
  }
}

// A Constant node's value as a tensor (opset 13 also allows scalar and list attributes).
absl::StatusOr<Tensor> ConstantValue(const Node& node) {
  if (node.attributes.size() != 1) {
    return Invalid(absl::StrCat(node.Describe(), " must have exactly one value attribute"));
  }
  const auto& [key, value] = *node.attributes.begin();
  if (key == "value") {
    if (const Tensor* t = std::get_if<Tensor>(&value)) return *t;
  } else if (key == "value_float") {
    if (const float* f = std::get_if<float>(&value)) return Tensor::FromVector<float>({}, {*f});
  } else if (key == "value_floats") {
    if (const auto* v = std::get_if<std::vector<float>>(&value)) {
      return Tensor::FromVector<float>({static_cast<int64_t>(v->size())}, *v);
    }
  } else if (key == "value_int") {
    if (const int64_t* i = std::get_if<int64_t>(&value))
      return Tensor::FromVector<int64_t>({}, {*i});
  } else if (key == "value_ints") {
    if (const auto* v = std::get_if<std::vector<int64_t>>(&value)) {
      return Tensor::FromVector<int64_t>({static_cast<int64_t>(v->size())}, *v);
    }
  }
  return Invalid(
      absl::StrCat(node.Describe(), ": Constant attribute '", key, "' is not supported"));
}

// Orders `nodes` so that each comes after the producers of its inputs. `available` holds the
// values that exist before any node runs (graph inputs and constants).
absl::StatusOr<std::vector<Node>> SortTopologically(
    std::vector<Node> nodes, const absl::flat_hash_set<std::string>& available) {
  absl::flat_hash_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& out : nodes[i].outputs) {
      if (out.empty()) continue;
      if (available.contains(out) || !producer.emplace(out, i).second) {
        return Invalid(absl::StrCat("value '", out, "' is produced more than once (again by ",
                                    nodes[i].Describe(), ")"));
      }
    }
  }
  std::vector<int> missing(nodes.size(), 0);
  std::vector<std::vector<size_t>> consumers(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : nodes[i].inputs) {
      if (in.empty() || available.contains(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        return Invalid(absl::StrCat(nodes[i].Describe(), " reads '", in,
                                    "', which no node, input or initializer provides"));
      }
      ++missing[i];
      consumers[it->second].push_back(i);
    }
  }
  std::deque<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (missing[i] == 0) ready.push_back(i);
  }
  std::vector<size_t> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    const size_t i = ready.front();
    ready.pop_front();
    order.push_back(i);
    for (size_t c : consumers[i]) {
      if (--missing[c] == 0) ready.push_back(c);
    }
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (missing[i] > 0) {
        return Invalid(absl::StrCat("the graph has a cycle through ", nodes[i].Describe()));
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (size_t i : order) sorted.push_back(std::move(nodes[i]));
  return sorted;
}

// The element type of every value, propagated through the nodes in order. (ONNX's own shape
// inference is not used: on hostile models Debian's ONNX 1.12 divides by zero in it, found by
// fuzzing.) The rules cover the ops the runtime executes; the outputs of other ops stay unknown,
// and such models are refused by the support check anyway.
void InferValueTypes(Graph* graph) {
  for (const ValueInfo& input : graph->inputs) graph->value_types[input.name] = input.type;
  for (const auto& [name, tensor] : graph->constants) graph->value_types[name] = tensor.type();
  for (const Node& node : graph->nodes) {
    std::optional<DataType> type =
        node.inputs.empty() ? std::nullopt : graph->TypeOf(node.input(0));
    if (node.op_type == "Shape" || node.op_type == "Size") type = DataType::kInt64;
    if (node.op_type == "Cast") {
      absl::StatusOr<int64_t> to = node.GetInt("to", 0);
      type = to.ok() ? DataTypeFromOnnx(static_cast<int32_t>(*to)) : std::nullopt;
    }
    if (node.op_type == "QuantizeLinear") {
      type = node.input(2).empty() ? DataType::kUint8 : graph->TypeOf(node.input(2));
    }
    if (node.op_type == "QLinearConv" || node.op_type == "QLinearMatMul") {
      type = graph->TypeOf(node.input(7));
    }
    if (node.op_type == "DequantizeLinear") type = DataType::kFloat32;
    if (node.op_type == "ConvInteger" || node.op_type == "MatMulInteger") type = DataType::kInt32;
    if (node.op_type == "DynamicQuantizeLinear") type = DataType::kUint8;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      std::optional<DataType> output = type;
      if (node.op_type == "Dropout" && i == 1) output = DataType::kBool;
      if (node.op_type == "DynamicQuantizeLinear" && i == 1) output = DataType::kFloat32;
      if (output.has_value()) graph->value_types.emplace(node.outputs[i], *output);
    }
  }
}

// Identity, and Dropout in inference (its output equals its input; the mask output, when used,
// keeps the node), only rename values: consumers are rewired to the input instead.
void RemovePassThroughNodes(Graph* graph) {
  absl::flat_hash_map<std::string, std::string> renamed;
  absl::flat_hash_set<std::string> graph_outputs;
  for (const ValueInfo& output : graph->outputs) graph_outputs.insert(output.name);
  std::vector<Node> kept;
  for (Node& node : graph->nodes) {
    for (std::string& input : node.inputs) {
      auto it = renamed.find(input);
      if (it != renamed.end()) input = it->second;
    }
    const bool pass_through =
        node.domain.empty() && !node.inputs.empty() && !node.input(0).empty() &&
        !node.outputs.empty() && !graph_outputs.contains(node.outputs[0]) &&
        (node.op_type == "Identity" ||
         (node.op_type == "Dropout" && (node.outputs.size() < 2 || node.outputs[1].empty()) &&
          (node.inputs.size() < 3 || node.inputs[2].empty())));
    if (pass_through) {
      renamed[node.outputs[0]] = node.inputs[0];
      continue;
    }
    kept.push_back(std::move(node));
  }
  graph->nodes = std::move(kept);
}

}  // namespace

absl::StatusOr<Tensor> TensorFromOnnx(const onnx::TensorProto& proto) {
  return ConvertTensor(proto);
}

absl::StatusOr<Graph> ImportOnnxModel(absl::string_view serialized, int64_t min_opset) {
  if (serialized.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Invalid("model files of 2 GiB or more are not supported");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return Invalid("not an ONNX model: the bytes do not parse as an onnx.ModelProto");
  }
  return ImportOnnxModel(model, min_opset);
}

// The default-domain opset `model` imports, or 0.
int64_t DefaultOpset(const onnx::ModelProto& model) {
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") return opset.version();
  }
  return 0;
}

static absl::StatusOr<Graph> ImportValidated(const onnx::ModelProto& model);

absl::StatusOr<Graph> ImportOnnxModel(const onnx::ModelProto& original, int64_t min_opset) {
  min_opset = std::max(min_opset, kMinOnnxOpset);
  if (!original.has_graph() ||
      (original.graph().node_size() == 0 && original.graph().output_size() == 0)) {
    return Invalid("not an ONNX model: it has no graph");
  }
  const int64_t opset = DefaultOpset(original);
  if (opset == 0) {
    for (const onnx::OperatorSetIdProto& import : original.opset_import()) {
      if (import.domain() == "ai.onnx.preview.training") {
        return UnsupportedError(UnsupportedKind::kSequenceStringOrTraining,
                                "the model uses training operators (ai.onnx.preview.training)");
      }
    }
    return Invalid("the model imports no opset of the default ONNX domain");
  }
  if (opset > kMaxOnnxOpset) {
    return Invalid(absl::StrCat("ONNX opset ", opset, " is not supported (supported: ",
                                kMinOnnxOpset, " to ", kMaxOnnxOpset, ")"));
  }
  if (opset >= min_opset) return ImportValidated(original);
  // Older models are brought up to the oldest opset wanted by Octet's own upgrade, on the graph
  // its checks accepted (ONNX's version converter needs shapes exporters often leave out, and
  // trusts its input).
  OCTET_ASSIGN_OR_RETURN(Graph graph, ImportValidated(original));
  if (absl::Status upgraded = UpgradeOpset(&graph, min_opset); !upgraded.ok()) {
    return Invalid(absl::StrCat("ONNX opset ", opset, " could not be upgraded to opset ", min_opset,
                                ": ", upgraded.message()));
  }
  return graph;
}

// The graph of `model`, every structural check applied; the opset may be below the supported
// range (the caller converts such models).
static absl::StatusOr<Graph> ImportValidated(const onnx::ModelProto& model) {
  Graph graph;
  graph.producer_name = model.producer_name();
  graph.opset = DefaultOpset(model);
  const onnx::GraphProto& g = model.graph();
  if (g.sparse_initializer_size() > 0) {
    return Invalid("sparse initializers are not supported");
  }
  for (const onnx::TensorProto& init : g.initializer()) {
    if (init.name().empty()) return Invalid("an initializer has no name");
    OCTET_ASSIGN_OR_RETURN(Tensor tensor, ConvertTensor(init));
    if (!graph.constants.emplace(init.name(), std::move(tensor)).second) {
      return Invalid(absl::StrCat("initializer '", init.name(), "' is defined twice"));
    }
  }
  absl::flat_hash_set<std::string> available;
  for (const auto& [name, tensor] : graph.constants) available.insert(name);
  for (const onnx::ValueInfoProto& input : g.input()) {
    // An input with an initializer of the same name is a constant with an overridable default
    // (IR version 4+); it is served as the constant.
    if (graph.constants.contains(input.name())) continue;
    if (input.name().empty()) return Invalid("a graph input has no name");
    OCTET_ASSIGN_OR_RETURN(ValueInfo info, ConvertValueInfo(input));
    if (!available.insert(info.name).second) {
      return Invalid(absl::StrCat("graph input '", info.name, "' is declared twice"));
    }
    graph.inputs.push_back(std::move(info));
  }

  std::vector<Node> nodes;
  nodes.reserve(g.node_size());
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& proto = g.node(i);
    Node node;
    node.name = proto.name();
    node.op_type = proto.op_type();
    node.domain = proto.domain() == "ai.onnx" ? "" : proto.domain();
    node.inputs.assign(proto.input().begin(), proto.input().end());
    node.outputs.assign(proto.output().begin(), proto.output().end());
    const std::string where = node.Describe();
    for (const onnx::AttributeProto& attr : proto.attribute()) {
      OCTET_ASSIGN_OR_RETURN(Attribute value, ConvertAttribute(attr, where));
      node.attributes.emplace(attr.name(), std::move(value));
    }
    if (node.op_type == "Constant" && node.domain.empty()) {
      if (node.outputs.size() != 1 || node.outputs[0].empty()) {
        return Invalid(absl::StrCat(where, " must have exactly one output"));
      }
      OCTET_ASSIGN_OR_RETURN(Tensor value, ConstantValue(node));
      if (!available.insert(node.outputs[0]).second) {
        return Invalid(absl::StrCat("value '", node.outputs[0], "' is produced more than once"));
      }
      graph.constants.emplace(node.outputs[0], std::move(value));
      continue;
    }
    nodes.push_back(std::move(node));
  }
  OCTET_ASSIGN_OR_RETURN(graph.nodes, SortTopologically(std::move(nodes), available));

  absl::flat_hash_set<std::string> produced = available;
  for (const Node& node : graph.nodes) produced.insert(node.outputs.begin(), node.outputs.end());
  for (const onnx::ValueInfoProto& output : g.output()) {
    OCTET_ASSIGN_OR_RETURN(ValueInfo info, ConvertValueInfo(output));
    if (!produced.contains(info.name)) {
      return Invalid(absl::StrCat("graph output '", info.name, "' is not produced by any node"));
    }
    graph.outputs.push_back(std::move(info));
  }
  if (graph.outputs.empty()) return Invalid("the graph declares no outputs");
  InferValueTypes(&graph);
  ComputeFloat16InFloat32(&graph);
  OCTET_RETURN_IF_ERROR(RewriteQOperatorsToQdq(&graph));
  RemovePassThroughNodes(&graph);
  if (graph.opset < 10) OCTET_RETURN_IF_ERROR(RewriteUpsampleAsResize(&graph));
  return graph;
}

}  // namespace octet
