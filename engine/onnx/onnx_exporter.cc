#include "engine/onnx/onnx_exporter.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx/onnx_pb.h"

namespace octet {
namespace {

void FillTensor(const std::string& name, const Tensor& tensor, onnx::TensorProto* proto) {
  proto->set_name(name);
  proto->set_data_type(DataTypeToOnnx(tensor.type()));
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  proto->set_raw_data(tensor.raw_data(), tensor.byte_size());
}

void FillValueInfo(const ValueInfo& info, onnx::ValueInfoProto* proto) {
  proto->set_name(info.name);
  onnx::TypeProto::Tensor* type = proto->mutable_type()->mutable_tensor_type();
  type->set_elem_type(DataTypeToOnnx(info.type));
  if (!info.shape.has_value()) return;
  onnx::TensorShapeProto* shape = type->mutable_shape();
  for (const Dim& d : *info.shape) {
    onnx::TensorShapeProto::Dimension* dim = shape->add_dim();
    if (d.is_static()) {
      dim->set_dim_value(d.size);
    } else if (!d.name.empty()) {
      dim->set_dim_param(d.name);
    }
  }
}

struct AttributeWriter {
  onnx::AttributeProto* proto;
  void operator()(int64_t v) const {
    proto->set_type(onnx::AttributeProto::INT);
    proto->set_i(v);
  }
  void operator()(float v) const {
    proto->set_type(onnx::AttributeProto::FLOAT);
    proto->set_f(v);
  }
  void operator()(const std::string& v) const {
    proto->set_type(onnx::AttributeProto::STRING);
    proto->set_s(v);
  }
  void operator()(const std::vector<int64_t>& v) const {
    proto->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) proto->add_ints(x);
  }
  void operator()(const std::vector<float>& v) const {
    proto->set_type(onnx::AttributeProto::FLOATS);
    for (float x : v) proto->add_floats(x);
  }
  void operator()(const std::vector<std::string>& v) const {
    proto->set_type(onnx::AttributeProto::STRINGS);
    for (const std::string& x : v) proto->add_strings(x);
  }
  void operator()(const Tensor& v) const {
    proto->set_type(onnx::AttributeProto::TENSOR);
    FillTensor("", v, proto->mutable_t());
  }
};

}  // namespace

absl::StatusOr<std::string> ExportOnnxModel(const Graph& graph, const ExportOptions& options) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("octet");
  model.set_producer_version(options.producer_version);
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset > 0 ? options.opset : graph.opset);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("octet");
  for (const ValueInfo& input : graph.inputs) FillValueInfo(input, g->add_input());
  for (const ValueInfo& output : graph.outputs) FillValueInfo(output, g->add_output());
  const std::map<std::string, const Tensor*> constants = [&] {
    std::map<std::string, const Tensor*> sorted;
    for (const auto& [name, tensor] : graph.constants) sorted.emplace(name, &tensor);
    return sorted;
  }();
  for (const auto& [name, tensor] : constants) FillTensor(name, *tensor, g->add_initializer());
  for (const Node& node : graph.nodes) {
    if (!node.domain.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": only the default domain is exported"));
    }
    onnx::NodeProto* proto = g->add_node();
    proto->set_name(node.name);
    proto->set_op_type(node.op_type);
    for (const std::string& input : node.inputs) proto->add_input(input);
    for (const std::string& output : node.outputs) proto->add_output(output);
    std::map<std::string, const Attribute*> attributes;
    for (const auto& [key, value] : node.attributes) attributes.emplace(key, &value);
    for (const auto& [key, value] : attributes) {
      onnx::AttributeProto* attribute = proto->add_attribute();
      attribute->set_name(key);
      std::visit(AttributeWriter{attribute}, *value);
    }
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return absl::InvalidArgumentError("the model does not serialize (2 GiB or more)");
  }
  return bytes;
}

}  // namespace octet
