// ai.octet.Int8Concat: a Concat between QDQ on the integers, by one oneDNN reorder per input into
// its slice of the destination, requantizing where the input's scale or zero point differs from
// the output's. oneDNN 2.6.3's jit reorder ignores zero points when the destination is a slice
// strided in its innermost dimension (concatenating along the last axis, or along channels
// channels-last): an input with zero points is therefore requantized into a dense buffer of the
// scratchpad first, then copied into its slice.
#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;

class Int8ConcatKernel final : public Kernel {
 public:
  struct Part {
    int input;              // node input index of x_q
    memory::desc from, to;  // `to`: the input's slice of the destination
    dnnl::reorder reorder;
    // With zero points: `requantize` from `from` into `dense` (at the scratchpad's dense offset),
    // then `reorder` from `dense` into `to`.
    std::optional<dnnl::reorder> requantize;
    memory::desc dense;
  };

  // Scratchpad: [shared reorder scratch (`shared` bytes) | dense buffer (`dense` bytes)].
  Int8ConcatKernel(std::vector<Part> parts, size_t shared, size_t dense, std::string what)
      : parts_(std::move(parts)),
        shared_(shared),
        dense_offset_(AlignScratchpad(shared)),
        scratchpad_(dense_offset_ + dense),
        what_(std::move(what)) {}

  size_t scratchpad_bytes() const override { return scratchpad_; }
  std::string implementation() const override { return "oneDNN reorders into slices"; }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    char* base = static_cast<char*>(context.scratchpad);
    const memory scratch(
        onednn::PlainDesc(Shape{static_cast<int64_t>(std::max<size_t>(shared_, 1))},
                          DataType::kUint8),
        onednn::CpuEngine(), base);
    try {
      for (const Part& part : parts_) {
        memory from = onednn::Wrap(part.from, *inputs[part.input]);
        if (part.requantize.has_value()) {
          const memory dense(part.dense, onednn::CpuEngine(), base + dense_offset_);
          part.requantize->execute(
              onednn::ThreadStream(),
              {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, dense}, {DNNL_ARG_SCRATCHPAD, scratch}});
          from = dense;
        }
        // A slice's desc carries its offset: its handle is the destination's start.
        part.reorder.execute(onednn::ThreadStream(),
                             {{DNNL_ARG_FROM, from},
                              {DNNL_ARG_TO, onednn::Wrap(part.to, *outputs[0])},
                              {DNNL_ARG_SCRATCHPAD, scratch}});
      }
    } catch (const dnnl::error& e) {
      return onednn::ToStatus(e, what_);
    }
    return absl::OkStatus();
  }

 private:
  std::vector<Part> parts_;
  size_t shared_, dense_offset_, scratchpad_;
  std::string what_;
};

// Inputs: y_scale, y_zero_point (may be omitted: uint8), then (x_q, x_scale, x_zero_point) per
// concatenated input; attribute axis.
absl::Status CheckInt8Concat(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 5, 3 * 1024 + 2, 1));
  bool missing = false;
  for (size_t i = 2; i < context.node.inputs.size(); i += 3)
    missing |= context.node.input(i).empty();
  if ((context.node.inputs.size() - 2) % 3 != 0 || missing) {
    return absl::InvalidArgumentError(
        absl::StrCat(context.node.Describe(), ": inputs come as (x_q, scale, zero point) triples"));
  }
  return absl::OkStatus();
}

bool TakesChannelsLastParts(const KernelBuildContext& context) {
  for (size_t i = 2; i < context.inputs.size(); i += 3) {
    if (!context.has_input(i) || !context.input(i).channels_last) return false;
  }
  return true;
}

