// BatchNormalization (inference), HardSigmoid and PRelu in plain C++ loops the compiler
// vectorises. (oneDNN 2.6 has no hardsigmoid; BatchNormalization is folded into the preceding
// Conv where one exists, so this kernel serves the rest.)
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/broadcast.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

// y[n, c, ...] = x[n, c, ...] * a[c] + b[c], with a = scale / sqrt(var + eps), b = B - mean * a.
class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(int64_t batch, int64_t channels, int64_t spatial, float epsilon)
      : batch_(batch), channels_(channels), spatial_(spatial), epsilon_(epsilon) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const float* x = inputs[0]->data<float>();
    const float* scale = inputs[1]->data<float>();
    const float* bias = inputs[2]->data<float>();
    const float* mean = inputs[3]->data<float>();
    const float* var = inputs[4]->data<float>();
    float* y = outputs[0]->data<float>();
    for (int64_t n = 0; n < batch_; ++n) {
      for (int64_t c = 0; c < channels_; ++c) {
        const float a = scale[c] / std::sqrt(var[c] + epsilon_);
        const float b = bias[c] - mean[c] * a;
        const int64_t offset = (n * channels_ + c) * spatial_;
        for (int64_t i = 0; i < spatial_; ++i) y[offset + i] = x[offset + i] * a + b;
      }
    }
    return absl::OkStatus();
  }

 private:
  int64_t batch_, channels_, spatial_;
  float epsilon_;
};

absl::Status CheckBatchNorm(const CheckContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireInputCount(node, 5, 5, 5));
  for (size_t i = 0; i < 5; ++i) {
    OCTET_RETURN_IF_ERROR(RequireInputType(context, i, {DataType::kFloat32}));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t training, node.GetInt("training_mode", 0));
  bool extra_outputs = false;
  for (size_t i = 1; i < node.outputs.size(); ++i) extra_outputs |= !node.outputs[i].empty();
  if (training != 0 || extra_outputs) {
    return UnsupportedError(UnsupportedKind::kSequenceStringOrTraining,
                            absl::StrCat(node.Describe(), ": training mode"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildBatchNorm(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  if (x.shape.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X must have rank 2 or more"));
  }
  const int64_t channels = x.shape[1];
  for (size_t i = 1; i < 5; ++i) {
    if (context.input(i).shape != Shape{channels} || context.input(i).type != DataType::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": input ", i,
                                                     " must be float32 [", channels, "]"));
    }
  }
  if (x.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType, absl::StrCat(node.Describe(), ": X"));
  }
  OCTET_ASSIGN_OR_RETURN(float epsilon, node.GetFloat("epsilon", 1e-5f));
  int64_t spatial = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) spatial *= x.shape[i];
  BuiltKernel built;
  built.outputs.push_back(x);
  built.kernel = std::make_unique<BatchNormKernel>(x.shape[0], channels, spatial, epsilon);
  return built;
}

class HardSigmoidKernel final : public Kernel {
 public:
  HardSigmoidKernel(float alpha, float beta) : alpha_(alpha), beta_(beta) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    const int64_t n = inputs[0]->element_count();
    for (int64_t i = 0; i < n; ++i) y[i] = std::clamp(alpha_ * x[i] + beta_, 0.0f, 1.0f);
    return absl::OkStatus();
  }

 private:
  float alpha_, beta_;
};

absl::Status CheckFloatUnary(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 1, 1));
  return RequireInputType(context, 0, {DataType::kFloat32});
}

absl::StatusOr<BuiltKernel> BuildHardSigmoid(const KernelBuildContext& context) {
  if (context.input(0).type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(context.node.Describe(), ": input must be float32"));
  }
  OCTET_ASSIGN_OR_RETURN(float alpha, context.node.GetFloat("alpha", 0.2f));
  OCTET_ASSIGN_OR_RETURN(float beta, context.node.GetFloat("beta", 0.5f));
  BuiltKernel built;
  built.outputs.push_back(context.input(0));
  built.kernel = std::make_unique<HardSigmoidKernel>(alpha, beta);
  return built;
}

// PRelu: y = x < 0 ? slope * x : x, the slope broadcast to X.
class PReluKernel final : public Kernel {
 public:
  PReluKernel(Shape x, Shape slope) : x_(std::move(x)), slope_(std::move(slope)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    cpu::BroadcastBinary(inputs[0]->data<float>(), x_, inputs[1]->data<float>(), slope_,
                         outputs[0]->data<float>(), x_,
                         [](float x, float s) { return x < 0 ? s * x : x; });
    return absl::OkStatus();
  }

 private:
  Shape x_, slope_;
};

absl::Status CheckPRelu(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 0, {DataType::kFloat32}));
  return RequireInputType(context, 1, {DataType::kFloat32});
}

absl::StatusOr<BuiltKernel> BuildPRelu(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& slope = context.input(1);
  if (x.type != DataType::kFloat32 || slope.type != DataType::kFloat32) {
    return UnsupportedError(UnsupportedKind::kElementType, absl::StrCat(node.Describe(), ": float32"));
  }
  Shape slope_shape = slope.shape;
  // Before opset 7 a [C] slope is per channel (axis 1), not numpy-broadcast.
  if (context.opset < 7 && slope_shape.size() == 1 && x.shape.size() >= 2 &&
      slope_shape[0] == x.shape[1]) {
    slope_shape.resize(x.shape.size() - 1, 1);
  }
  absl::StatusOr<Shape> y = cpu::BroadcastShapes(x.shape, slope_shape);
  if (!y.ok() || *y != x.shape) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": slope ",
                                                   ShapeToString(slope.shape),
                                                   " does not broadcast to X ",
                                                   ShapeToString(x.shape)));
  }
  BuiltKernel built;
  built.outputs.push_back(x);
  built.kernel =
      std::make_unique<PReluKernel>(x.shape, cpu::RightAlign(slope_shape, x.shape.size()));
  return built;
}

}  // namespace

std::vector<OpDefinition> NormalizationOps() {
  return {
      {"BatchNormalization", CheckBatchNorm, BuildBatchNorm},
      {"HardSigmoid", CheckFloatUnary, BuildHardSigmoid},
      {"PRelu", CheckPRelu, BuildPRelu},
  };
}

}  // namespace octet
