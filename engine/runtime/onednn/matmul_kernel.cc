// ONNX Gemm and MatMul on oneDNN's matmul primitive (which, unlike inner product, also serves the
// int8 path with zero points). Transposes are expressed as strides, never copied.
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/runtime/onednn/int8_support.h"
#include "engine/runtime/onednn/onednn_common.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

using dnnl::memory;

class MatMulKernel final : public onednn::PrimitiveKernel {
 public:
  // `addend_input` is the node input added through a binary post-op at run time, or -1;
  // `addend` is the constant added instead when the addend was folded at build time.
  MatMulKernel(const dnnl::matmul::primitive_desc& pd, memory::desc a, memory::desc addend_desc,
               std::optional<Tensor> packed_b, int addend_input, std::optional<Tensor> addend,
               std::string what)
      : PrimitiveKernel(dnnl::matmul(pd), pd, std::move(what)),
        a_(a),
        b_(pd.weights_desc()),
        addend_desc_(addend_desc),
        dst_(pd.dst_desc()),
        packed_b_(std::move(packed_b)),
        addend_input_(addend_input),
        addend_(std::move(addend)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, onednn::Wrap(a_, *inputs[0])},
        {DNNL_ARG_WEIGHTS, onednn::Wrap(b_, packed_b_.has_value() ? *packed_b_ : *inputs[1])},
        {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])},
    };
    if (addend_.has_value() || addend_input_ >= 0) {
      args.emplace(
          DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
          onednn::Wrap(addend_desc_, addend_.has_value() ? *addend_ : *inputs[addend_input_]));
    }
    return Execute(std::move(args), context);
  }

 private:
  memory::desc a_, b_, addend_desc_, dst_;
  std::optional<Tensor> packed_b_;
  int addend_input_;
  std::optional<Tensor> addend_;
};

// An int8 product of rows X [m, k] and constant weights on oneDNN's 1x1 int8 convolution, the m
// rows read as the width of one image of k channels ([1, k, 1, m] channels-last is X's bytes;
// the result [1, n, 1, m] channels-last is Y [m, n]'s). oneDNN 2.6's int8 matmul on CPUs without
// AMX repacks its weights on every call (gemm:jit), which dominates for few rows (a classifier
// after global pooling at batch 1); this kernel's weights are packed once.
class RowsAsConvKernel final : public onednn::PrimitiveKernel {
 public:
  RowsAsConvKernel(const dnnl::convolution_forward::primitive_desc& pd, Tensor packed_weights,
                   std::optional<Tensor> bias, memory::desc bias_desc, std::string what)
      : PrimitiveKernel(dnnl::convolution_forward(pd), pd, std::move(what)),
        src_(pd.src_desc()),
        weights_(pd.weights_desc()),
        bias_desc_(bias_desc),
        dst_(pd.dst_desc()),
        packed_weights_(std::move(packed_weights)),
        bias_(std::move(bias)) {}

  absl::Status Run(absl::Span<const Tensor* const> inputs, absl::Span<Tensor* const> outputs,
                   ExecutionContext& context) const override {
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, onednn::Wrap(src_, *inputs[0])},
        {DNNL_ARG_WEIGHTS, onednn::Wrap(weights_, packed_weights_)},
        {DNNL_ARG_DST, onednn::Wrap(dst_, *outputs[0])},
    };
    if (bias_.has_value()) args.emplace(DNNL_ARG_BIAS, onednn::Wrap(bias_desc_, *bias_));
    return Execute(std::move(args), context);
  }

 private:
  memory::desc src_, weights_, bias_desc_, dst_;
  Tensor packed_weights_;
  std::optional<Tensor> bias_;
};

// Row-major strides of `dims`, then the last two swapped when `transposed`: a [rows, cols] view of
// a tensor stored as [cols, rows].
memory::desc MatrixDesc(const Shape& dims, bool transposed, DataType type = DataType::kFloat32) {
  if (!transposed) return onednn::PlainDesc(dims, type);
  const size_t r = dims.size();
  memory::dims strides(r, 1);
  strides[r - 2] = 1;
  strides[r - 1] = dims[r - 2];
  int64_t step = dims[r - 2] * dims[r - 1];
  for (int i = static_cast<int>(r) - 3; i >= 0; --i) {
    strides[i] = step;
    step *= dims[i];
  }
  return memory::desc(memory::dims(dims.begin(), dims.end()), *onednn::ToOneDnn(type), strides);
}

