// Concat, Transpose, Slice, Pad, Split, Gather and Cast for every element type the engine holds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/index_map.h"
#include "engine/runtime/op_families.h"
#include "engine/tensor/float16.h"

namespace octet {
namespace {

std::vector<int64_t> RowMajorStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

int64_t Product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

class IndexMapKernel final : public Kernel {
 public:
  IndexMapKernel(std::vector<cpu::DimensionMap> dims, size_t element_size, uint64_t fill)
      : dims_(std::move(dims)), element_size_(element_size), fill_(fill) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    cpu::IndexMapCopy(inputs[0]->raw_data(), outputs[0]->raw_data(), dims_, element_size_, &fill_);
    return absl::OkStatus();
  }

 private:
  std::vector<cpu::DimensionMap> dims_;
  size_t element_size_;
  uint64_t fill_;
};

BuiltKernel MapKernel(const TensorDesc& x, std::vector<cpu::DimensionMap> dims, uint64_t fill = 0) {
  Shape y;
  for (const cpu::DimensionMap& d : dims) y.push_back(static_cast<int64_t>(d.source.size()));
  BuiltKernel built;
  built.outputs.push_back({x.type, y});
  built.kernel = std::make_unique<IndexMapKernel>(std::move(dims), ElementSize(x.type), fill);
  return built;
}

std::vector<int64_t> Iota(int64_t count, int64_t start = 0, int64_t step = 1) {
  std::vector<int64_t> v(std::max<int64_t>(count, 0));
  for (int64_t i = 0; i < count; ++i) v[i] = start + i * step;
  return v;
}

absl::Status CheckAny(const CheckContext& context) {
  return RequireInputCount(context.node, 1, 1, 1);
}

// Transpose.
absl::StatusOr<BuiltKernel> BuildTranspose(const KernelBuildContext& context) {
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> reversed = Iota(rank, rank - 1, -1);
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> perm, context.node.GetInts("perm", reversed));
  std::vector<bool> seen(rank, false);
  if (static_cast<int64_t>(perm.size()) != rank) {
    return absl::InvalidArgumentError(absl::StrCat(context.node.Describe(), ": perm has ",
                                                   perm.size(), " entries for rank ", rank));
  }
  for (int64_t& p : perm) {
    OCTET_ASSIGN_OR_RETURN(p, NormalizeAxis(context.node, p, rank));
    if (seen[p]) {
      return absl::InvalidArgumentError(
          absl::StrCat(context.node.Describe(), ": perm is not a permutation"));
    }
    seen[p] = true;
  }
  const std::vector<int64_t> strides = RowMajorStrides(x.shape);
  std::vector<cpu::DimensionMap> dims;
  for (int64_t p : perm) dims.push_back({Iota(x.shape[p]), strides[p]});
  return MapKernel(x, std::move(dims));
}

// Slice: starts, ends, axes and steps as attributes before opset 10, as inputs from 10.
absl::Status CheckSlice(const CheckContext& context) {
  return RequireInputCount(context.node, 1, 5, 1);
}

