#include "engine/runtime/onednn/conv_common.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::onednn {
namespace {

using dnnl::memory;

struct ConvAttributes {
  std::vector<int64_t> strides, dilations, pads_begin, pads_end;
  int64_t group = 1;
  std::string auto_pad;
};

absl::StatusOr<ConvAttributes> ReadAttributes(const Node& node, size_t spatial_rank) {
  ConvAttributes a;
  OCTET_ASSIGN_OR_RETURN(a.strides, node.GetInts("strides", std::vector<int64_t>(spatial_rank, 1)));
  OCTET_ASSIGN_OR_RETURN(a.dilations,
                         node.GetInts("dilations", std::vector<int64_t>(spatial_rank, 1)));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                         node.GetInts("pads", std::vector<int64_t>(2 * spatial_rank, 0)));
  OCTET_ASSIGN_OR_RETURN(a.group, node.GetInt("group", 1));
  OCTET_ASSIGN_OR_RETURN(a.auto_pad, node.GetString("auto_pad", "NOTSET"));
  if (a.strides.size() != spatial_rank || a.dilations.size() != spatial_rank ||
      pads.size() != 2 * spatial_rank) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(),
                                                   ": strides, dilations and pads must match the ",
                                                   spatial_rank, " spatial dimensions"));
  }
  for (size_t i = 0; i < spatial_rank; ++i) {
    if (a.strides[i] < 1 || a.dilations[i] < 1 || pads[i] < 0 || pads[i + spatial_rank] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": strides and dilations must be positive and pads non-negative"));
    }
  }
  a.pads_begin.assign(pads.begin(), pads.begin() + spatial_rank);
  a.pads_end.assign(pads.begin() + spatial_rank, pads.end());
  return a;
}

// Runs the convolution in the activation layouts oneDNN prefers (MakeConvKernel):
// [shared scratch | blocked src | blocked dst] in the scratchpad.
class ConvKernel final : public PrimitiveKernel {
 public:
  ConvKernel(const dnnl::convolution_forward::primitive_desc& pd, memory::desc src,
             memory::desc bias, memory::desc dst, std::optional<Tensor> packed_weights,
             std::string what, std::optional<Tensor> packed_bias = std::nullopt, int sum_input = -1,
             std::optional<ExplicitPadding> padding = std::nullopt)
      : PrimitiveKernel(dnnl::convolution_forward(pd), pd, std::move(what)),
        sum_input_(sum_input),
        padding_(std::move(padding)),
        src_(src),
        src_inner_(pd.src_desc()),
        weights_(pd.weights_desc()),
        bias_(bias),
        dst_(dst),
        dst_inner_(pd.dst_desc()),
        packed_weights_(std::move(packed_weights)),
        packed_bias_(std::move(packed_bias)) {
    size_t shared = PrimitiveKernel::scratchpad_bytes();
    if (padding_.has_value()) {
      // The source is reordered into the middle of the padded buffer, whose border Run fills.
      memory::dims offsets(src_inner_.dims().size(), 0);
      std::copy(padding_->begin.begin(), padding_->begin.end(), offsets.begin() + 2);
      interior_ = src_inner_.submemory_desc(
          memory::dims(padding_->inner.begin(), padding_->inner.end()), offsets);
      src_reorder_ = MakeReorder(src_, interior_, &shared);
      const memory::dims padded = src_inner_.dims();
      padded_channels_last_ =
          LayoutOf(src_inner_, Shape(padded.begin(), padded.end()), padding_->type).channels_last;
      padding_reorders_ =
          LayoutOf(src_, padding_->inner, padding_->type).channels_last != padded_channels_last_;
    } else if (src_inner_ != src_) {
      src_reorder_ = MakeReorder(src_, src_inner_, &shared);
    }
    if (dst_inner_ != dst_) dst_reorder_ = MakeReorder(dst_inner_, dst_, &shared);
    src_offset_ = AlignScratchpad(shared);
    dst_offset_ = AlignScratchpad(src_offset_ + (src_reorder_ ? src_inner_.get_size() : 0));
    total_ = dst_offset_ + (dst_reorder_ ? dst_inner_.get_size() : 0);
  }

