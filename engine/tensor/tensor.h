#ifndef OCTET_ENGINE_TENSOR_TENSOR_H_
#define OCTET_ENGINE_TENSOR_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/tensor/data_type.h"

namespace octet {

using Shape = std::vector<int64_t>;

// The product of `dims`, or INVALID_ARGUMENT when a dim is negative or the product (or its size
// in bytes at `element_size`) overflows int64.
absl::StatusOr<int64_t> CheckedElementCount(absl::Span<const int64_t> dims,
                                            size_t element_size = 1);

// "[1, 3, 224, 224]".
std::string ShapeToString(absl::Span<const int64_t> dims);

// A dense, row-major tensor on the host: an element type, a shape and a 64-byte aligned buffer.
//
// Copies share the buffer (as TensorFlow's and PyTorch's tensors do); Clone() makes a deep copy.
// A Tensor is not synchronised: concurrent reads are safe, a write concurrent with any other access
// is not.
class Tensor {
 public:
  // An empty float tensor of shape [0].
  Tensor();

  // A zero-filled tensor. Fails with INVALID_ARGUMENT on a negative dim or an overflowing size.
  static absl::StatusOr<Tensor> Create(DataType type, Shape shape);

  // A tensor of `type` and `shape` holding a copy of `bytes`, whose size must be exactly the
  // tensor's byte size.
  static absl::StatusOr<Tensor> FromBytes(DataType type, Shape shape, const void* bytes,
                                          size_t byte_count);

  // A tensor holding `values`. REQUIRES: the product of `shape` equals values.size().
  template <typename T>
  static Tensor FromVector(Shape shape, const std::vector<T>& values) {
    Tensor t(DataTypeOf<T>::value, std::move(shape));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }

  DataType type() const { return type_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i]; }
  int64_t element_count() const { return element_count_; }
  size_t byte_size() const { return element_count_ * ElementSize(type_); }

  void* raw_data() { return buffer_.get(); }
  const void* raw_data() const { return buffer_.get(); }

  // REQUIRES: T matches type().
  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(buffer_.get());
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(buffer_.get());
  }
  template <typename T>
  absl::Span<const T> values() const {
    return absl::MakeConstSpan(data<T>(), element_count_);
  }

  // Whether no other tensor shares this one's buffer (so that writing it changes no other).
  bool sole_owner() const { return buffer_ != nullptr && buffer_.use_count() == 1; }

  // A tensor sharing this buffer under another shape. REQUIRES: same element count.
  Tensor Reshaped(Shape shape) const;

  // A tensor of `type` and `shape` over the start of `storage`'s buffer, sharing it (plans use
  // this to let values whose lifetimes do not overlap share memory). REQUIRES: storage holds at
  // least the bytes the new tensor needs.
  static Tensor Alias(DataType type, Shape shape, const Tensor& storage);

  // A deep copy.
  Tensor Clone() const;

 private:
  // REQUIRES: the size was checked by the caller; with `zeroed` false, the caller writes every
  // element.
  Tensor(DataType type, Shape shape, bool zeroed = true);

  DataType type_;
  Shape shape_;
  int64_t element_count_;
  std::shared_ptr<uint8_t> buffer_;
};

// A tensor with the name of the graph input, output or array it is.
using NamedTensor = std::pair<std::string, Tensor>;

}  // namespace octet

#endif  // OCTET_ENGINE_TENSOR_TENSOR_H_
