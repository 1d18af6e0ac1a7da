#include "engine/runtime/onednn/int8_support.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "dnnl.hpp"

namespace octet::onednn {
namespace {

bool HasVnni() {
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  auto has = [isa](dnnl_cpu_isa_t feature) {
    return (isa & static_cast<unsigned>(feature)) == static_cast<unsigned>(feature);
  };
  return has(dnnl_cpu_isa_avx512_core_vnni) || has(dnnl_cpu_isa_avx2_vnni);
}

}  // namespace

std::string Int8ConvInexactReason(DataType source, int max_abs_weight) {
  static const bool vnni = HasVnni();
  if (vnni) return "";
  if (source != DataType::kUint8) {
    return "this CPU has no VNNI, where oneDNN halves the weights of int8 (signed) sources";
  }
  if (max_abs_weight > 64) {
    return absl::StrCat(
        "this CPU has no VNNI, where u8 x s8 pairs are summed in 16 bits and "
        "weights up to ",
        max_abs_weight, " (over 64) would saturate");
  }
  return "";
}

absl::Status OneDnnInt8ProductExact(const KernelBuildContext& context) {
  const Tensor* w = context.constant(3);
  if (!context.has_input(0) || w == nullptr || w->type() != DataType::kInt8) {
    return absl::FailedPreconditionError("needs constant int8 weights");
  }
  int largest = 0;
  for (int8_t v : w->values<int8_t>()) largest = std::max(largest, std::abs(int{v}));
  const std::string inexact = Int8ConvInexactReason(context.input(0).type, largest);
  if (!inexact.empty()) return absl::FailedPreconditionError(inexact);
  return absl::OkStatus();
}

absl::Status OctetInt8ProductApplies(const KernelBuildContext& context) {
  if (!cpu::Int8GemmAvailable()) {
    return absl::FailedPreconditionError("needs AVX2 without VNNI (oneDNN is exact with VNNI)");
  }
  const Tensor* w = context.constant(3);
  const DataType x = context.input(0).type;
  if (w == nullptr || w->type() != DataType::kInt8 ||
      (x != DataType::kUint8 && x != DataType::kInt8)) {
    return absl::FailedPreconditionError("needs a u8 or s8 source and constant s8 weights");
  }
  absl::StatusOr<Int8Activation> activation = ReadInt8Activation(context.node);
  if (!activation.ok()) return activation.status();
  const std::string& kind = activation->kind;
  if (!kind.empty() && kind != "Relu" && kind != "LeakyRelu" && kind != "Clip") {
    return absl::FailedPreconditionError(
        absl::StrCat("applies no ", kind, " (only Relu, LeakyRelu and Clip)"));
  }
  return absl::OkStatus();
}

void SetInt8GemmZeroPointAndBias(const KernelBuildContext& context,
                                 const Int8Activation& activation, float y_scale, int64_t n,
                                 cpu::Int8GemmSpec* spec) {
  spec->a_zero = static_cast<int32_t>(ScalarParameter(context.constant(2)));
  const float to_output = activation.in_real_units() ? 1.0f : y_scale;
  const Tensor* bias = context.has_input(7) ? context.constant(7) : nullptr;
  spec->addend.assign(n, 0.0f);
  for (int64_t j = 0; bias != nullptr && j < n; ++j) {
    spec->addend[j] = bias->data<float>()[j] / to_output;
  }
}

void SetInt8GemmActivation(const Int8Activation& activation, float y_scale,
                           cpu::Int8GemmSpec* spec) {
  if (activation.kind == "Relu") {
    spec->negative_slope = 0.0f;
  } else if (activation.kind == "LeakyRelu") {
    spec->negative_slope = activation.alpha;
  } else if (activation.kind == "Clip") {
    spec->low = activation.alpha / y_scale;
    spec->high = activation.beta / y_scale;
  }
}

}  // namespace octet::onednn