  size_t scratchpad_bytes() const override { return total_; }
  std::string implementation() const override {
    std::string name = PrimitiveKernel::implementation();
    if (padding_.has_value()) {
      name += padding_reorders_ ? " (+ input reorder, padded with the zero point)"
                                : " (+ padding with the zero point)";
    } else if (src_reorder_) {
      name += " (+ input reorder)";
    }
    if (dst_reorder_) name += " (+ output reorder)";
    return name;
  }

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    char* scratch = static_cast<char*>(context.scratchpad);
    const memory::desc shared_desc =
        PlainDesc(Shape{static_cast<int64_t>(std::max<size_t>(src_offset_, 1))}, DataType::kUint8);
    memory src = Wrap(src_, *inputs[0]);
    memory dst = Wrap(dst_, *outputs[0]);
    if (sum_input_ >= 0 && inputs[sum_input_]->raw_data() != outputs[0]->raw_data()) {
      // Same desc as the output (the plan checked), so the same bytes.
      std::memcpy(outputs[0]->raw_data(), inputs[sum_input_]->raw_data(), dst_.get_size());
    }
    try {
      if (src_reorder_) {
        memory inner(src_inner_, CpuEngine(), scratch + src_offset_);
        if (padding_.has_value()) FillBorder(scratch + src_offset_);
        src_reorder_->execute(
            ThreadStream(),
            {{DNNL_ARG_FROM, src},
             {DNNL_ARG_TO,
              padding_.has_value() ? memory(interior_, CpuEngine(), scratch + src_offset_) : inner},
             {DNNL_ARG_SCRATCHPAD, memory(shared_desc, CpuEngine(), scratch)}});
        src = inner;
      }
      if (dst_reorder_) dst = memory(dst_inner_, CpuEngine(), scratch + dst_offset_);
    } catch (const dnnl::error& e) {
      return ToStatus(e, "reordering a Conv input");
    }
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_WEIGHTS,
         Wrap(weights_, packed_weights_.has_value() ? *packed_weights_ : *inputs[1])},
        {DNNL_ARG_DST, dst},
    };
    if (packed_bias_.has_value()) {
      args.emplace(DNNL_ARG_BIAS, Wrap(bias_, *packed_bias_));
    } else if (inputs.size() > 2 && inputs[2] != nullptr) {
      args.emplace(DNNL_ARG_BIAS, Wrap(bias_, *inputs[2]));
    }
    OCTET_RETURN_IF_ERROR(Execute(std::move(args), context));
    if (dst_reorder_) {
      try {
        dst_reorder_->execute(ThreadStream(),
                              {{DNNL_ARG_FROM, dst},
                               {DNNL_ARG_TO, Wrap(dst_, *outputs[0])},
                               {DNNL_ARG_SCRATCHPAD, memory(shared_desc, CpuEngine(), scratch)}});
      } catch (const dnnl::error& e) {
        return ToStatus(e, "reordering a Conv output");
      }
    }
    return absl::OkStatus();
  }

 private:
  // Writes the padding value around where the source goes in the padded buffer: in channels-last
  // order only the border (whole rows above and below, the ends of the rows between); in any
  // other layout the whole buffer, which the source then overwrites.
  void FillBorder(char* buffer) const {
    const memory::dims dims = src_inner_.dims();
    if (!padded_channels_last_) {
      std::memset(buffer, padding_->fill, src_inner_.get_size());
      return;
    }
    // Channels-last: [N][S1]..[Sk][C] bytes; a row is the innermost spatial dim times C.
    const size_t rank = dims.size();
    const int64_t channels = dims[1];
    const int64_t row_bytes = dims[rank - 1] * channels;
    const int64_t before = padding_->begin.back() * channels;
    const int64_t inner_bytes = padding_->inner.back() * channels;
    const int64_t after = row_bytes - before - inner_bytes;
    // Walk the rows: index over N and the outer spatial dims S1..S(k-1).
    std::vector<int64_t> index(rank - 2, 0);  // [n, s1, .., s(k-1)]
    std::vector<int64_t> extent = {dims[0]};
    for (size_t d = 2; d + 1 < rank; ++d) extent.push_back(dims[d]);
    char* row = buffer;
    while (true) {
      bool border = false;
      for (size_t d = 1; d < index.size(); ++d) {
        border |= index[d] < padding_->begin[d - 1] ||
                  index[d] >= padding_->begin[d - 1] + padding_->inner[d + 1];
      }
      if (border) {
        std::memset(row, padding_->fill, row_bytes);
      } else {
        std::memset(row, padding_->fill, before);
        std::memset(row + before + inner_bytes, padding_->fill, after);
      }
      row += row_bytes;
      size_t d = index.size();
      while (d > 0 && ++index[d - 1] == extent[d - 1]) index[--d] = 0;
      if (d == 0) break;
    }
  }

  const int sum_input_;
  const std::optional<ExplicitPadding> padding_;
  memory::desc interior_;
  bool padded_channels_last_ = false;
  bool padding_reorders_ = false;  // the source comes in another layout than the padded buffer
  memory::desc src_, src_inner_, weights_, bias_, dst_, dst_inner_;
  std::optional<Tensor> packed_weights_, packed_bias_;
  std::optional<dnnl::reorder> src_reorder_, dst_reorder_;
  size_t src_offset_ = 0, dst_offset_ = 0, total_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> MakeConvKernel(const dnnl::convolution_forward::primitive_desc& pd,
                                       memory::desc src, memory::desc bias, memory::desc dst,
                                       std::optional<Tensor> packed_weights, std::string what,
                                       std::optional<Tensor> packed_bias, int sum_input,
                                       std::optional<ExplicitPadding> padding) {
  return std::make_unique<ConvKernel>(pd, src, bias, dst, std::move(packed_weights),
                                      std::move(what), std::move(packed_bias), sum_input,
                                      std::move(padding));
}

