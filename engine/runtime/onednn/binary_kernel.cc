// Add, Sub, Mul, Div, Max, Min with numpy broadcasting. float32 runs on oneDNN's binary
// primitive, which broadcasts only its second source: operands are swapped when only the first
// needs broadcasting and the op commutes. Other element types, and broadcasts oneDNN cannot
// express, run in plain C++.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/broadcast.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"
#include "engine/tensor/affine_quantization.h"

namespace octet {
namespace {

using dnnl::memory;

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kMax, kMin };

bool Commutes(BinaryOp op) { return op != BinaryOp::kSub && op != BinaryOp::kDiv; }

dnnl::algorithm ToOneDnn(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return dnnl::algorithm::binary_add;
    case BinaryOp::kSub:
      return dnnl::algorithm::binary_sub;
    case BinaryOp::kMul:
      return dnnl::algorithm::binary_mul;
    case BinaryOp::kDiv:
      return dnnl::algorithm::binary_div;
    case BinaryOp::kMax:
      return dnnl::algorithm::binary_max;
    case BinaryOp::kMin:
      return dnnl::algorithm::binary_min;
  }
  return dnnl::algorithm::binary_add;
}

class OneDnnBinaryKernel final : public onednn::PrimitiveKernel {
 public:
  OneDnnBinaryKernel(const dnnl::binary::primitive_desc& pd, bool swapped, std::string what)
      : PrimitiveKernel(dnnl::binary(pd), pd, std::move(what)),
        src0_(pd.src_desc(0)),
        src1_(pd.src_desc(1)),
        dst_(pd.dst_desc()),
        swapped_(swapped) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    const Tensor& first = *inputs[swapped_ ? 1 : 0];
    const Tensor& second = *inputs[swapped_ ? 0 : 1];
    return Execute({{DNNL_ARG_SRC_0, onednn::Wrap(src0_, first)},
                    {DNNL_ARG_SRC_1, onednn::Wrap(src1_, second)},
                    {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])}},
                   context);
  }

 private:
  memory::desc src0_, src1_, dst_;
  bool swapped_;
};

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
        cpu::BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x + z); });
        break;
      case BinaryOp::kSub:
        cpu::BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x - z); });
        break;
      case BinaryOp::kMul:
        cpu::BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x * z); });
        break;
      case BinaryOp::kMax:
        cpu::BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return std::max(x, z); });
        break;
      case BinaryOp::kMin:
        cpu::BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return std::min(x, z); });
        break;
      case BinaryOp::kDiv:
        if constexpr (std::is_integral_v<T>) {
          const int64_t count = inputs[1]->element_count();
          if (std::find(b, b + count, T(0)) != b + count) {
            return absl::InvalidArgumentError("integer division by zero");
          }
        }
        cpu::BroadcastBinary(a, a_, b, b_, y, y_, [](T x, T z) { return T(x / z); });
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
    cpu::BroadcastBinary(inputs[0]->data<T>(), inputs_[0], &zero, zeros, y, y_,
                         [](T x, T) { return x; });
    for (size_t i = 1; i < inputs.size(); ++i) {
      const T* x = inputs[i]->data<T>();
      switch (op_) {
        case BinaryOp::kMax:
          cpu::BroadcastBinary(y, y_, x, inputs_[i], y, y_,
                               [](T a, T b) { return std::max(a, b); });
          break;
        case BinaryOp::kMin:
          cpu::BroadcastBinary(y, y_, x, inputs_[i], y, y_,
                               [](T a, T b) { return std::min(a, b); });
          break;
        default:
          cpu::BroadcastBinary(y, y_, x, inputs_[i], y, y_, [](T a, T b) { return T(a + b); });
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
    cpu::BroadcastBinary(bases.data(), a_, exponents.data(), b_, result.data(), y_,
                         [](double base, double power) { return std::pow(base, power); });
    T* y = outputs[0]->data<T>();
    for (size_t i = 0; i < result.size(); ++i) y[i] = static_cast<T>(result[i]);
    return absl::OkStatus();
  }

 private:
  Shape a_, b_, y_;
  DataType exponent_type_;
};

absl::Status CheckBinary(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  for (size_t i : {size_t{0}, size_t{1}}) {
    OCTET_RETURN_IF_ERROR(
        RequireInputType(context, i,
                         {DataType::kFloat32, DataType::kFloat64, DataType::kInt32,
                          DataType::kInt64, DataType::kInt8, DataType::kUint8}));
  }
  return absl::OkStatus();
}

