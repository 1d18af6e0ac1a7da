// ReduceMean, ReduceSum, ReduceMax, ReduceMin and ReduceProd over any set of axes. Axes are an
// attribute, except for ReduceSum from opset 13, which takes them as an input.
#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

enum class Reduction { kMean, kSum, kMax, kMin, kProd };

template <typename T>
class ReduceKernel final : public Kernel {
 public:
  // `output_strides[d]` is the output stride of input dim d, 0 where d is reduced.
  ReduceKernel(Reduction reduction, Shape input, std::vector<int64_t> output_strides,
               int64_t reduced_count)
      : reduction_(reduction),
        input_(std::move(input)),
        output_strides_(std::move(output_strides)),
        reduced_count_(reduced_count) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    const int64_t out_count = outputs[0]->element_count();
    Accumulator init = 0;
    if (reduction_ == Reduction::kMax) init = std::numeric_limits<T>::lowest();
    if (reduction_ == Reduction::kMin) init = std::numeric_limits<T>::max();
    if (reduction_ == Reduction::kProd) init = 1;
    std::vector<Accumulator> acc(out_count, init);
    const T* x = inputs[0]->data<T>();
    const int64_t count = inputs[0]->element_count();
    const size_t rank = input_.size();
    std::vector<int64_t> index(rank, 0);
    int64_t out = 0;
    for (int64_t i = 0; i < count; ++i) {
      const Accumulator v = static_cast<Accumulator>(x[i]);
      switch (reduction_) {
        case Reduction::kMax: acc[out] = std::max(acc[out], v); break;
        case Reduction::kMin: acc[out] = std::min(acc[out], v); break;
        case Reduction::kProd: acc[out] *= v; break;
        default: acc[out] += v; break;
      }
      for (size_t d = rank; d-- > 0;) {
        out += output_strides_[d];
        if (++index[d] < input_[d]) break;
        out -= output_strides_[d] * input_[d];
        index[d] = 0;
      }
    }
    T* y = outputs[0]->data<T>();
    for (int64_t o = 0; o < out_count; ++o) {
      y[o] = reduction_ == Reduction::kMean
                 ? static_cast<T>(acc[o] / static_cast<Accumulator>(std::max<int64_t>(reduced_count_, 1)))
                 : static_cast<T>(acc[o]);
    }
    return absl::OkStatus();
  }

 private:
  Reduction reduction_;
  Shape input_;
  std::vector<int64_t> output_strides_;
  int64_t reduced_count_;
};

absl::Status CheckReduce(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 2, 1));
  return RequireInputType(context, 0,
                          {DataType::kFloat32, DataType::kFloat64, DataType::kInt32,
                           DataType::kInt64});
}

template <Reduction kReduction>
absl::StatusOr<BuiltKernel> BuildReduce(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  OCTET_ASSIGN_OR_RETURN(int64_t keepdims, node.GetInt("keepdims", 1));
  OCTET_ASSIGN_OR_RETURN(int64_t noop, node.GetInt("noop_with_empty_axes", 0));
  std::vector<int64_t> axes;
  if (context.has_input(1)) {
    OCTET_ASSIGN_OR_RETURN(axes, ConstantInts(context, 1));
  } else {
    OCTET_ASSIGN_OR_RETURN(axes, node.GetInts("axes", {}));
  }
  std::vector<bool> reduced(rank, axes.empty() && !noop);
  for (int64_t axis : axes) {
    OCTET_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, rank));
    reduced[a] = true;
  }
  Shape y, kept;
  int64_t reduced_count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      reduced_count *= x.shape[d];
      if (keepdims) y.push_back(1);
      if ((kReduction == Reduction::kMax || kReduction == Reduction::kMin) && x.shape[d] == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": reducing an empty dim has no maximum or minimum"));
      }
    } else {
      y.push_back(x.shape[d]);
      kept.push_back(x.shape[d]);
    }
  }
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (int64_t d = rank; d-- > 0;) {
    if (!reduced[d]) {
      strides[d] = stride;
      stride *= x.shape[d];
    }
  }
  BuiltKernel built;
  built.outputs.push_back({x.type, y});
  switch (x.type) {
    case DataType::kFloat32: built.kernel = std::make_unique<ReduceKernel<float>>(kReduction, x.shape, strides, reduced_count); break;
    case DataType::kFloat64: built.kernel = std::make_unique<ReduceKernel<double>>(kReduction, x.shape, strides, reduced_count); break;
    case DataType::kInt32: built.kernel = std::make_unique<ReduceKernel<int32_t>>(kReduction, x.shape, strides, reduced_count); break;
    case DataType::kInt64: built.kernel = std::make_unique<ReduceKernel<int64_t>>(kReduction, x.shape, strides, reduced_count); break;
    default:
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": ", DataTypeName(x.type)));
  }
  return built;
}

}  // namespace

std::vector<OpDefinition> ReduceOps() {
  return {
      {"ReduceMax", CheckReduce, BuildReduce<Reduction::kMax>},
      {"ReduceMean", CheckReduce, BuildReduce<Reduction::kMean>},
      {"ReduceMin", CheckReduce, BuildReduce<Reduction::kMin>},
      {"ReduceProd", CheckReduce, BuildReduce<Reduction::kProd>},
      {"ReduceSum", CheckReduce, BuildReduce<Reduction::kSum>, 0b10},
  };
}

}  // namespace octet
