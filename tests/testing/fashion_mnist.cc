#include "tests/testing/fashion_mnist.h"

#include "absl/strings/str_cat.h"
#include "engine/io/idx.h"
#include "gtest/gtest.h"

namespace octet::testing {

std::vector<NamedTensor> FashionMnist(int64_t first, int64_t count, bool labels) {
  absl::StatusOr<Tensor> images =
      ReadIdxFile(absl::StrCat(kFashionMnistDir, "/t10k-images-idx3-ubyte.gz"), first + count);
  absl::StatusOr<Tensor> classes =
      ReadIdxFile(absl::StrCat(kFashionMnistDir, "/t10k-labels-idx1-ubyte.gz"), first + count);
  EXPECT_TRUE(images.ok() && classes.ok()) << "install dataset-fashion-mnist";
  if (!images.ok() || !classes.ok()) return {};
  Tensor pixels = *Tensor::Create(DataType::kFloat32, {count, 1, 28, 28});
  for (int64_t i = 0; i < pixels.element_count(); ++i) {
    pixels.data<float>()[i] = images->data<uint8_t>()[first * 784 + i] / 255.0f;
  }
  std::vector<NamedTensor> arrays;
  arrays.emplace_back("image", std::move(pixels));
  if (labels) {
    Tensor y = *Tensor::Create(DataType::kInt64, {count});
    for (int64_t i = 0; i < count; ++i) y.data<int64_t>()[i] = classes->data<uint8_t>()[first + i];
    arrays.emplace_back("labels", std::move(y));
  }
  return arrays;
}

}  // namespace octet::testing
