// Batch-norm folding (whitepaper 2.2.2): inference has no explicit batch normalization, so a
// BatchNormalization after a Conv (or Gemm) with constant weights is folded into them:
//   w_fold = w * gamma / sigma,   b_fold = (b - mean) * gamma / sigma + beta,   sigma = sqrt(var +
//   eps).
// Quantization then sees the folded weights, whose per-channel ranges are what matters.
#ifndef OCTET_ENGINE_PASSES_BATCH_NORM_FOLDING_H_
#define OCTET_ENGINE_PASSES_BATCH_NORM_FOLDING_H_

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"

namespace octet {

// Folds every BatchNormalization whose input is the only use of a Conv's output (or of a Gemm's,
// with transA = 0 and a per-feature BN on a 2-D output), when the weights, the optional bias and
// the BN parameters are constants (initializers or Constant nodes alike). The Conv/Gemm takes the
// BN's output name; constants no node reads any more are dropped. Returns how many were folded.
// Leaves other BatchNormalization nodes as they are (the runtime executes them).
absl::StatusOr<int> FoldBatchNorms(Graph* graph);

// Drops constants that no node reads and no graph output names.
void RemoveUnusedConstants(Graph* graph);

}  // namespace octet

#endif  // OCTET_ENGINE_PASSES_BATCH_NORM_FOLDING_H_
