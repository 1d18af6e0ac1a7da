#include "engine/runtime/cpu/arithmetic_kernels.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/broadcast.h"
#include "engine/runtime/op_families.h"
#include "engine/tensor/affine_quantization.h"

namespace octet {
namespace cpu {
namespace {

template <typename T>
class BroadcastKernel final : public Kernel {
 public:
  BroadcastKernel(BinaryOp op, Shape a, Shape b, Shape y)
      : op_(op), a_(std::move(a)), b_(std::move(b)), y_(std::move(y)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const T* a = inputs[0]->data<T>();
    const T* b = inputs[1]->data<T>();
    T* y = outputs[0]->data<T>();
    switch (op_) {
      case BinaryOp::kAdd:
        BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x + z); });
        break;
      case BinaryOp::kSub:
        BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x - z); });
        break;
      case BinaryOp::kMul:
        BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x * z); });
        break;
      case BinaryOp::kMax:
        BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return std::max(x, z); });
        break;
      case BinaryOp::kMin:
        BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return std::min(x, z); });
        break;
      case BinaryOp::kDiv:
        if constexpr (std::is_integral_v<T>) {
          const int64_t count = inputs[1]->element_count();
          if (std::find(b, b + count, T(0)) != b + count) {
            return absl::InvalidArgumentError("integer division by zero");
          }
        }
        BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x / z); });
        break;
    }
    return absl::OkStatus();
  }

 private:
  BinaryOp op_;
  Shape a_, b_, y_;
};

// Max, Min, Sum and Mean over any number of inputs, all broadcast to one shape:
// y = x0, then y = op(y, xi) for each further input (y is full size, so in place is safe).
template <typename T>
class VariadicKernel final : public Kernel {
 public:
  VariadicKernel(BinaryOp op, bool mean, std::vector<Shape> inputs, Shape y)
      : op_(op), mean_(mean), inputs_(std::move(inputs)), y_(std::move(y)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    T* y = outputs[0]->data<T>();
    const Shape zeros(y_.size(), 1);
    // y = x0 + 0, broadcast: a zero scalar as the other operand.
    const T zero = T(0);
    BroadcastBinary(inputs[0]->data<T>(), inputs_[0], &zero, zeros, y, y_,
                    [](T x, T) { return x; });
    for (size_t i = 1; i < inputs.size(); ++i) {
      const T* x = inputs[i]->data<T>();
      switch (op_) {
        case BinaryOp::kMax:
          BroadcastBinary(y, y_, x, inputs_[i], y, y_, [](T a, T b) { return std::max(a, b); });
          break;
        case BinaryOp::kMin:
          BroadcastBinary(y, y_, x, inputs_[i], y, y_, [](T a, T b) { return std::min(a, b); });
          break;
        default:
          BroadcastBinary(y, y_, x, inputs_[i], y, y_, [](T a, T b) { return T(a + b); });
          break;
      }
    }
    if (mean_) {
      const int64_t count = outputs[0]->element_count();
      for (int64_t i = 0; i < count; ++i) y[i] = T(y[i] / static_cast<T>(inputs.size()));
    }
    return absl::OkStatus();
  }

 private:
  BinaryOp op_;
  bool mean_;
  std::vector<Shape> inputs_;
  Shape y_;
};

// Pow(X, Y) with broadcasting; Y may have another numeric type than X (opset 12+).
template <typename T>
class PowKernel final : public Kernel {
 public:
  PowKernel(Shape a, Shape b, Shape y, DataType exponent_type)
      : a_(std::move(a)), b_(std::move(b)), y_(std::move(y)), exponent_type_(exponent_type) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const Tensor& e = *inputs[1];
    std::vector<double> exponents(e.element_count());
    for (int64_t i = 0; i < e.element_count(); ++i) {
      switch (exponent_type_) {
        case DataType::kFloat32:
          exponents[i] = e.data<float>()[i];
          break;
        case DataType::kFloat64:
          exponents[i] = e.data<double>()[i];
          break;
        case DataType::kInt32:
          exponents[i] = e.data<int32_t>()[i];
          break;
        default:
          exponents[i] = static_cast<double>(e.data<int64_t>()[i]);
          break;
      }
    }
    const T* x = inputs[0]->data<T>();
    std::vector<double> bases(x, x + inputs[0]->element_count());
    std::vector<double> result(outputs[0]->element_count());
    BroadcastBinary(bases.data(), a_, exponents.data(), b_, result.data(), y_,
                    [](double base, double power) { return std::pow(base, power); });
    T* y = outputs[0]->data<T>();
    for (size_t i = 0; i < result.size(); ++i) y[i] = static_cast<T>(result[i]);
    return absl::OkStatus();
  }

 private:
  Shape a_, b_, y_;
  DataType exponent_type_;
};