absl::StatusOr<BuiltKernel> BuildSlice(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (context.opset < 10) {
    OCTET_ASSIGN_OR_RETURN(starts, node.GetInts("starts", {}));
    OCTET_ASSIGN_OR_RETURN(ends, node.GetInts("ends", {}));
    OCTET_ASSIGN_OR_RETURN(axes, node.GetInts("axes", Iota(starts.size())));
  } else {
    OCTET_ASSIGN_OR_RETURN(starts, ConstantInts(context, 1));
    OCTET_ASSIGN_OR_RETURN(ends, ConstantInts(context, 2));
    if (context.has_input(3)) {
      OCTET_ASSIGN_OR_RETURN(axes, ConstantInts(context, 3));
    } else {
      axes = Iota(starts.size());
    }
    if (context.has_input(4)) {
      OCTET_ASSIGN_OR_RETURN(steps, ConstantInts(context, 4));
    }
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": starts, ends, axes and steps differ in length"));
  }
  const std::vector<int64_t> strides = RowMajorStrides(x.shape);
  std::vector<cpu::DimensionMap> dims;
  for (int64_t d = 0; d < rank; ++d) dims.push_back({Iota(x.shape[d]), strides[d]});
  std::vector<bool> sliced(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    OCTET_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axes[i], rank));
    if (sliced[axis] || steps[i] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": repeated axis or zero step"));
    }
    sliced[axis] = true;
    const int64_t n = x.shape[axis], step = steps[i];
    auto clamp = [&](int64_t v, bool is_end) {
      if (v < 0) v = std::max<int64_t>(v, std::numeric_limits<int64_t>::min() / 2) + n;
      return step > 0 ? std::clamp<int64_t>(v, 0, n)
                      : std::clamp<int64_t>(v, is_end ? -1 : 0, n - 1);
    };
    const int64_t start =
        clamp(std::min(starts[i], std::numeric_limits<int64_t>::max() / 2), false);
    const int64_t end = clamp(std::min(ends[i], std::numeric_limits<int64_t>::max() / 2), true);
    const int64_t count =
        step > 0 ? (end - start + step - 1) / step : (start - end + (-step) - 1) / (-step);
    dims[axis].source = Iota(std::max<int64_t>(count, 0), start, step);
  }
  return MapKernel(x, std::move(dims));
}

// Pad: constant, edge or reflect; pads and the constant as attributes before opset 11.
absl::Status CheckPad(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 3, 1));
  OCTET_ASSIGN_OR_RETURN(std::string mode, context.node.GetString("mode", "constant"));
  if (mode != "constant" && mode != "edge" && mode != "reflect") {
    return UnsupportedError(UnsupportedKind::kAttribute,
                            absl::StrCat(context.node.Describe(), ": mode '", mode, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildPad(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  OCTET_ASSIGN_OR_RETURN(std::string mode, node.GetString("mode", "constant"));
  std::vector<int64_t> pads;
  uint64_t fill = 0;
  if (context.opset < 11) {
    OCTET_ASSIGN_OR_RETURN(pads, node.GetInts("pads", {}));
    OCTET_ASSIGN_OR_RETURN(float value, node.GetFloat("value", 0.0f));
    if (x.type != DataType::kFloat32) {
      return UnsupportedError(UnsupportedKind::kElementType,
                              absl::StrCat(node.Describe(), ": non-float data before opset 11"));
    }
    std::memcpy(&fill, &value, sizeof(value));
  } else {
    OCTET_ASSIGN_OR_RETURN(pads, ConstantInts(context, 1));
    if (const Tensor* value = context.constant(2)) {
      if (value->type() != x.type || value->element_count() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": constant_value must be one ", DataTypeName(x.type)));
      }
      std::memcpy(&fill, value->raw_data(), value->byte_size());
    }
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": pads has ", pads.size(), " entries for rank ", rank));
  }
  const std::vector<int64_t> strides = RowMajorStrides(x.shape);
  std::vector<cpu::DimensionMap> dims;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t n = x.shape[d], begin = pads[d], end = pads[d + rank];
    const int64_t out = n + begin + end;
    if (out < 0 || (mode != "constant" && n == 0 && out > 0) ||
        (mode == "reflect" && (begin >= n || end >= n) && (begin > 0 || end > 0))) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": pads do not fit dim ", d,
                                                     " of ", ShapeToString(x.shape)));
    }
    std::vector<int64_t> source(out);
    for (int64_t o = 0; o < out; ++o) {
      int64_t i = o - begin;
      if (i < 0 || i >= n) {
        if (mode == "constant") {
          i = -1;
        } else if (mode == "edge") {
          i = std::clamp<int64_t>(i, 0, n - 1);
        } else {
          i = i < 0 ? -i : 2 * (n - 1) - i;
        }
      }
      source[o] = i;
    }
    dims.push_back({std::move(source), strides[d]});
  }
  return MapKernel(x, std::move(dims), fill);
}

