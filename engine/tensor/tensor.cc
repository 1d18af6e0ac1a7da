#include "engine/tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

constexpr size_t kAlignment = 64;

// `zeroed` false: the caller writes every byte.
std::shared_ptr<uint8_t> Allocate(size_t bytes, bool zeroed) {
  // aligned_alloc needs a size that is a multiple of the alignment, and at least one byte.
  const size_t rounded = ((bytes + kAlignment - 1) / kAlignment) * kAlignment;
  void* memory = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (memory == nullptr) throw std::bad_alloc();
  if (zeroed) {
    std::memset(memory, 0, rounded == 0 ? kAlignment : rounded);
  } else if (rounded > bytes) {
    std::memset(static_cast<uint8_t*>(memory) + bytes, 0, rounded - bytes);  // the tail padding
  }
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(memory), [](uint8_t* p) { std::free(p); });
}

}  // namespace

absl::StatusOr<int64_t> CheckedElementCount(absl::Span<const int64_t> dims, size_t element_size) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("negative dimension ", d, " in shape ", ShapeToString(dims)));
    }
    if (d != 0 && count > std::numeric_limits<int64_t>::max() / d) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(dims), " has too many elements"));
    }
    count *= d;
  }
  if (element_size > 1 &&
      count > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(element_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape ", ShapeToString(dims), " is too large in bytes"));
  }
  return count;
}

std::string ShapeToString(absl::Span<const int64_t> dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

Tensor::Tensor() : Tensor(DataType::kFloat32, Shape{0}) {}

Tensor::Tensor(DataType type, Shape shape, bool zeroed)
    : type_(type), shape_(std::move(shape)), element_count_(1) {
  for (int64_t d : shape_) element_count_ *= d;
  buffer_ = Allocate(byte_size(), zeroed);
}

absl::StatusOr<Tensor> Tensor::Create(DataType type, Shape shape) {
  OCTET_RETURN_IF_ERROR(CheckedElementCount(shape, ElementSize(type)).status());
  return Tensor(type, std::move(shape));
}

absl::StatusOr<Tensor> Tensor::FromBytes(DataType type, Shape shape, const void* bytes,
                                         size_t byte_count) {
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape, ElementSize(type)));
  const uint64_t expected = static_cast<uint64_t>(count) * ElementSize(type);
  if (expected != byte_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ", DataTypeName(type), " tensor of shape ", ShapeToString(shape), " needs ", expected,
        " bytes, got ", byte_count));
  }
  Tensor t(type, std::move(shape), /*zeroed=*/false);
  if (byte_count > 0) std::memcpy(t.raw_data(), bytes, byte_count);
  return t;
}

Tensor Tensor::Reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Alias(DataType type, Shape shape, const Tensor& storage) {
  Tensor t = storage;
  t.type_ = type;
  t.shape_ = std::move(shape);
  t.element_count_ = 1;
  for (int64_t d : t.shape_) t.element_count_ *= d;
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t(type_, shape_, /*zeroed=*/false);  // every byte is copied
  if (byte_size() > 0) std::memcpy(t.raw_data(), raw_data(), byte_size());
  return t;
}

}  // namespace octet
