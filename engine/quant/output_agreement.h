// Whether a quantized model's output "says the same thing" as its float original, for any kind of
// output: the class of a classifier, the class of every pixel of a segmentation map, the
// thresholded value of every pixel of a single-channel probability map, the class of every step
// of a sequence. The job's evaluation (evaluator.h) applies it to every output.
#ifndef OCTET_ENGINE_QUANT_OUTPUT_AGREEMENT_H_
#define OCTET_ENGINE_QUANT_OUTPUT_AGREEMENT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "engine/tensor/tensor.h"

namespace octet {

struct AgreementRule {
  enum class Kind {
    kNone,       // no agreement applies (the note says why)
    kClass,      // one class per sample: the argmax over `axis`, every other axis but the first 1
    kArgmaxMap,  // a class at every position: the argmax over `axis` ([N, C, H, W], [N, T, C])
    kThreshold,  // a value per position, compared with `threshold` ([N, 1, H, W], [N, 1])
  };
  Kind kind = Kind::kNone;
  int64_t axis = -1;
  float threshold = 0.5f;
  // What the figure is, for reports: "top-1", "per-pixel argmax over axis 1", ...
  std::string metric;
  std::string note;
};

// How an output of `shape` (its first axis the samples) is compared. `class_axis` overrides the
// axis the shape suggests (negative counts from the end); `threshold` is for single-channel maps.
// From the shape: [N, C] and [N, 1, ..., 1, C] with C > 1 are classes; [N, C, H, ...] with C > 1
// a map of classes over axis 1; [N, T, C] a sequence of classes over axis 2; [N, 1, ...] values to
// threshold.
AgreementRule ChooseAgreement(const Shape& shape, std::optional<int64_t> class_axis,
                              float threshold);

// Positions where `reference` and `candidate` (float32, one shape) agree under `rule`, and how
// many positions were compared: samples for kClass, every position but the class axis for
// kArgmaxMap, every element for kThreshold. The first maximum wins ties (as numpy's argmax).
struct AgreementCount {
  int64_t agree = 0;
  int64_t positions = 0;
};
AgreementCount CountAgreement(const Tensor& reference, const Tensor& candidate,
                              const AgreementRule& rule);

// The argmax over `axis` at every other position of `t` (float32), positions in row-major order
// of the remaining axes.
std::vector<int64_t> ArgMaxAlong(const Tensor& t, int64_t axis);

}  // namespace octet

#endif  // OCTET_ENGINE_QUANT_OUTPUT_AGREEMENT_H_