template <BinaryOp kOp>
absl::StatusOr<BuiltKernel> BuildBinary(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& a = context.input(0);
  const TensorDesc& b = context.input(1);
  if (a.type != b.type) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.Describe(), ": inputs are ", DataTypeName(a.type), " and ", DataTypeName(b.type)));
  }
  absl::StatusOr<Shape> y = cpu::BroadcastShapes(a.shape, b.shape);
  if (!y.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", y.status().message()));
  }
  const Shape a_full = cpu::RightAlign(a.shape, y->size());
  const Shape b_full = cpu::RightAlign(b.shape, y->size());
  BuiltKernel built;
  built.outputs.push_back({a.type, *y});
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(*y));
  const bool a_full_size = a_full == *y, b_full_size = b_full == *y;
  const bool swapped = !a_full_size && b_full_size && Commutes(kOp);
  const bool onednn = a.type == DataType::kFloat32 && count > 0 && !y->empty() && y->size() <= 12 &&
                      (a_full_size || swapped);
  if (!a.plain() || !b.plain()) {
    // Same-shape float inputs (TakesBlockedPair): the result takes the first one's layout.
    try {
      const TensorDesc y_desc = (!a.plain() ? a : b).Like(DataType::kFloat32, *y);
      dnnl::binary::desc desc(ToOneDnn(kOp), onednn::DescOf(a), onednn::DescOf(b),
                              onednn::DescOf(y_desc));
      dnnl::binary::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
      built.outputs[0] = y_desc;
      built.kernel = std::make_unique<OneDnnBinaryKernel>(pd, false, node.Describe());
      return built;
    } catch (const dnnl::error& e) {
      return onednn::ToStatus(e, node.Describe());
    }
  }
  if (onednn) {
    try {
      const memory::desc src0 = onednn::PlainDesc(swapped ? b_full : a_full, DataType::kFloat32);
      const memory::desc src1 = onednn::PlainDesc(swapped ? a_full : b_full, DataType::kFloat32);
      const memory::desc dst = onednn::PlainDesc(*y, DataType::kFloat32);
      dnnl::binary::desc desc(ToOneDnn(kOp), src0, src1, dst);
      dnnl::binary::primitive_desc pd(desc, onednn::DefaultAttr(), onednn::CpuEngine());
      built.kernel = std::make_unique<OneDnnBinaryKernel>(pd, swapped, node.Describe());
      return built;
    } catch (const dnnl::error& e) {
      return onednn::ToStatus(e, node.Describe());
    }
  }
  switch (a.type) {
    case DataType::kFloat32:
      built.kernel = std::make_unique<BroadcastKernel<float>>(kOp, a_full, b_full, *y);
      break;
    case DataType::kFloat64:
      built.kernel = std::make_unique<BroadcastKernel<double>>(kOp, a_full, b_full, *y);
      break;
    case DataType::kInt32:
      built.kernel = std::make_unique<BroadcastKernel<int32_t>>(kOp, a_full, b_full, *y);
      break;
    case DataType::kInt64:
      built.kernel = std::make_unique<BroadcastKernel<int64_t>>(kOp, a_full, b_full, *y);
      break;
    case DataType::kInt8:
      built.kernel = std::make_unique<BroadcastKernel<int8_t>>(kOp, a_full, b_full, *y);
      break;
    case DataType::kUint8:
      built.kernel = std::make_unique<BroadcastKernel<uint8_t>>(kOp, a_full, b_full, *y);
      break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": ", DataTypeName(a.type)));
  }
  return built;
}

// Blocked inputs are taken when both are float32 of the same rank-4 shape (no broadcasting).
bool SameShapeAndLayout(const TensorDesc& a, const TensorDesc& b) {
  return a.shape == b.shape && a.channel_block == b.channel_block &&
         a.channels_last == b.channels_last;
}

// Int8Add's operands (inputs 0 and 3) may stay in their layout when they share it.
bool TakesInt8AddOperands(const KernelBuildContext& context) {
  return context.has_input(0) && context.has_input(3) &&
         SameShapeAndLayout(context.input(0), context.input(3));
}

bool TakesBlockedPair(const KernelBuildContext& context) {
  return context.inputs.size() == 2 && context.has_input(0) && context.has_input(1) &&
         context.input(0).type == DataType::kFloat32 &&
         context.input(1).type == DataType::kFloat32 && context.input(0).shape.size() == 4 &&
         context.input(0).shape == context.input(1).shape;
}