// Builds the primitive for dst = alpha * A x B (+ addend through a binary post-op).
absl::StatusOr<BuiltKernel> BuildMatMulPrimitive(const KernelBuildContext& context,
                                                 const Shape& a_dims, bool trans_a,
                                                 const Shape& b_dims, bool trans_b,
                                                 const Shape& y_dims, const Shape& y_shape,
                                                 float alpha, std::optional<Shape> addend_dims,
                                                 int addend_input, std::optional<Tensor> addend) {
  const Node& node = context.node;
  try {
    const memory::desc a = MatrixDesc(a_dims, trans_a);
    const memory::desc b_plain = MatrixDesc(b_dims, trans_b);
    const Tensor* b_constant = context.constant(1);
    const memory::desc b_query = b_constant != nullptr
                                     ? memory::desc(memory::dims(b_dims.begin(), b_dims.end()),
                                                    memory::data_type::f32, memory::format_tag::any)
                                     : b_plain;
    const memory::desc dst = onednn::PlainDesc(y_dims, DataType::kFloat32);
    dnnl::primitive_attr attr = onednn::DefaultAttr();
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    memory::desc addend_desc;
    dnnl::post_ops ops;
    if (addend_dims.has_value()) {
      addend_desc = onednn::PlainDesc(*addend_dims, DataType::kFloat32);
      ops.append_binary(dnnl::algorithm::binary_add, addend_desc);
    }
    // A following activation (Relu after a classifier's hidden layer, ...), on the sum.
    if (context.activation.has_value()) onednn::AppendActivation(*context.activation, ops);
    attr.set_post_ops(ops);
    dnnl::matmul::desc desc(a, b_query, dst);
    dnnl::matmul::primitive_desc pd(desc, attr, onednn::CpuEngine());
    std::optional<Tensor> packed;
    if (b_constant != nullptr) {
      OCTET_ASSIGN_OR_RETURN(packed,
                             onednn::ReorderConstant(*b_constant, b_plain, pd.weights_desc()));
    }
    BuiltKernel built;
    built.kernel = std::make_unique<MatMulKernel>(pd, a, addend_desc, std::move(packed),
                                                  addend_input, std::move(addend), node.Describe());
    built.outputs.push_back({DataType::kFloat32, y_shape});
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

absl::Status RequireFloat(const KernelBuildContext& context, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (context.has_input(i) && context.input(i).type != DataType::kFloat32) {
      return UnsupportedError(
          UnsupportedKind::kElementType,
          absl::StrCat(context.node.Describe(), ": input ", i, " must be float32"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFloatInputs(const CheckContext& context, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    OCTET_RETURN_IF_ERROR(RequireInputType(context, i, {DataType::kFloat32}));
  }
  return absl::OkStatus();
}

absl::Status CheckGemm(const CheckContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireInputCount(node, 2, 3, 2));
  OCTET_RETURN_IF_ERROR(CheckFloatInputs(context, 3));
  OCTET_ASSIGN_OR_RETURN(float beta, node.GetFloat("beta", 1.0f));
  if (context.has_input(2) && beta != 1.0f && !context.is_plan_constant(2)) {
    return UnsupportedError(
        UnsupportedKind::kAttribute,
        absl::StrCat(node.Describe(), ": beta other than 1 needs C to be a constant"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BuiltKernel> BuildGemm(const KernelBuildContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireFloat(context, 3));
  OCTET_ASSIGN_OR_RETURN(int64_t trans_a, node.GetInt("transA", 0));
  OCTET_ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
  OCTET_ASSIGN_OR_RETURN(float alpha, node.GetFloat("alpha", 1.0f));
  OCTET_ASSIGN_OR_RETURN(float beta, node.GetFloat("beta", 1.0f));
  const Shape& a = context.input(0).shape;
  const Shape& b = context.input(1).shape;
  if (a.size() != 2 || b.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": A ", ShapeToString(a),
                                                   " and B ", ShapeToString(b), " must be 2-D"));
  }
  const int64_t m = trans_a ? a[1] : a[0], k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0], n = trans_b ? b[0] : b[1];
  if (k != kb) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": A ", ShapeToString(a),
                                                   " and B ", ShapeToString(b),
                                                   " disagree on the inner dimension"));
  }
  std::optional<Shape> addend_dims;
  int addend_input = -1;
  std::optional<Tensor> addend;
  if (context.has_input(2) && beta != 0.0f) {
    Shape c = context.input(2).shape;
    // Unidirectional broadcast of C to [M, N]: right-align, then each dim is 1 or the target.
    while (c.size() < 2) c.insert(c.begin(), 1);
    if (c.size() != 2 || (c[0] != 1 && c[0] != m) || (c[1] != 1 && c[1] != n)) {
      return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": C ",
                                                     ShapeToString(context.input(2).shape),
                                                     " does not broadcast to [", m, ", ", n, "]"));
    }
    addend_dims = c;
    if (const Tensor* constant = context.constant(2)) {
      Tensor scaled = constant->Clone().Reshaped(c);
      for (float& v : absl::MakeSpan(scaled.data<float>(), scaled.element_count())) v *= beta;
      addend = std::move(scaled);
    } else {
      addend_input = 2;
    }
  }
  return BuildMatMulPrimitive(context, trans_a ? Shape{m, k} : a, trans_a != 0,
                              trans_b ? Shape{k, n} : b, trans_b != 0, Shape{m, n}, Shape{m, n},
                              alpha, addend_dims, addend_input, std::move(addend));
}

