// Add, Sub, Mul, Div, Max, Min with numpy broadcasting. float32 runs on oneDNN's binary
// primitive, which broadcasts only its second source: operands are swapped when only the first
// needs broadcasting and the op commutes. Other element types, and broadcasts oneDNN cannot
// express, run in plain C++.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/broadcast.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

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
  if (a.channel_block != 0 || b.channel_block != 0) {
    // Same-shape float inputs (TakesBlockedPair): the result takes the first blocked layout.
    try {
      const TensorDesc y_desc{DataType::kFloat32, *y,
                              a.channel_block != 0 ? a.channel_block : b.channel_block};
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
  };
}

}  // namespace octet