constexpr std::initializer_list<DataType> kArithmeticTypes = {
    DataType::kFloat32, DataType::kFloat64, DataType::kInt32, DataType::kInt64};

absl::Status CheckVariadic(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 64, 1));
  for (size_t i = 0; i < context.node.inputs.size(); ++i) {
    OCTET_RETURN_IF_ERROR(RequireInputType(context, i, kArithmeticTypes));
  }
  return absl::OkStatus();
}

template <BinaryOp kOp, bool kMean>
absl::StatusOr<BuiltKernel> BuildVariadic(const KernelBuildContext& context) {
  const Node& node = context.node;
  const DataType type = context.input(0).type;
  Shape y = context.input(0).shape;
  for (size_t i = 1; i < context.inputs.size(); ++i) {
    if (!context.has_input(i) || context.input(i).type != type) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": every input must be ", DataTypeName(type)));
    }
    absl::StatusOr<Shape> merged = cpu::BroadcastShapes(y, context.input(i).shape);
    if (!merged.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": ", merged.status().message()));
    }
    y = *merged;
  }
  std::vector<Shape> shapes;
  for (size_t i = 0; i < context.inputs.size(); ++i) {
    shapes.push_back(cpu::RightAlign(context.input(i).shape, y.size()));
  }
  BuiltKernel built;
  built.outputs.push_back({type, y});
  switch (type) {
    case DataType::kFloat32:
      built.kernel = std::make_unique<VariadicKernel<float>>(kOp, kMean, shapes, y);
      break;
    case DataType::kFloat64:
      built.kernel = std::make_unique<VariadicKernel<double>>(kOp, kMean, shapes, y);
      break;
    case DataType::kInt32:
      built.kernel = std::make_unique<VariadicKernel<int32_t>>(kOp, kMean, shapes, y);
      break;
    case DataType::kInt64:
      built.kernel = std::make_unique<VariadicKernel<int64_t>>(kOp, kMean, shapes, y);
      break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": ", DataTypeName(type)));
  }
  return built;
}

// Two float32 inputs go to oneDNN's binary primitive; other counts to the variadic kernel.
template <BinaryOp kOp>
absl::StatusOr<BuiltKernel> BuildMaxMin(const KernelBuildContext& context) {
  if (context.inputs.size() == 2 && context.has_input(1)) return BuildBinary<kOp>(context);
  return BuildVariadic<kOp, false>(context);
}

absl::Status CheckPow(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  OCTET_RETURN_IF_ERROR(RequireInputType(context, 0, kArithmeticTypes));
  return RequireInputType(context, 1, kArithmeticTypes);
}