absl::Status CheckMatMul(const CheckContext& context) {
  OCTET_RETURN_IF_ERROR(RequireInputCount(context.node, 2, 2, 2));
  return CheckFloatInputs(context, 2);
}

absl::StatusOr<BuiltKernel> BuildMatMul(const KernelBuildContext& context) {
  const Node& node = context.node;
  OCTET_RETURN_IF_ERROR(RequireFloat(context, 2));
  Shape a = context.input(0).shape, b = context.input(1).shape;
  if (a.empty() || b.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": inputs must not be scalars"));
  }
  // numpy.matmul: a 1-D A is a row, a 1-D B a column; their unit dims leave the result.
  const bool a_vector = a.size() == 1, b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  const size_t rank = std::max(a.size(), b.size());
  if (rank > 12) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": rank above 12"));
  }
  while (a.size() < rank) a.insert(a.begin(), 1);
  while (b.size() < rank) b.insert(b.begin(), 1);
  if (a[rank - 1] != b[rank - 2]) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": A ", ShapeToString(context.input(0).shape), " and B ",
                     ShapeToString(context.input(1).shape), " disagree on the inner dimension"));
  }
  Shape y(rank);
  for (size_t i = 0; i + 2 < rank; ++i) {
    if (a[i] != b[i] && a[i] != 1 && b[i] != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": batch dimensions of A ", ShapeToString(context.input(0).shape),
          " and B ", ShapeToString(context.input(1).shape), " do not broadcast"));
    }
    y[i] = std::max(a[i], b[i]);
  }
  y[rank - 2] = a[rank - 2];
  y[rank - 1] = b[rank - 1];
  Shape y_shape(y.begin(), y.end() - 2);
  if (!a_vector) y_shape.push_back(y[rank - 2]);
  if (!b_vector) y_shape.push_back(y[rank - 1]);
  return BuildMatMulPrimitive(context, a, false, b, false, y, y_shape, 1.0f, std::nullopt, -1,
                              std::nullopt);
}

// ai.octet.Int8MatMul(x_q, x_scale, x_zero_point, w_q, w_scale[, y_scale, y_zero_point[, bias]])
// with attribute trans_b, made by LowerQdqToInt8 from DQ -> Gemm/MatMul [-> activation] [-> Q]:
// oneDNN's int8 matmul over x [..., K] (leading dims as rows) and constant s8 weights [K, N]
// ([N, K] with trans_b), scales per output column. Everything added per column — the bias, and
// the source zero point's term -z_x s_x s_w[n] sum_k w[k, n] (folded, so the kernel runs without
// zero points) — is one constant binary post-op in output units. Without y_scale the result is
// float32 (a classifier's logits); with it, quantized with the destination zero point.
absl::Status CheckInt8MatMul(const CheckContext& context) {
  return RequireInputCount(context.node, 5, 8, 5);
}

