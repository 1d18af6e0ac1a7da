#include "server/core/batching.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::server {
namespace {

bool DynamicFirstAxis(const ValueInfo& value) {
  return value.shape.has_value() && !value.shape->empty() && !value.shape->front().is_static();
}

// Bytes of one row of `t` (rank >= 1).
size_t RowBytes(const Tensor& t) {
  return t.dim(0) == 0 ? 0 : t.byte_size() / static_cast<size_t>(t.dim(0));
}

}  // namespace

bool Batchable(const Session& session) {
  if (session.inputs().empty() || session.outputs().empty()) return false;
  for (const ValueInfo& input : session.inputs()) {
    if (!DynamicFirstAxis(input)) return false;
  }
  for (const ValueInfo& output : session.outputs()) {
    if (!DynamicFirstAxis(output)) return false;
  }
  return true;
}

std::optional<int64_t> RowsOf(absl::Span<const NamedTensor> inputs) {
  std::optional<int64_t> rows;
  for (const auto& [name, tensor] : inputs) {
    if (tensor.rank() == 0) return std::nullopt;
    if (rows.has_value() && *rows != tensor.dim(0)) return std::nullopt;
    rows = tensor.dim(0);
  }
  return rows;
}

bool SameSignature(absl::Span<const NamedTensor> a, absl::Span<const std::string> a_outputs,
                   absl::Span<const NamedTensor> b, absl::Span<const std::string> b_outputs) {
  if (a.size() != b.size() || a_outputs != b_outputs) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor &x = a[i].second, &y = b[i].second;
    if (a[i].first != b[i].first || x.type() != y.type() || x.rank() != y.rank() || x.rank() == 0 ||
        !std::equal(x.shape().begin() + 1, x.shape().end(), y.shape().begin() + 1)) {
      return false;
    }
  }
  return true;
}

int64_t PaddedRows(int64_t rows, int64_t max_rows) {
  int64_t padded = 1;
  while (padded < rows) padded *= 2;
  return std::min(padded, std::max(rows, max_rows));
}

absl::StatusOr<std::vector<NamedTensor>> Concatenate(
    absl::Span<const std::vector<NamedTensor>* const> requests, int64_t total_rows) {
  std::vector<NamedTensor> batch;
  const std::vector<NamedTensor>& first = *requests.front();
  for (size_t i = 0; i < first.size(); ++i) {
    Shape shape = first[i].second.shape();
    shape[0] = total_rows;
    OCTET_ASSIGN_OR_RETURN(Tensor joined, Tensor::Create(first[i].second.type(), shape));
    auto* at = static_cast<char*>(joined.raw_data());
    for (const std::vector<NamedTensor>* request : requests) {
      const Tensor& part = (*request)[i].second;
      std::memcpy(at, part.raw_data(), part.byte_size());
      at += part.byte_size();
    }
    batch.emplace_back(first[i].first, std::move(joined));
  }
  return batch;
}

absl::StatusOr<std::vector<std::vector<Tensor>>> Split(absl::Span<const Tensor> outputs,
                                                       absl::Span<const int64_t> rows,
                                                       int64_t total_rows) {
  for (const Tensor& output : outputs) {
    if (output.rank() == 0 || output.dim(0) != total_rows) {
      return absl::FailedPreconditionError(absl::StrCat("an output has ",
                                                        output.rank() == 0 ? 0 : output.dim(0),
                                                        " rows where the batch had ", total_rows));
    }
  }
  std::vector<std::vector<Tensor>> parts(rows.size());
  for (const Tensor& output : outputs) {
    const size_t row_bytes = RowBytes(output);
    const auto* at = static_cast<const char*>(output.raw_data());
    for (size_t r = 0; r < rows.size(); ++r) {
      Shape shape = output.shape();
      shape[0] = rows[r];
      const size_t bytes = row_bytes * static_cast<size_t>(rows[r]);
      OCTET_ASSIGN_OR_RETURN(Tensor part, Tensor::FromBytes(output.type(), shape, at, bytes));
      parts[r].push_back(std::move(part));
      at += bytes;
    }
  }
  return parts;
}

}  // namespace octet::server