// Int8Add of operands of different shapes (numpy broadcasting), which oneDNN's binary does not
// take with the broadcast on its first source: each element dequantized, added and requantized
// in C++, with exactly the float simulation's arithmetic.
class Int8BroadcastAddKernel final : public Kernel {
 public:
  struct Operand {
    Shape shape;  // right-aligned to the output's rank
    DataType type;
    float scale;
    int32_t zero;
  };
  Int8BroadcastAddKernel(Operand a, Operand b, Shape y_shape, DataType y_type, float y_scale,
                         int32_t y_zero, bool relu)
      : a_(std::move(a)),
        b_(std::move(b)),
        y_shape_(std::move(y_shape)),
        y_type_(y_type),
        y_scale_(y_scale),
        y_zero_(y_zero),
        relu_(relu) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const std::vector<float> a = Real(*inputs[0], a_);
    const std::vector<float> b = Real(*inputs[3], b_);
    int64_t total = 1;
    for (int64_t d : y_shape_) total *= d;
    std::vector<float> sum(total);
    BroadcastBinary(a.data(), a_.shape, b.data(), b_.shape, sum.data(), y_shape_,
                    [this](float x, float y) {
                      const float v = x + y;
                      return relu_ && v < 0 ? 0.0f : v;
                    });
    const IntegerRange range =
        y_type_ == DataType::kUint8 ? IntegerRange{0, 255} : IntegerRange{-128, 127};
    Tensor& y = *outputs[0];
    for (int64_t i = 0; i < total; ++i) {
      const int32_t q = QuantizeValue(sum[i], y_scale_, y_zero_, range);
      if (y_type_ == DataType::kUint8) {
        y.data<uint8_t>()[i] = static_cast<uint8_t>(q);
      } else {
        y.data<int8_t>()[i] = static_cast<int8_t>(q);
      }
    }
    return absl::OkStatus();
  }

 private:
  static std::vector<float> Real(const Tensor& t, const Operand& o) {
    std::vector<float> real(t.element_count());
    for (int64_t i = 0; i < t.element_count(); ++i) {
      const int32_t q = o.type == DataType::kUint8 ? t.data<uint8_t>()[i] : t.data<int8_t>()[i];
      real[i] = DequantizeValue(q, o.scale, o.zero);
    }
    return real;
  }

  Operand a_, b_;
  Shape y_shape_;
  DataType y_type_;
  float y_scale_;
  int32_t y_zero_;
  bool relu_;
};

constexpr std::initializer_list<DataType> kArithmeticTypes = {
    DataType::kFloat32, DataType::kFloat64, DataType::kInt32, DataType::kInt64};

absl::Status CheckPow(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 0, kArithmeticTypes));
  return RequireInputType(context, 1, kArithmeticTypes);
}

absl::StatusOr<BuiltKernel> BuildPow(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& e = context.input(1);
  absl::StatusOr<Shape> y = BroadcastShapes(x.shape, e.shape);
  if (!y.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", y.status().message()));
  }
  const Shape a = RightAlign(x.shape, y->size()), b = RightAlign(e.shape, y->size());
  BuiltKernel built;
  built.outputs.push_back({x.type, *y});
  switch (x.type) {
    case DataType::kFloat32:
      built.kernel = std::make_unique<PowKernel<float>>(a, b, *y, e.type);
      break;
    case DataType::kFloat64:
      built.kernel = std::make_unique<PowKernel<double>>(a, b, *y, e.type);
      break;
    case DataType::kInt32:
      built.kernel = std::make_unique<PowKernel<int32_t>>(a, b, *y, e.type);
      break;
    case DataType::kInt64:
      built.kernel = std::make_unique<PowKernel<int64_t>>(a, b, *y, e.type);
      break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": ", DataTypeName(x.type)));
  }
  return built;
}

}  // namespace

absl::StatusOr<BuiltKernel> BuildBroadcastBinary(const KernelBuildContext& context, BinaryOp op) {
  const Node& node = context.node;
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(1);
  if (a.type != b.type) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": inputs are ", DataTypeName(a.type), " and ", DataTypeName(b.type)));
  }
  absl::StatusOr<Shape> y = BroadcastShapes(a.shape, b.shape);
  if (!y.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", y.status().message()));
  }
  const Shape a_full = RightAlign(a.shape, y->size());
  const Shape b_full = RightAlign(b.shape, y->size());
  BuiltKernel built;
  built.outputs.push_back({a.type, *y});
  switch (a.type) {
    case DataType::kFloat32:
      built.kernel = std::make_unique<BroadcastKernel<float>>(op, a_full, b_full, *y);
      break;
    case DataType::kFloat64:
      built.kernel = std::make_unique<BroadcastKernel<double>>(op, a_full, b_full, *y);
      break;
    case DataType::kInt32:
      built.kernel = std::make_unique<BroadcastKernel<int32_t>>(op, a_full, b_full, *y);
      break;
    case DataType::kInt64:
      built.kernel = std::make_unique<BroadcastKernel<int64_t>>(op, a_full, b_full, *y);
      break;
    case DataType::kInt8:
      built.kernel = std::make_unique<BroadcastKernel<int8_t>>(op, a_full, b_full, *y);
      break;
    case DataType::kUint8:
      built.kernel = std::make_unique<BroadcastKernel<uint8_t>>(op, a_full, b_full, *y);
      break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": ", DataTypeName(a.type)));
  }
  return built;
}