// What both ways of running an Int8MatMul compute from the node and its constants.
struct Int8MatMulParams {
  int64_t m = 0, k = 0, n = 0;
  bool trans_b = false;
  Shape y_shape;
  DataType y_type = DataType::kFloat32;
  // Accumulator to output units per column (to real units where the activation needs them).
  std::vector<float> scales;
  // Added per column in output units: the bias and the source zero point's term.
  std::vector<float> addend;
  bool any_addend = false;
  bool per_column = false;
  onednn::Int8Activation activation;
  float y_scale = 1.0f;
  int32_t y_zero = 0;
  std::string notes;
};

absl::StatusOr<Int8MatMulParams> ReadInt8MatMul(const KernelBuildContext& context) {
  const Node& node = context.node;
  const TensorDesc& x = context.input(0);
  for (size_t i : {1, 3, 4}) {
    if (context.constant(i) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.Describe(), ": input ", i, " must be a constant"));
    }
  }
  const bool quantized_output = context.has_input(5);
  if (quantized_output && context.constant(5) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": y_scale must be constant"));
  }
  const Tensor& w = *context.constant(3);
  const Tensor& w_scale = *context.constant(4);
  Int8MatMulParams p;
  OCTET_ASSIGN_OR_RETURN(const int64_t trans_b, node.GetInt("trans_b", 0));
  p.trans_b = trans_b != 0;
  p.y_type = !quantized_output      ? DataType::kFloat32
             : context.has_input(6) ? context.input(6).type
                                    : DataType::kUint8;
  if ((x.type != DataType::kUint8 && x.type != DataType::kInt8) || w.type() != DataType::kInt8 ||
      w.rank() != 2 || x.shape.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": u8/s8 X of rank 2 or more and 2-D s8 W"));
  }
  const int64_t k = p.trans_b ? w.dim(1) : w.dim(0), n = p.trans_b ? w.dim(0) : w.dim(1);
  if (x.shape.back() != k || (w_scale.element_count() != 1 && w_scale.element_count() != n)) {
    return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": X ", ShapeToString(x.shape),
                                                   " and W ", ShapeToString(w.shape()),
                                                   " disagree"));
  }
  p.k = k;
  p.n = n;
  p.m = 1;
  for (size_t i = 0; i + 1 < x.shape.size(); ++i) p.m *= x.shape[i];
  p.y_shape = x.shape;
  p.y_shape.back() = n;
  const float x_scale = onednn::ScalarParameter(context.constant(1));
  const float x_zero = onednn::ScalarParameter(context.constant(2));
  p.y_scale = quantized_output ? onednn::ScalarParameter(context.constant(5)) : 1.0f;
  p.y_zero = static_cast<int32_t>(onednn::ScalarParameter(context.constant(6)));
  OCTET_ASSIGN_OR_RETURN(p.activation, onednn::ReadInt8Activation(node));
  // Scales to output units, except where the activation needs real units (it rescales after).
  const float to_output = p.activation.in_real_units() ? 1.0f : p.y_scale;
  const Tensor* bias = context.has_input(7) ? context.constant(7) : nullptr;
  if (context.has_input(7) &&
      (bias == nullptr || bias->type() != DataType::kFloat32 || bias->element_count() != n)) {
    return absl::InvalidArgumentError(
        absl::StrCat(node.Describe(), ": bias must be a float32 constant [", n, "]"));
  }
  p.scales.resize(n);
  p.addend.resize(n);
  for (int64_t j = 0; j < n; ++j) {
    const double s_w = w_scale.data<float>()[w_scale.element_count() == 1 ? 0 : j];
    int64_t column_sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      column_sum += w.data<int8_t>()[p.trans_b ? j * k + i : i * n + j];
    }
    const double real = (bias != nullptr ? bias->data<float>()[j] : 0.0) -
                        static_cast<double>(x_zero) * x_scale * s_w * column_sum;
    p.scales[j] = static_cast<float>(x_scale * s_w / to_output);
    p.addend[j] = static_cast<float>(real / to_output);
    p.any_addend |= p.addend[j] != 0.0f;
  }
  p.per_column = w_scale.element_count() > 1;
  p.notes = absl::StrCat(
      DataTypeName(x.type), " source zero point ", x_zero,
      x_zero != 0 ? " (folded into the per-column addend)" : "", ", s8 weights ",
      p.per_column ? "per column" : "per tensor", ", ",
      quantized_output ? absl::StrCat(DataTypeName(p.y_type), " destination zero point ", p.y_zero)
                       : std::string("float32 result"),
      p.activation.kind.empty() ? std::string() : absl::StrCat(", fused ", p.activation.kind));
  return p;
}

