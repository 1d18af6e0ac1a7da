// Writes Fashion-MNIST images from Debian's dataset-fashion-mnist as an .npz dataset for Octet:
// float32 `image` [N, 1, 28, 28] scaled to [0, 1] and int64 `labels` [N], the inputs the fixture
// models (tests/data/fashion_mnist) take; or, to a path ending in .npy, the images alone (an
// inference input).
//   make_fashion_mnist_npz train|test FIRST COUNT OUT.npz|OUT.npy
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/io/idx.h"
#include "engine/io/npy.h"
#include "engine/io/npz.h"

namespace {

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

absl::Status Write(const std::string& split, int64_t first, int64_t count,
                   const std::string& path) {
  const std::string prefix = absl::StrCat(kFashionMnist, "/", split == "train" ? "train" : "t10k");
  absl::StatusOr<octet::Tensor> images =
      octet::ReadIdxFile(prefix + "-images-idx3-ubyte.gz", first + count);
  if (!images.ok()) return images.status();
  absl::StatusOr<octet::Tensor> classes =
      octet::ReadIdxFile(prefix + "-labels-idx1-ubyte.gz", first + count);
  if (!classes.ok()) return classes.status();
  if (images->shape()[0] < first + count) {
    return absl::OutOfRangeError(absl::StrCat("the ", split, " split has ", images->shape()[0],
                                              " images, fewer than ", first + count));
  }
  absl::StatusOr<octet::Tensor> pixels =
      octet::Tensor::Create(octet::DataType::kFloat32, {count, 1, 28, 28});
  absl::StatusOr<octet::Tensor> labels = octet::Tensor::Create(octet::DataType::kInt64, {count});
  if (!pixels.ok()) return pixels.status();
  if (!labels.ok()) return labels.status();
  for (int64_t i = 0; i < pixels->element_count(); ++i) {
    pixels->data<float>()[i] = images->data<uint8_t>()[first * 784 + i] / 255.0f;
  }
  for (int64_t i = 0; i < count; ++i) {
    labels->data<int64_t>()[i] = classes->data<uint8_t>()[first + i];
  }
  if (absl::EndsWith(path, ".npy")) return octet::WriteNpyFile(path, *pixels);
  std::vector<octet::NamedTensor> arrays;
  arrays.emplace_back("image", *std::move(pixels));
  arrays.emplace_back("labels", *std::move(labels));
  return octet::WriteNpzFile(path, arrays);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t first = 0;
  int64_t count = 0;
  if (argc != 5 || (std::string(argv[1]) != "train" && std::string(argv[1]) != "test") ||
      !absl::SimpleAtoi(argv[2], &first) || !absl::SimpleAtoi(argv[3], &count) || first < 0 ||
      count <= 0) {
    std::cerr << "usage: make_fashion_mnist_npz train|test FIRST COUNT OUT.npz|OUT.npy\n";
    return 2;
  }
  if (absl::Status status = Write(argv[1], first, count, argv[4]); !status.ok()) {
    std::cerr << "make_fashion_mnist_npz: " << status << "\n";
    return 1;
  }
  return 0;
}