absl::StatusOr<BuiltKernel> BuildVariadic(const KernelBuildContext& context, BinaryOp op,
                                          bool mean) {
  const Node& node = context.node;
  const DataType type = context.input(0).type;
  Shape y = context.input(0).shape;
  for (size_t i = 1; i < context.inputs.size(); ++i) {
    if (!context.has_input(i) || context.input(i).type != type) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": every input must be ", DataTypeName(type)));
    }
    absl::StatusOr<Shape> merged = BroadcastShapes(y, context.input(i).shape);
    if (!merged.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": ", merged.status().message()));
    }
    y = *merged;
  }
  std::vector<Shape> shapes;
  for (size_t i = 0; i < context.inputs.size(); ++i) {
    shapes.push_back(RightAlign(context.input(i).shape, y.size()));
  }
  BuiltKernel built;
  built.outputs.push_back({type, y});
  switch (type) {
    case DataType::kFloat32:
      built.kernel = std::make_unique<VariadicKernel<float>>(op, mean, shapes, y);
      break;
    case DataType::kFloat64:
      built.kernel = std::make_unique<VariadicKernel<double>>(op, mean, shapes, y);
      break;
    case DataType::kInt32:
      built.kernel = std::make_unique<VariadicKernel<int32_t>>(op, mean, shapes, y);
      break;
    case DataType::kInt64:
      built.kernel = std::make_unique<VariadicKernel<int64_t>>(op, mean, shapes, y);
      break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": ", DataTypeName(type)));
  }
  return built;
}

absl::Status CheckVariadic(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 64, 1));
  for (size_t i = 0; i < context.node.inputs.size(); ++i) {
    OCTET_RETURN_IF_ERROR(RequireInputType(context, i, kArithmeticTypes));
  }
  return absl::OkStatus();
}

bool SameShapeAndLayout(const TensorDesc& a, const TensorDesc& b) {
  return a.shape == b.shape && a.channel_block == b.channel_block &&
         a.channels_last == b.channels_last;
}

absl::Status CheckInt8AddOperands(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(3);
  for (int i : {1, 2, 4, 5, 6, 7}) {
    if (!context.has_input(i)) continue;
    if (context.constant(i) == nullptr || context.constant(i)->element_count() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": scales and zero points must be scalar constants"));
    }
  }
  const DataType y_type = context.has_input(7) ? context.constant(7)->type() : DataType::kUint8;
  auto is_int8 = [](DataType t) { return t == DataType::kUint8 || t == DataType::kInt8; };
  if (!is_int8(a.type) || !is_int8(b.type) || !is_int8(y_type) ||
      (!(a.plain() && b.plain()) && !SameShapeAndLayout(a, b))) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": u8/s8 operands, plain or of one shape in one layout"));
  }
  OCTET_ASSIGN_OR_RETURN(std::string activation, node.GetString("activation", ""));
  if (!activation.empty() && activation != "Relu") {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": unknown fused activation ", activation));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildInt8BroadcastAdd(const KernelBuildContext& context) {
  OCTET_RETURN_IF_ERROR(CheckInt8AddOperands(context));
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(3);
  const DataType y_type = context.has_input(7) ? context.constant(7)->type() : DataType::kUint8;
  OCTET_ASSIGN_OR_RETURN(const std::string activation, context.node.GetString("activation", ""));
  OCTET_ASSIGN_OR_RETURN(Shape y_shape, BroadcastShapes(a.shape, b.shape));
  auto operand = [&](const TensorDesc& d, int scale, int zero) {
    return Int8BroadcastAddKernel::Operand{
        RightAlign(d.shape, y_shape.size()), d.type, ScalarParameter(context.constant(scale)),
        static_cast<int32_t>(ScalarParameter(context.constant(zero)))};
  };
  BuiltKernel built;
  built.kernel = std::make_unique<Int8BroadcastAddKernel>(
      operand(a, 1, 2), operand(b, 4, 5), y_shape, y_type, ScalarParameter(context.constant(6)),
      static_cast<int32_t>(ScalarParameter(context.constant(7))), activation == "Relu");
  built.outputs.push_back({y_type, y_shape});
  built.notes = "broadcast: dequantize, add and requantize in C++";
  return built;
}

}  // namespace cpu

std::vector<OpDefinition> ArithmeticOps() {
  using cpu::BinaryOp;
  return {
      {"Mean", cpu::CheckVariadic,
       [](const KernelBuildContext& c) { return cpu::BuildVariadic(c, BinaryOp::kAdd, true); }},
      {"Pow", cpu::CheckPow, cpu::BuildPow},
      {"Sum", cpu::CheckVariadic,
       [](const KernelBuildContext& c) { return cpu::BuildVariadic(c, BinaryOp::kAdd, false); }},
  };
}

}  // namespace octet