// Output scales, destination zero point and activation, with `ops` (post-ops before them).
absl::StatusOr<dnnl::primitive_attr> Int8MatMulAttr(const Int8MatMulParams& p, const Node& node,
                                                    dnnl::post_ops& ops) {
  dnnl::primitive_attr attr = onednn::DefaultAttr();
  attr.set_output_scales(p.per_column ? 1 << 1 : 0,
                         p.per_column ? p.scales : std::vector<float>{p.scales[0]});
  if (p.y_zero != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {p.y_zero});
  OCTET_RETURN_IF_ERROR(onednn::AppendInt8Activation(p.activation, p.y_scale, ops, node));
  attr.set_post_ops(ops);
  return attr;
}

// The rows as a 1x1 convolution's width, the addend as its bias in accumulator units (weights
// packed once); nullopt where oneDNN has no vectorized convolution for it.
absl::StatusOr<std::optional<BuiltKernel>> BuildRowsAsConv(const KernelBuildContext& context,
                                                           const Int8MatMulParams& p) {
  const Node& node = context.node;
  const int64_t m = p.m, k = p.k, n = p.n;
  const auto type = *onednn::ToOneDnn(context.input(0).type);
  const memory::desc src({1, k, 1, m}, type, memory::format_tag::nhwc);
  const memory::desc w_any({n, k, 1, 1}, memory::data_type::s8, memory::format_tag::any);
  // W as oihw: [k, n] is read transposed, [n, k] (trans_b) as it is.
  const memory::desc w_plain({n, k, 1, 1}, memory::data_type::s8,
                             p.trans_b ? memory::dims{k, 1, 1, 1} : memory::dims{1, n, 1, 1});
  const memory::desc bias_desc =
      p.any_addend ? onednn::PlainDesc(Shape{n}, DataType::kFloat32) : memory::desc();
  const memory::desc dst({1, n, 1, m}, *onednn::ToOneDnn(p.y_type), memory::format_tag::nhwc);
  dnnl::post_ops ops;
  OCTET_ASSIGN_OR_RETURN(dnnl::primitive_attr attr, Int8MatMulAttr(p, node, ops));
  dnnl::convolution_forward::primitive_desc pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, w_any, bias_desc,
                                      dst, {1, 1}, {0, 0}, {0, 0}),
      attr, onednn::CpuEngine(), /*allow_empty=*/true);
  if (!pd || absl::StartsWith(pd.impl_info_str(), "ref")) return std::nullopt;
  OCTET_ASSIGN_OR_RETURN(Tensor packed,
                         onednn::ReorderConstant(*context.constant(3), w_plain, pd.weights_desc()));
  std::optional<Tensor> bias_units;
  if (p.any_addend) {
    std::vector<float> accumulator_units(n);
    for (int64_t j = 0; j < n; ++j) accumulator_units[j] = p.addend[j] / p.scales[j];
    bias_units = Tensor::FromVector<float>({n}, accumulator_units);
  }
  BuiltKernel built;
  built.kernel = std::make_unique<RowsAsConvKernel>(pd, std::move(packed), std::move(bias_units),
                                                    bias_desc, node.Describe());
  built.outputs.push_back({p.y_type, p.y_shape});
  built.notes = absl::StrCat(p.notes, ", rows as a 1x1 convolution");
  return built;
}

