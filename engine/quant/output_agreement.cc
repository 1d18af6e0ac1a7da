#include "engine/quant/output_agreement.h"

#include "absl/strings/str_cat.h"

namespace octet {
namespace {

AgreementRule None(std::string note) {
  AgreementRule rule;
  rule.note = std::move(note);
  return rule;
}

}  // namespace

AgreementRule ChooseAgreement(const Shape& shape, std::optional<int64_t> class_axis,
                              float threshold) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (rank < 2) {
    return None("the output has no axis besides the samples': no agreement metric applies");
  }
  AgreementRule rule;
  rule.threshold = threshold;
  if (class_axis.has_value()) {
    const int64_t axis = *class_axis < 0 ? *class_axis + rank : *class_axis;
    if (axis < 1 || axis >= rank) {
      return None(absl::StrCat("the configured class axis ", *class_axis,
                               " is not an axis after the first of a rank-", rank, " output"));
    }
    rule.axis = axis;
  } else {
    bool middle_ones = true;
    for (int64_t d = 1; d + 1 < rank; ++d) middle_ones &= shape[d] == 1;
    if (middle_ones) {
      rule.axis = rank - 1;  // [N, C], [N, 1, ..., 1, C]: a class per sample
    } else if (rank == 3) {
      rule.axis = 2;  // [N, T, C]: a class per step
    } else {
      rule.axis = 1;  // [N, C, H, W]: a class per pixel
    }
  }
  const int64_t classes = shape[rule.axis];
  bool one_per_sample = true;
  for (int64_t d = 1; d < rank; ++d) one_per_sample &= d == rule.axis || shape[d] == 1;
  if (classes == 1) {
    rule.kind = AgreementRule::Kind::kThreshold;
    rule.metric = absl::StrCat("agreement of values above ", threshold);
  } else if (one_per_sample) {
    rule.kind = AgreementRule::Kind::kClass;
    rule.metric = "top-1";
  } else {
    rule.kind = AgreementRule::Kind::kArgmaxMap;
    rule.metric = rank == 3 && rule.axis == 2
                      ? "per-step argmax over axis 2"
                      : absl::StrCat("per-position argmax over axis ", rule.axis);
  }
  return rule;
}

std::vector<int64_t> ArgMaxAlong(const Tensor& t, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= t.dim(d);
  for (int64_t d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
  const int64_t n = t.dim(axis);
  std::vector<int64_t> result(outer * inner, 0);
  const float* data = t.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* at = data + o * n * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k) {
        if (at[k * inner] > at[best * inner]) best = k;
      }
      result[o * inner + i] = best;
    }
  }
  return result;
}

AgreementCount CountAgreement(const Tensor& reference, const Tensor& candidate,
                              const AgreementRule& rule) {
  AgreementCount count;
  switch (rule.kind) {
    case AgreementRule::Kind::kNone:
      break;
    case AgreementRule::Kind::kClass:
    case AgreementRule::Kind::kArgmaxMap: {
      const std::vector<int64_t> a = ArgMaxAlong(reference, rule.axis);
      const std::vector<int64_t> b = ArgMaxAlong(candidate, rule.axis);
      for (size_t i = 0; i < a.size(); ++i) count.agree += a[i] == b[i];
      count.positions = static_cast<int64_t>(a.size());
      break;
    }
    case AgreementRule::Kind::kThreshold: {
      const float* a = reference.data<float>();
      const float* b = candidate.data<float>();
      for (int64_t i = 0; i < reference.element_count(); ++i) {
        count.agree += (a[i] > rule.threshold) == (b[i] > rule.threshold);
      }
      count.positions = reference.element_count();
      break;
    }
  }
  return count;
}

}  // namespace octet