// Concat along an axis: for each outer index, each input's inner block in turn.
class ConcatKernel final : public Kernel {
 public:
  ConcatKernel(int64_t outer, std::vector<size_t> block_bytes)
      : outer_(outer), block_bytes_(std::move(block_bytes)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    char* out = static_cast<char*>(outputs[0]->raw_data());
    for (int64_t o = 0; o < outer_; ++o) {
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (block_bytes_[i] == 0) continue;
        std::memcpy(out, static_cast<const char*>(inputs[i]->raw_data()) + o * block_bytes_[i],
                    block_bytes_[i]);
        out += block_bytes_[i];
      }
    }
    return absl::OkStatus();
  }

 private:
  int64_t outer_;
  std::vector<size_t> block_bytes_;
};

absl::Status CheckConcat(const CheckContext& context) {
  return RequireInputCount(context.node, 1, 1 << 16, 1);
}

absl::StatusOr<BuiltKernel> BuildConcat(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& first = context.input(0);
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  OCTET_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  OCTET_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, rank));
  Shape y = first.shape;
  y[axis] = 0;
  std::vector<size_t> blocks;
  for (size_t i = 0; i < context.inputs.size(); ++i) {
    if (!context.has_input(i)) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": empty input name"));
    }
    const TensorDesc& x = context.input(i);
    bool fits = x.type == first.type && x.shape.size() == first.shape.size();
    for (int64_t d = 0; fits && d < rank; ++d) fits = d == axis || x.shape[d] == first.shape[d];
    if (!fits) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": input ", i, " ", ShapeToString(x.shape),
                       " does not fit ", ShapeToString(first.shape), " along axis ", axis));
    }
    y[axis] += x.shape[axis];
    blocks.push_back(Product(x.shape, axis, rank) * ElementSize(x.type));
  }
  BuiltKernel built;
  built.outputs.push_back({first.type, y});
  built.kernel = std::make_unique<ConcatKernel>(Product(first.shape, 0, axis), std::move(blocks));
  return built;
}

// Split along an axis into consecutive parts.
class SplitKernel final : public Kernel {
 public:
  SplitKernel(int64_t outer, size_t input_block, std::vector<size_t> output_blocks)
      : outer_(outer), input_block_(input_block), output_blocks_(std::move(output_blocks)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const char* in = static_cast<const char*>(inputs[0]->raw_data());
    for (int64_t o = 0; o < outer_; ++o) {
      size_t offset = 0;
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i] != nullptr && output_blocks_[i] > 0) {
          std::memcpy(static_cast<char*>(outputs[i]->raw_data()) + o * output_blocks_[i],
                      in + o * input_block_ + offset, output_blocks_[i]);
        }
        offset += output_blocks_[i];
      }
    }
    return absl::OkStatus();
  }

 private:
  int64_t outer_;
  size_t input_block_;
  std::vector<size_t> output_blocks_;
};

absl::Status CheckSplit(const CheckContext& context) {
  return RequireInputCount(context.node, 1, 2, 1);
}

absl::StatusOr<BuiltKernel> BuildSplit(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  OCTET_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  OCTET_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, rank));
  const int64_t parts = static_cast<int64_t>(node.outputs.size());
  std::vector<int64_t> sizes;
  if (context.has_input(1)) {
    OCTET_ASSIGN_OR_RETURN(sizes, ConstantInts(context, 1));
  } else {
    OCTET_ASSIGN_OR_RETURN(sizes, node.GetInts("split", {}));
  }
  if (sizes.empty()) {
    if (parts == 0 || x.shape[axis] % parts != 0) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": dim ", x.shape[axis],
                                                     " does not split into ", parts, " parts"));
    }
    sizes.assign(parts, x.shape[axis] / parts);
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (static_cast<int64_t>(sizes.size()) != parts || total != x.shape[axis]) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": split sizes do not add up to dim ", x.shape[axis]));
  }
  const size_t inner = Product(x.shape, axis + 1, rank) * ElementSize(x.type);
  BuiltKernel built;
  std::vector<size_t> blocks;
  for (int64_t s : sizes) {
    Shape y = x.shape;
    y[axis] = s;
    built.outputs.push_back({x.type, y});
    blocks.push_back(s * inner);
  }
  built.kernel = std::make_unique<SplitKernel>(Product(x.shape, 0, axis), x.shape[axis] * inner,
                                               std::move(blocks));
  return built;
}