absl::StatusOr<BuiltKernel> BuildInt8MatMul(const KernelBuildContext& context) {
  const Node& node = context.node;
  OCTET_ASSIGN_OR_RETURN(const Int8MatMulParams p, ReadInt8MatMul(context));
  try {
    OCTET_ASSIGN_OR_RETURN(std::optional<BuiltKernel> as_conv, BuildRowsAsConv(context, p));
    if (as_conv.has_value()) return *std::move(as_conv);
    const memory::desc a = onednn::PlainDesc(Shape{p.m, p.k}, context.input(0).type);
    const memory::desc b_plain = MatrixDesc(Shape{p.k, p.n}, p.trans_b, DataType::kInt8);
    const memory::desc b_any({p.k, p.n}, memory::data_type::s8, memory::format_tag::any);
    const memory::desc dst = onednn::PlainDesc(Shape{p.m, p.n}, p.y_type);
    const memory::desc addend_desc = onednn::PlainDesc(Shape{1, p.n}, DataType::kFloat32);
    dnnl::post_ops ops;
    if (p.any_addend) ops.append_binary(dnnl::algorithm::binary_add, addend_desc);
    OCTET_ASSIGN_OR_RETURN(dnnl::primitive_attr attr, Int8MatMulAttr(p, node, ops));
    dnnl::matmul::desc desc(a, b_any, dst);
    dnnl::matmul::primitive_desc pd(desc, attr, onednn::CpuEngine());
    OCTET_ASSIGN_OR_RETURN(
        Tensor packed, onednn::ReorderConstant(*context.constant(3), b_plain, pd.weights_desc()));
    BuiltKernel built;
    built.kernel = std::make_unique<MatMulKernel>(
        pd, a, addend_desc, std::move(packed), -1,
        p.any_addend ? std::optional<Tensor>(Tensor::FromVector<float>({1, p.n}, p.addend))
                     : std::nullopt,
        node.Describe());
    built.outputs.push_back({p.y_type, p.y_shape});
    built.notes = p.notes;
    return built;
  } catch (const dnnl::error& e) {
    return onednn::ToStatus(e, node.Describe());
  }
}

// Octet's exact int8 product on AVX2 without VNNI, for weights oneDNN's AVX2 kernels would
// saturate on (cpu/int8_gemm.h): activations it applies in output units only.
absl::StatusOr<BuiltKernel> BuildOctetInt8Gemm(const KernelBuildContext& context) {
  OCTET_ASSIGN_OR_RETURN(const Int8MatMulParams p, ReadInt8MatMul(context));
  cpu::Int8GemmSpec spec;
  spec.k = p.k;
  spec.n = p.n;
  spec.a_type = context.input(0).type;
  const Tensor& w = *context.constant(3);
  spec.weights.resize(p.k * p.n);
  for (int64_t i = 0; i < p.k; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      spec.weights[i * p.n + j] = w.data<int8_t>()[p.trans_b ? j * p.k + i : i * p.n + j];
    }
  }
  spec.scales = p.scales;
  onednn::SetInt8GemmZeroPointAndBias(context, p.activation, p.y_scale, p.n, &spec);
  onednn::SetInt8GemmActivation(p.activation, p.y_scale, &spec);
  spec.y_type = p.y_type;
  spec.y_zero = p.y_zero;
  BuiltKernel built;
  OCTET_ASSIGN_OR_RETURN(built.kernel, cpu::MakeInt8GemmKernel(std::move(spec)));
  built.outputs.push_back({p.y_type, p.y_shape});
  built.notes = absl::StrCat(absl::StrReplaceAll(p.notes, {{"folded into the per-column addend",
                                                            "subtracted in the int32 sums"}}),
                             ", 8-bit weights summed exactly in int32 (VPMADDWD)");
  return built;
}

}  // namespace

std::vector<OpDefinition> MatMulOps() {
  OpDefinition int8_matmul{"Int8MatMul", CheckInt8MatMul, nullptr};
  int8_matmul.implementations = {
      {"onednn", onednn::OneDnnInt8ProductExact, BuildInt8MatMul},
      {"octet:int8 gemm avx2 (vpmaddwd)", onednn::OctetInt8ProductApplies, BuildOctetInt8Gemm}};
  int8_matmul.domain = kOctetDomain;
  return {{"Gemm", CheckGemm, BuildGemm, 0, /*fuses_activation=*/true},
          {"MatMul", CheckMatMul, BuildMatMul, 0, /*fuses_activation=*/true},
          int8_matmul};
}

}  // namespace octet
