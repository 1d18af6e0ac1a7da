#include "engine/runtime/onednn/onednn_common.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::onednn {

const dnnl::engine& CpuEngine() {
  static const dnnl::engine* const engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

dnnl::stream& ThreadStream() {
  thread_local dnnl::stream stream(CpuEngine());
  return stream;
}

absl::Status ToStatus(const dnnl::error& error, const std::string& what) {
  const std::string message = absl::StrCat(what, ": oneDNN: ", error.what());
  if (error.status == dnnl_unimplemented) return absl::UnimplementedError(message);
  if (error.status == dnnl_out_of_memory) return absl::ResourceExhaustedError(message);
  if (error.status == dnnl_invalid_arguments) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

std::optional<dnnl::memory::data_type> ToOneDnn(DataType type) {
  using dt = dnnl::memory::data_type;
  switch (type) {
    case DataType::kFloat32:
      return dt::f32;
    case DataType::kUint8:
      return dt::u8;
    case DataType::kInt8:
      return dt::s8;
    case DataType::kInt32:
      return dt::s32;
    case DataType::kFloat16:
      return dt::f16;
    default:
      return std::nullopt;
  }
}

dnnl::memory::desc PlainDesc(const Shape& shape, DataType type) {
  dnnl::memory::dims strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), *ToOneDnn(type),
                            strides);
}

dnnl::memory Wrap(const dnnl::memory::desc& desc, const Tensor& tensor) {
  return dnnl::memory(desc, CpuEngine(), const_cast<void*>(tensor.raw_data()));
}

absl::StatusOr<Tensor> ReorderConstant(const Tensor& source, const dnnl::memory::desc& from,
                                       const dnnl::memory::desc& to) {
  // Blocked layouts may pad, so the destination is sized by oneDNN, in bytes.
  absl::StatusOr<Tensor> reordered =
      Tensor::Create(DataType::kUint8, Shape{static_cast<int64_t>(to.get_size())});
  if (!reordered.ok()) return reordered.status();
  try {
    dnnl::memory src = Wrap(from, source);
    dnnl::memory dst(to, CpuEngine(), reordered->raw_data());
    dnnl::stream stream(CpuEngine());
    dnnl::reorder(src, dst).execute(stream, src, dst);
    stream.wait();
  } catch (const dnnl::error& e) {
    return ToStatus(e, "reordering weights");
  }
  return reordered;
}

dnnl::memory::desc DescOf(const TensorDesc& desc) {
  if (desc.channels_last) {
    using Tag = dnnl::memory::format_tag;
    const size_t rank = desc.shape.size();
    return dnnl::memory::desc(dnnl::memory::dims(desc.shape.begin(), desc.shape.end()),
                              *ToOneDnn(desc.type),
                              rank == 3   ? Tag::nwc
                              : rank == 4 ? Tag::nhwc
                                          : Tag::ndhwc);
  }
  if (desc.channel_block == 0) return PlainDesc(desc.shape, desc.type);
  return dnnl::memory::desc(dnnl::memory::dims(desc.shape.begin(), desc.shape.end()),
                            *ToOneDnn(desc.type),
                            desc.channel_block == 8 ? dnnl::memory::format_tag::nChw8c
                                                    : dnnl::memory::format_tag::nChw16c);
}

int ChannelBlockOf(const dnnl::memory::desc& desc, const Shape& shape, DataType type) {
  if (shape.size() != 4) return 0;
  for (int block : {8, 16}) {
    if (desc == DescOf(TensorDesc{type, shape, block})) return block;
  }
  return 0;
}

TensorDesc LayoutOf(const dnnl::memory::desc& desc, const Shape& shape, DataType type) {
  TensorDesc result{type, shape, ChannelBlockOf(desc, shape, type)};
  if (result.channel_block == 0 && shape.size() >= 3 && shape.size() <= 5) {
    TensorDesc channels_last = result;
    channels_last.channels_last = true;
    int64_t pixels = 1;
    for (size_t i = 2; i < shape.size(); ++i) pixels *= shape[i];
    // With one channel or one pixel both layouts are the same bytes: call it plain.
    if (desc == DescOf(channels_last) && shape[1] > 1 && pixels > 1) return channels_last;
  }
  return result;
}

void AppendActivation(const FusedActivation& activation, dnnl::post_ops& ops) {
  using Kind = FusedActivation::Kind;
  switch (activation.kind) {
    case Kind::kRelu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      break;
    case Kind::kLeakyRelu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, activation.alpha, 0.0f);
      break;
    case Kind::kElu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_elu, activation.alpha, 0.0f);
      break;
    case Kind::kClip:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, activation.alpha, activation.beta);
      break;
    case Kind::kSigmoid:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
      break;
    case Kind::kTanh:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
      break;
    case Kind::kHardSwish:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
      break;
  }
}

dnnl::primitive_attr DefaultAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

absl::StatusOr<Int8Activation> ReadInt8Activation(const Node& node) {
  Int8Activation activation;
  OCTET_ASSIGN_OR_RETURN(activation.kind, node.GetString("activation", ""));
  OCTET_ASSIGN_OR_RETURN(activation.alpha, node.GetFloat("activation_alpha", 0.0f));
  OCTET_ASSIGN_OR_RETURN(activation.beta, node.GetFloat("activation_beta", 0.0f));
  return activation;
}

absl::Status AppendInt8Activation(const Int8Activation& activation, float y_scale,
                                  dnnl::post_ops& ops, const Node& node) {
  const std::string& kind = activation.kind;
  if (kind == "Relu") {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  } else if (kind == "LeakyRelu") {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, activation.alpha, 0.0f);
  } else if (kind == "Clip") {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, activation.alpha / y_scale,
                       activation.beta / y_scale);
  } else if (kind == "HardSwish") {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
  } else if (kind == "Sigmoid") {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
  } else if (!kind.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": unknown fused activation ", kind));
  }
  if (activation.in_real_units()) {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f / y_scale, 0.0f);
  }
  return absl::OkStatus();
}

dnnl::reorder MakeReorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                          size_t* shared_bytes, const dnnl::primitive_attr& attr) {
  const dnnl::reorder::primitive_desc pd(CpuEngine(), from, CpuEngine(), to, attr);
  *shared_bytes = std::max(*shared_bytes, pd.scratchpad_desc().get_size());
  return dnnl::reorder(pd);
}

absl::Status PrimitiveKernel::Execute(std::unordered_map<int, dnnl::memory> args,
                                      ExecutionContext& context) const {
  try {
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(scratchpad_, CpuEngine(), context.scratchpad));
    primitive_.execute(onednn::ThreadStream(), args);
  } catch (const dnnl::error& e) {
    return ToStatus(e, what_);
  }
  return absl::OkStatus();
}

}  // namespace octet::onednn