absl::StatusOr<ConvGeometry> ComputeGeometry(const Node& node, const Shape& x, const Shape& w) {
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size()) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X ", ShapeToString(x),
                                                   " and W ", ShapeToString(w),
                                                   " must both have rank 3 to 5"));
  }
  const size_t spatial = x.size() - 2;
  OCTET_ASSIGN_OR_RETURN(ConvAttributes a, ReadAttributes(node, spatial));
  const int64_t channels = x[1], out_channels = w[0];
  if (channels % a.group != 0 || out_channels % a.group != 0 || w[1] * a.group != channels) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X has ", channels,
                                                   " channels, W ", ShapeToString(w), " and group ",
                                                   a.group, " do not fit"));
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> kernel_shape,
                         node.GetInts("kernel_shape", Shape(w.begin() + 2, w.end())));
  if (kernel_shape != Shape(w.begin() + 2, w.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": kernel_shape disagrees with W ", ShapeToString(w)));
  }
  ConvGeometry g;
  g.group = a.group;
  g.y_shape = {x[0], out_channels};
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x[2 + i];
    const int64_t extent = (kernel_shape[i] - 1) * a.dilations[i] + 1;
    int64_t begin = a.pads_begin[i], end = a.pads_end[i];
    if (a.auto_pad == "VALID") {
      begin = end = 0;
    } else if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
      const int64_t out = (in + a.strides[i] - 1) / a.strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * a.strides[i] + extent - in);
      begin = a.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    }
    const int64_t out = (in + begin + end - extent) / a.strides[i] + 1;
    if (in + begin + end < extent || out < 1) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": input ", ShapeToString(x),
                                                     " is smaller than the kernel"));
    }
    g.y_shape.push_back(out);
    g.strides.push_back(a.strides[i]);
    g.dilations.push_back(a.dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step.
    g.pad_l.push_back(begin);
    g.pad_r.push_back(end);
  }
  g.w_dims = w;
  if (a.group > 1) {
    g.w_dims.insert(g.w_dims.begin(), a.group);
    g.w_dims[1] /= a.group;
  }
  return g;
}

}  // namespace octet::onednn