// Gather along an axis, with negative indices counted from the end.
class GatherKernel final : public Kernel {
 public:
  GatherKernel(int64_t outer, int64_t axis_size, size_t inner_bytes)
      : outer_(outer), axis_size_(axis_size), inner_bytes_(inner_bytes) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    const Tensor& indices = *inputs[1];
    std::vector<int64_t> index(indices.element_count());
    for (int64_t i = 0; i < indices.element_count(); ++i) {
      int64_t v = indices.type() == DataType::kInt64 ? indices.data<int64_t>()[i]
                                                     : indices.data<int32_t>()[i];
      if (v < -axis_size_ || v >= axis_size_) {
        return absl::InvalidArgumentError(
            absl::StrCat("Gather index ", v, " is out of range for a dim of ", axis_size_));
      }
      index[i] = v < 0 ? v + axis_size_ : v;
    }
    const char* in = static_cast<const char*>(inputs[0]->raw_data());
    char* out = static_cast<char*>(outputs[0]->raw_data());
    if (inner_bytes_ == 0) return absl::OkStatus();
    for (int64_t o = 0; o < outer_; ++o) {
      for (int64_t i : index) {
        std::memcpy(out, in + (o * axis_size_ + i) * inner_bytes_, inner_bytes_);
        out += inner_bytes_;
      }
    }
    return absl::OkStatus();
  }

 private:
  int64_t outer_, axis_size_;
  size_t inner_bytes_;
};

absl::Status CheckGather(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  return RequireInputType(context, 1, {DataType::kInt64, DataType::kInt32});
}

absl::StatusOr<BuiltKernel> BuildGather(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  const TensorDesc& indices = context.input(1);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank == 0) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": data is a scalar"));
  }
  OCTET_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  OCTET_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, rank));
  Shape y(x.shape.begin(), x.shape.begin() + axis);
  y.insert(y.end(), indices.shape.begin(), indices.shape.end());
  y.insert(y.end(), x.shape.begin() + axis + 1, x.shape.end());
  BuiltKernel built;
  built.outputs.push_back({x.type, y});
  built.kernel =
      std::make_unique<GatherKernel>(Product(x.shape, 0, axis), x.shape[axis],
                                     Product(x.shape, axis + 1, rank) * ElementSize(x.type));
  return built;
}

// Cast between numeric types, float16 and bool. float16 goes through float32 (which holds every
// half exactly); to float16 rounds to nearest even (from float64 and int64 after a rounding to
// float32 first).
template <typename To, typename From>
void ConvertAll(const From* in, To* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if constexpr (std::is_same_v<To, bool>) {
      out[i] = in[i] != From(0);
    } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
      // Out-of-range and NaN conversions are undefined in C++; ONNX leaves them unspecified.
      const double v = static_cast<double>(in[i]);
      out[i] = std::isfinite(v) && v >= static_cast<double>(std::numeric_limits<To>::lowest()) &&
                       v <= static_cast<double>(std::numeric_limits<To>::max())
                   ? static_cast<To>(v)
                   : To(0);
    } else {
      out[i] = static_cast<To>(in[i]);
    }
  }
}

