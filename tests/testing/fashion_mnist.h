// Fashion-MNIST images from Debian's dataset-fashion-mnist, as the fixture models' input.
#ifndef OCTET_TESTS_TESTING_FASHION_MNIST_H_
#define OCTET_TESTS_TESTING_FASHION_MNIST_H_

#include <cstdint>
#include <vector>

#include "engine/tensor/tensor.h"

namespace octet::testing {

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// `count` test images from `first` as "image" [count, 1, 28, 28] float32 scaled to [0, 1], and
// with `labels` their classes as "labels" [count] int64. Fails the calling test when the files
// cannot be read.
std::vector<NamedTensor> FashionMnist(int64_t first, int64_t count, bool labels);

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_FASHION_MNIST_H_