absl::StatusOr<BuiltKernel> BuildPow(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& e = context.input(1);
  absl::StatusOr<Shape> y = cpu::BroadcastShapes(x.shape, e.shape);
  if (!y.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", y.status().message()));
  }
  const Shape a = cpu::RightAlign(x.shape, y->size()), b = cpu::RightAlign(e.shape, y->size());
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

// ai.octet.Int8Add(a_q, a_scale, a_zero_point, b_q, b_scale, b_zero_point, y_scale,
// y_zero_point), attribute `activation` ("" or "Relu"), made by LowerQdqToInt8 from
// Q([Relu](Add(DQ(a), DQ(b)))) with a and b of one shape: oneDNN's binary add on u8/s8 with the
// source scales s_a/s_y and s_b/s_y, the zero points folded into an eltwise_linear post-op and a
// fused Relu a clip at z_y:
//   y = max(a (s_a/s_y) + b (s_b/s_y) - z_a s_a/s_y - z_b s_b/s_y + z_y [, z_y]).
class Int8AddKernel final : public onednn::PrimitiveKernel {
 public:
  Int8AddKernel(const dnnl::binary::primitive_desc& pd, std::string what)
      : PrimitiveKernel(dnnl::binary(pd), pd, std::move(what)),
        src0_(pd.src_desc(0)),
        src1_(pd.src_desc(1)),
        dst_(pd.dst_desc()) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    return Execute({{DNNL_ARG_SRC_0, onednn::Wrap(src0_, *inputs[0])},
                    {DNNL_ARG_SRC_1, onednn::Wrap(src1_, *inputs[3])},
                    {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])}},
                   context);
  }

 private:
  memory::desc src0_, src1_, dst_;
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
    cpu::BroadcastBinary(a.data(), a_.shape, b.data(), b_.shape, sum.data(), y_shape_,
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

absl::Status CheckInt8Add(const CheckContext& context) {
  return RequireInputCount(context.node, 7, 8, 7);
}

absl::StatusOr<BuiltKernel> BuildInt8Add(const KernelBuildContext& context) {
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
  if (a.shape != b.shape) {
    OCTET_ASSIGN_OR_RETURN(Shape y_shape, cpu::BroadcastShapes(a.shape, b.shape));
    auto operand = [&](const TensorDesc& d, int scale, int zero) {
      return Int8BroadcastAddKernel::Operand{
          cpu::RightAlign(d.shape, y_shape.size()), d.type,
          onednn::ScalarParameter(context.constant(scale)),
          static_cast<int32_t>(onednn::ScalarParameter(context.constant(zero)))};
    };
    BuiltKernel built;
    built.kernel = std::make_unique<Int8BroadcastAddKernel>(
        operand(a, 1, 2), operand(b, 4, 5), y_shape, y_type,
        onednn::ScalarParameter(context.constant(6)),
        static_cast<int32_t>(onednn::ScalarParameter(context.constant(7))), activation == "Relu");
    built.outputs.push_back({y_type, y_shape});
    built.notes = "broadcast: dequantize, add and requantize in C++";
    return built;
  }
  const float y_scale = onednn::ScalarParameter(context.constant(6));
  const float a_ratio = onednn::ScalarParameter(context.constant(1)) / y_scale;
  const float b_ratio = onednn::ScalarParameter(context.constant(4)) / y_scale;
  const float offset = -onednn::ScalarParameter(context.constant(2)) * a_ratio -
                       onednn::ScalarParameter(context.constant(5)) * b_ratio;
  const float y_zero = onednn::ScalarParameter(context.constant(7));
  try {
    // Same-shape operands in their layout (channels-last from int8 convolutions); the result too.
    const TensorDesc y_desc = a.Like(y_type, a.shape);
    const memory::desc src0 = onednn::DescOf(a);
    const memory::desc src1 = onednn::DescOf(b);
    const memory::desc dst = onednn::DescOf(y_desc);
    dnnl::binary::desc desc(dnnl::algorithm::binary_add, src0, src1, dst);
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    attr.set_scales(DNNL_ARG_SRC_0, 0, {a_ratio});
    attr.set_scales(DNNL_ARG_SRC_1, 0, {b_ratio});
    // Relu in real units is a floor at z_y in integer units: one linear map, then a clip.
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f, offset + y_zero);
    if (activation == "Relu") {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, y_zero,
                         std::numeric_limits<float>::max());
    }
    attr.set_post_ops(ops);
    const dnnl::binary::primitive_desc pd(desc, attr, onednn::CpuEngine());
    BuiltKernel built;
    built.kernel = std::make_unique<Int8AddKernel>(pd, node.Describe());
    built.outputs.push_back(y_desc);
    built.notes = absl::StrCat(
        DataTypeName(a.type), " + ", DataTypeName(b.type), " -> ", DataTypeName(y_type),
        ", zero points ", onednn::ScalarParameter(context.constant(2)), ", ",
        onednn::ScalarParameter(context.constant(5)), " -> ", y_zero, " folded into eltwise_linear",
        activation.empty() ? "" : ", fused Relu");
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

std::vector<OpDefinition> BinaryOps() {
  return {
      {"Add", CheckBinary, BuildBinary<BinaryOp::kAdd>, 0, false, "", TakesBlockedPair},
      {"Div", CheckBinary, BuildBinary<BinaryOp::kDiv>, 0, false, "", TakesBlockedPair},
      {"Max", CheckVariadic, BuildMaxMin<BinaryOp::kMax>},
      {"Mean", CheckVariadic, BuildVariadic<BinaryOp::kAdd, true>},
      {"Min", CheckVariadic, BuildMaxMin<BinaryOp::kMin>},
      {"Pow", CheckPow, BuildPow},
      {"Mul", CheckBinary, BuildBinary<BinaryOp::kMul>, 0, false, "", TakesBlockedPair},
      {"Sub", CheckBinary, BuildBinary<BinaryOp::kSub>, 0, false, "", TakesBlockedPair},
      {"Sum", CheckVariadic, BuildVariadic<BinaryOp::kAdd, false>},
      {"Int8Add", CheckInt8Add, BuildInt8Add, 0, false, kOctetDomain, TakesInt8AddOperands},
  };
}

}  // namespace octet