absl::StatusOr<BuiltKernel> BuildInt8Concat(const KernelBuildContext& context) {
  const Node& node = context.node;
  for (size_t i = 0; i < context.inputs.size(); ++i) {
    const bool parameter = i < 2 || (i - 2) % 3 != 0;
    if (parameter && context.has_input(i) &&
        (context.constant(i) == nullptr || context.constant(i)->element_count() != 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": scales and zero points must be scalar constants"));
    }
  }
  const DataType y_type = context.has_input(1) ? context.constant(1)->type() : DataType::kUint8;
  const float y_scale = onednn::ScalarParameter(context.constant(0));
  const float y_zero = onednn::ScalarParameter(context.constant(1));
  const TensorDesc& first = context.input(2);
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  OCTET_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 1));
  if (rank == 0 || axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": axis ", axis, " is out of range for rank ", rank));
  }
  if (axis < 0) axis += rank;
  Shape y_shape = first.shape;
  y_shape[axis] = 0;
  for (size_t i = 2; i < context.inputs.size(); i += 3) {
    const TensorDesc& x = context.input(i);
    if ((x.type != DataType::kUint8 && x.type != DataType::kInt8) ||
        static_cast<int64_t>(x.shape.size()) != rank) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": inputs must be u8/s8 of one rank"));
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && x.shape[d] != first.shape[d]) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": input shapes ", ShapeToString(first.shape), " and ",
                         ShapeToString(x.shape), " differ outside axis ", axis));
      }
    }
    y_shape[axis] += x.shape[axis];
  }
  TensorDesc y_desc = first.Like(y_type, y_shape);
  y_desc.channel_block = 0;  // channels-last or plain, as the inputs come
  try {
    const memory::desc dst = onednn::DescOf(y_desc);
    std::vector<Int8ConcatKernel::Part> parts;
    size_t shared = 0, dense = 0;
    memory::dims offsets(rank, 0);
    bool requantized = false;
    for (size_t i = 2; i < context.inputs.size(); i += 3) {
      const TensorDesc& x = context.input(i);
      const float ratio = onednn::ScalarParameter(context.constant(i + 1)) / y_scale;
      const auto x_zero = static_cast<int32_t>(onednn::ScalarParameter(context.constant(i + 2)));
      dnnl::primitive_attr attr = onednn::DefaultAttr();
      if (ratio != 1.0f) attr.set_output_scales(0, {ratio});
      if (x_zero != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {x_zero});
      if (y_zero != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {static_cast<int32_t>(y_zero)});
      requantized |= ratio != 1.0f || x_zero != static_cast<int32_t>(y_zero);
      Int8ConcatKernel::Part part;
      part.input = static_cast<int>(i);
      part.from = onednn::DescOf(x);
      part.to = dst.submemory_desc(memory::dims(x.shape.begin(), x.shape.end()), offsets);
      if (x_zero != 0 || y_zero != 0) {
        part.dense = onednn::DescOf(x.Like(y_type, x.shape));
        part.requantize = onednn::MakeReorder(part.from, part.dense, &shared, attr);
        dense = std::max(dense, part.dense.get_size());
        part.reorder = onednn::MakeReorder(part.dense, part.to, &shared);
      } else {
        part.reorder = onednn::MakeReorder(part.from, part.to, &shared, attr);
      }
      parts.push_back(std::move(part));
      offsets[axis] += x.shape[axis];
    }
    BuiltKernel built;
    built.kernel =
        std::make_unique<Int8ConcatKernel>(std::move(parts), shared, dense, node.Describe());
    built.outputs.push_back(y_desc);
    built.notes =
        absl::StrCat((context.inputs.size() - 2) / 3, " inputs -> ", DataTypeName(y_type),
                     requantized ? ", requantized to the output's scale" : ", one scale: copies");
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

}  // namespace

std::vector<OpDefinition> Int8ConcatOps() {
  OpDefinition concat{"Int8Concat", CheckInt8Concat, BuildInt8Concat};
  concat.domain = kOctetDomain;
  concat.takes_blocked = TakesChannelsLastParts;
  return {concat};
}

}  // namespace octet
