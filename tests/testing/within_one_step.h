// Comparing an int8 kernel's dequantized output with the float simulation of the same QDQ graph.
#ifndef OCTET_TESTS_TESTING_WITHIN_ONE_STEP_H_
#define OCTET_TESTS_TESTING_WITHIN_ONE_STEP_H_

#include <cmath>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/ir/graph.h"
#include "engine/runtime/session.h"
#include "engine/tensor/tensor.h"
#include "gtest/gtest.h"

namespace octet::testing {

// The float simulation of a QDQ graph, the reference the int8 runtime is held to: every
// QuantizeLinear/DequantizeLinear executed as written, nothing lowered to int8.
inline absl::StatusOr<std::unique_ptr<Session>> SimulatedSession(const Graph& graph) {
  SessionOptions options;
  options.lower_int8 = false;
  return Session::Create(graph, options);
}

// Fails the test (naming the element) where `actual` differs from `expected` by more than one
// quantization step `step`, and returns how many elements differ by one step (float ties that
// round the other way).
inline int CountOneStepDifferences(const Tensor& expected, const Tensor& actual, float step) {
  EXPECT_EQ(expected.shape(), actual.shape());
  if (expected.shape() != actual.shape()) return -1;
  int off_by_one = 0;
  for (int64_t i = 0; i < expected.element_count(); ++i) {
    const float steps = (actual.data<float>()[i] - expected.data<float>()[i]) / step;
    if (std::abs(steps) > 1.001f) {
      ADD_FAILURE() << "element " << i << " is " << steps << " steps off";
      return -1;
    }
    off_by_one += std::abs(steps) > 0.5f;
  }
  return off_by_one;
}

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_WITHIN_ONE_STEP_H_
