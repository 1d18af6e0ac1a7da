#include "tests/testing/onnx_model_builder.h"

#include <cstring>

namespace octet::testing {
namespace {

void SetType(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& dims,
             int32_t elem_type) {
  info->set_name(name);
  onnx::TypeProto::Tensor* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) {
      shape->add_dim()->set_dim_param("N");
    } else {
      shape->add_dim()->set_dim_value(d);
    }
  }
}

}  // namespace

OnnxModelBuilder::OnnxModelBuilder(int64_t opset) {
  model_.set_ir_version(7);
  model_.set_producer_name("octet-tests");
  onnx::OperatorSetIdProto* id = model_.add_opset_import();
  id->set_domain("");
  id->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

OnnxModelBuilder& OnnxModelBuilder::Input(const std::string& name, const std::vector<int64_t>& dims,
                                          int32_t elem_type) {
  SetType(model_.mutable_graph()->add_input(), name, dims, elem_type);
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::Output(const std::string& name,
                                           const std::vector<int64_t>& dims, int32_t elem_type) {
  SetType(model_.mutable_graph()->add_output(), name, dims, elem_type);
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::Initializer(const std::string& name, const Tensor& value) {
  *model_.mutable_graph()->add_initializer() = ToTensorProto(name, value);
  return *this;
}

onnx::NodeProto& OnnxModelBuilder::Node(const std::string& op_type,
                                        const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs) {
  onnx::NodeProto* node = model_.mutable_graph()->add_node();
  node->set_op_type(op_type);
  node->set_name(op_type + "_" + std::to_string(model_.graph().node_size()));
  for (const std::string& in : inputs) node->add_input(in);
  for (const std::string& out : outputs) node->add_output(out);
  return *node;
}

void SetAttribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void SetAttribute(onnx::NodeProto& node, const std::string& name, float value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void SetAttribute(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

void SetAttribute(onnx::NodeProto& node, const std::string& name, std::vector<int64_t> values) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

onnx::TensorProto ToTensorProto(const std::string& name, const Tensor& value) {
  onnx::TensorProto proto;
  proto.set_name(name);
  proto.set_data_type(DataTypeToOnnx(value.type()));
  for (int64_t d : value.shape()) proto.add_dims(d);
  proto.set_raw_data(std::string(static_cast<const char*>(value.raw_data()), value.byte_size()));
  return proto;
}

std::vector<float> PseudoRandom(size_t count, uint32_t seed) {
  std::vector<float> values(count);
  uint32_t state = seed * 2654435761u + 1;
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return values;
}

TinyCnn::TinyCnn()
    : conv1_w(PseudoRandom(kChannels * 1 * 9, 1)),
      conv1_b(PseudoRandom(kChannels, 2)),
      conv2_w(PseudoRandom(kChannels * kChannels * 9, 3)),
      fc_w(PseudoRandom(kClasses * kChannels * kSize * kSize, 4)),
      fc_b(PseudoRandom(kClasses, 5)) {}

std::string TinyCnn::Serialize() const {
  OnnxModelBuilder b;
  b.Input("image", {-1, 1, kSize, kSize}).Output("logits", {-1, kClasses});
  b.Initializer("conv1_w", Tensor::FromVector<float>({kChannels, 1, 3, 3}, conv1_w));
  b.Initializer("conv1_b", Tensor::FromVector<float>({kChannels}, conv1_b));
  b.Initializer("conv2_w", Tensor::FromVector<float>({kChannels, kChannels, 3, 3}, conv2_w));
  b.Initializer("fc_w", Tensor::FromVector<float>({kClasses, kChannels * kSize * kSize}, fc_w));
  b.Initializer("fc_b", Tensor::FromVector<float>({kClasses}, fc_b));
  onnx::NodeProto& c1 = b.Node("Conv", {"image", "conv1_w", "conv1_b"}, {"c1"});
  SetAttribute(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Relu", {"c1"}, {"r1"});
  onnx::NodeProto& c2 = b.Node("Conv", {"r1", "conv2_w"}, {"c2"});
  SetAttribute(c2, "kernel_shape", std::vector<int64_t>{3, 3});
  SetAttribute(c2, "auto_pad", std::string("SAME_UPPER"));
  b.Node("Add", {"c2", "r1"}, {"sum"});
  b.Node("Flatten", {"sum"}, {"flat"});
  onnx::NodeProto& fc = b.Node("Gemm", {"flat", "fc_w", "fc_b"}, {"logits"});
  SetAttribute(fc, "transB", int64_t{1});
  return b.Serialize();
}

std::vector<float> TinyCnn::Reference(const std::vector<float>& images, int batch) const {
  const int c = kChannels, s = kSize;
  auto conv3x3 = [s](const float* in, int in_channels, const float* w, int out_channels,
                     const float* bias, float* out) {
    for (int o = 0; o < out_channels; ++o) {
      for (int y = 0; y < s; ++y) {
        for (int x = 0; x < s; ++x) {
          double acc = bias != nullptr ? bias[o] : 0.0;
          for (int i = 0; i < in_channels; ++i) {
            for (int ky = 0; ky < 3; ++ky) {
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = y + ky - 1, ix = x + kx - 1;
                if (iy < 0 || iy >= s || ix < 0 || ix >= s) continue;
                acc += static_cast<double>(in[(i * s + iy) * s + ix]) *
                       w[((o * in_channels + i) * 3 + ky) * 3 + kx];
              }
            }
          }
          out[(o * s + y) * s + x] = static_cast<float>(acc);
        }
      }
    }
  };
  std::vector<float> logits(static_cast<size_t>(batch) * kClasses);
  std::vector<float> r1(c * s * s), c2(c * s * s);
  for (int n = 0; n < batch; ++n) {
    conv3x3(&images[static_cast<size_t>(n) * s * s], 1, conv1_w.data(), c, conv1_b.data(),
            r1.data());
    for (float& v : r1) v = std::max(v, 0.0f);
    conv3x3(r1.data(), c, conv2_w.data(), c, nullptr, c2.data());
    for (size_t i = 0; i < c2.size(); ++i) c2[i] += r1[i];
    for (int k = 0; k < kClasses; ++k) {
      double acc = fc_b[k];
      for (int i = 0; i < c * s * s; ++i)
        acc += static_cast<double>(c2[i]) * fc_w[k * c * s * s + i];
      logits[n * kClasses + k] = static_cast<float>(acc);
    }
  }
  return logits;
}

}  // namespace octet::testing
