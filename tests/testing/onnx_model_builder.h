// Builds small ONNX models in tests, so that suites need no committed model files.
#ifndef OCTET_TESTS_TESTING_ONNX_MODEL_BUILDER_H_
#define OCTET_TESTS_TESTING_ONNX_MODEL_BUILDER_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/tensor/tensor.h"
#include "onnx/onnx_pb.h"

namespace octet::testing {

class OnnxModelBuilder {
 public:
  explicit OnnxModelBuilder(int64_t opset = 13);

  // A dim of -1 becomes the symbolic dim "N".
  OnnxModelBuilder& Input(const std::string& name, const std::vector<int64_t>& dims,
                          int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxModelBuilder& Output(const std::string& name, const std::vector<int64_t>& dims,
                           int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxModelBuilder& Initializer(const std::string& name, const Tensor& value);
  onnx::NodeProto& Node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs);

  onnx::ModelProto Build() const { return model_; }
  std::string Serialize() const { return model_.SerializeAsString(); }

 private:
  onnx::ModelProto model_;
};

void SetAttribute(onnx::NodeProto& node, const std::string& name, int64_t value);
void SetAttribute(onnx::NodeProto& node, const std::string& name, float value);
void SetAttribute(onnx::NodeProto& node, const std::string& name, const std::string& value);
void SetAttribute(onnx::NodeProto& node, const std::string& name, std::vector<int64_t> values);

onnx::TensorProto ToTensorProto(const std::string& name, const Tensor& value);

// Deterministic values in [-1, 1) (a fixed linear congruential sequence).
std::vector<float> PseudoRandom(size_t count, uint32_t seed);

// A small CNN on 1x8x8 images with weights from PseudoRandom:
//   Conv(1->4, 3x3, pad 1) + bias -> Relu -> Conv(4->4, 3x3, pad 1) -> Add(residual) -> Flatten
//   -> Gemm(256->10, transB) + bias -> "logits".
// Input "image" [N, 1, 8, 8] with a dynamic batch.
struct TinyCnn {
  static constexpr int kChannels = 4, kSize = 8, kClasses = 10;
  std::vector<float> conv1_w, conv1_b, conv2_w, fc_w, fc_b;

  TinyCnn();
  std::string Serialize() const;
  // The logits computed with plain loops, independently of the engine. `images` is N*64 floats.
  std::vector<float> Reference(const std::vector<float>& images, int batch) const;
};

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_ONNX_MODEL_BUILDER_H_
