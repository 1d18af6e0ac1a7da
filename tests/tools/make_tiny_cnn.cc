// Writes the test suite's tiny CNN (tests/testing/onnx_model_builder.h) and a sample input, for
// the demo in scripts/run.sh: make_tiny_cnn MODEL.onnx INPUT.npy
#include <fstream>
#include <iostream>

#include "engine/io/npy.h"
#include "tests/testing/onnx_model_builder.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_tiny_cnn MODEL.onnx INPUT.npy\n";
    return 2;
  }
  octet::testing::TinyCnn cnn;
  std::ofstream(argv[1], std::ios::binary) << cnn.Serialize();
  const octet::Tensor input = octet::Tensor::FromVector<float>(
      {2, 1, 8, 8}, octet::testing::PseudoRandom(2 * 64, 42));
  if (absl::Status s = octet::WriteNpyFile(argv[2], input); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  return 0;
}