template <typename To>
void ConvertFrom(const Tensor& in, To* out) {
  const int64_t n = in.element_count();
  switch (in.type()) {
    case DataType::kFloat32:
      ConvertAll(in.data<float>(), out, n);
      break;
    case DataType::kFloat64:
      ConvertAll(in.data<double>(), out, n);
      break;
    case DataType::kUint8:
      ConvertAll(in.data<uint8_t>(), out, n);
      break;
    case DataType::kInt8:
      ConvertAll(in.data<int8_t>(), out, n);
      break;
    case DataType::kInt32:
      ConvertAll(in.data<int32_t>(), out, n);
      break;
    case DataType::kInt64:
      ConvertAll(in.data<int64_t>(), out, n);
      break;
    case DataType::kBool:
      ConvertAll(in.data<bool>(), out, n);
      break;
    case DataType::kFloat16: {
      const auto* half = static_cast<const uint16_t*>(in.raw_data());
      for (int64_t i = 0; i < n; ++i) {
        const float value = HalfToFloat(half[i]);
        ConvertAll(&value, out + i, 1);
      }
      break;
    }
  }
}

void ConvertToHalf(const Tensor& in, uint16_t* out) {
  const int64_t n = in.element_count();
  if (in.type() == DataType::kFloat16) {
    std::memcpy(out, in.raw_data(), n * sizeof(uint16_t));
    return;
  }
  if (in.type() == DataType::kFloat32) {
    const float* values = in.data<float>();
    for (int64_t i = 0; i < n; ++i) out[i] = FloatToHalf(values[i]);
    return;
  }
  std::vector<float> values(n);
  ConvertFrom(in, values.data());
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToHalf(values[i]);
}

class CastKernel final : public Kernel {
 public:
  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext&) const override {
    Tensor& out = *outputs[0];
    switch (out.type()) {
      case DataType::kFloat32:
        ConvertFrom(*inputs[0], out.data<float>());
        break;
      case DataType::kFloat64:
        ConvertFrom(*inputs[0], out.data<double>());
        break;
      case DataType::kUint8:
        ConvertFrom(*inputs[0], out.data<uint8_t>());
        break;
      case DataType::kInt8:
        ConvertFrom(*inputs[0], out.data<int8_t>());
        break;
      case DataType::kInt32:
        ConvertFrom(*inputs[0], out.data<int32_t>());
        break;
      case DataType::kInt64:
        ConvertFrom(*inputs[0], out.data<int64_t>());
        break;
      case DataType::kBool:
        ConvertFrom(*inputs[0], out.data<bool>());
        break;
      case DataType::kFloat16:
        ConvertToHalf(*inputs[0], static_cast<uint16_t*>(out.raw_data()));
    }
    return absl::OkStatus();
  }
};

absl::Status CheckCast(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 1, 1, 1));
  OCTET_ASSIGN_OR_RETURN(int64_t to, context.node.GetInt("to", 0));
  const std::optional<DataType> type = DataTypeFromOnnx(static_cast<int32_t>(to));
  if (!type.has_value()) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(context.node.Describe(), ": cast to ONNX type ", to));
  }
  return RequireInputType(
      context, 0,
      {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kUint8,
       DataType::kInt8, DataType::kInt32, DataType::kInt64, DataType::kBool});
}

absl::StatusOr<BuiltKernel> BuildCast(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(int64_t to, context.node.GetInt("to", 0));
  const std::optional<DataType> type = DataTypeFromOnnx(static_cast<int32_t>(to));
  if (!type.has_value()) {
    return UnsupportedError(UnsupportedKind::kElementType,
                            absl::StrCat(context.node.Describe(), ": cast to ONNX type ", to));
  }
  BuiltKernel built;
  built.outputs.push_back({*type, context.input(0).shape});
  built.kernel = std::make_unique<CastKernel>();
  return built;
}

}  // namespace

std::vector<OpDefinition> DataMovementOps() {
  return {
      {"Cast", CheckCast, BuildCast},
      {"Concat", CheckConcat, BuildConcat},
      {"Gather", CheckGather, BuildGather},
      {"Pad", CheckPad, BuildPad, 0b110},
      {"Slice", CheckSlice, BuildSlice, 0b11110},
      {"Split", CheckSplit, BuildSplit, 0b10},
      {"Transpose", CheckAny, BuildTranspose},
  };
}

}  // namespace octet
