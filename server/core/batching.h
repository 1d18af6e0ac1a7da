// Dynamic batching's arithmetic: which requests can run as one, their inputs concatenated along
// the first axis, and the outputs split back.
#ifndef OCTET_SERVER_CORE_BATCHING_H_
#define OCTET_SERVER_CORE_BATCHING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/runtime/session.h"
#include "engine/tensor/tensor.h"

namespace octet::server {

// How requests to one served version are batched.
struct BatchingPolicy {
  // Rows (the inputs' first axis) of one batch; 1: every request runs alone.
  int max_batch_size = 32;
  // How long a request that had to wait for a worker may wait further for its batch to fill once
  // a worker is free. A request that finds a worker idle starts at once.
  absl::Duration max_queue_delay = absl::Microseconds(2000);
};

// Whether requests to `session` may be batched: every input and output is declared with a
// dynamic first axis (the batch), so the model accepts any number of rows and answers each.
bool Batchable(const Session& session);

// The rows of a request: the first axis of its inputs when they all have one and agree on it.
std::optional<int64_t> RowsOf(absl::Span<const NamedTensor> inputs);

// Whether two requests can share a batch: the same inputs in the same order, of the same types
// and shapes but for the first axis, and the same outputs asked for.
bool SameSignature(absl::Span<const NamedTensor> a, absl::Span<const std::string> a_outputs,
                   absl::Span<const NamedTensor> b, absl::Span<const std::string> b_outputs);

// The rows a batch of `rows` runs with: the next power of two, at most max(rows, max_rows), so
// that a version sees a handful of batch shapes (one plan each) rather than one per total.
int64_t PaddedRows(int64_t rows, int64_t max_rows);

// The requests' inputs concatenated along the first axis, zero rows appended up to `total_rows`.
// REQUIRES: the requests share a signature (SameSignature).
absl::StatusOr<std::vector<NamedTensor>> Concatenate(
    absl::Span<const std::vector<NamedTensor>* const> requests, int64_t total_rows);

// Each request's rows (`rows[i]` of them, in order) of every output. FAILED_PRECONDITION when an
// output does not have `total_rows` rows (the model does not answer row by row).
absl::StatusOr<std::vector<std::vector<Tensor>>> Split(absl::Span<const Tensor> outputs,
                                                       absl::Span<const int64_t> rows,
                                                       int64_t total_rows);

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_BATCHING_H_
