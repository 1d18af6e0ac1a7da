#include "engine/quant/gptq_rounding.h"

#include <cmath>
#include <random>

#include "engine/base/status_matchers.h"
#include "engine/tensor/affine_quantization.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::StatusIs;
using ::testing::HasSubstr;

Tensor RandomTensor(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return Tensor::FromVector<float>(shape, values);
}

Node ConvNode(int64_t group, std::vector<int64_t> strides, std::vector<int64_t> pads,
              std::vector<int64_t> dilations, std::string auto_pad = "") {
  Node node;
  node.op_type = "Conv";
  node.name = "conv";
  node.inputs = {"x", "w"};
  node.outputs = {"y"};
  node.attributes["group"] = group;
  node.attributes["strides"] = strides;
  node.attributes["dilations"] = dilations;
  if (auto_pad.empty()) {
    node.attributes["pads"] = pads;
  } else {
    node.attributes["auto_pad"] = auto_pad;
  }
  return node;
}

// sum over every output position of patch patch^T, by direct indexing of the padded input: a
// second, independent reading of the convolution's geometry.
std::vector<double> ReferenceConvGram(const Tensor& x, const Shape& w, int64_t g, int64_t sh,
                                      int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw,
                                      int64_t oh, int64_t ow) {
  const bool one_d = x.rank() == 3;
  const int64_t channels = x.dim(1), height = one_d ? 1 : x.dim(2), width = x.dim(x.rank() - 1);
  const int64_t cpg = w[1], kh = one_d ? 1 : w[2], kw = w[w.size() - 1];
  const int64_t size = cpg * kh * kw;
  std::vector<double> gram(size * size, 0.0);
  std::vector<double> patch(size);
  for (int64_t n = 0; n < x.dim(0); ++n) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t k = 0;
        for (int64_t c = 0; c < cpg; ++c) {
          for (int64_t ky = 0; ky < kh; ++ky) {
            for (int64_t kx = 0; kx < kw; ++kx, ++k) {
              const int64_t iy = oy * sh + ky * dh - ph, ix = ox * sw + kx * dw - pw;
              const bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
              patch[k] =
                  inside
                      ? x.data<float>()[((n * channels + g * cpg + c) * height + iy) * width + ix]
                      : 0.0;
            }
          }
        }
        for (int64_t i = 0; i < size; ++i) {
          for (int64_t j = 0; j < size; ++j) gram[i * size + j] += patch[i] * patch[j];
        }
      }
    }
  }
  return gram;
}

void ExpectNear(const double* actual, const std::vector<double>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-3 * (1.0 + std::fabs(expected[i]))) << "element " << i;
  }
}

TEST(LayerInputGramTest, ConvGramIsTheSumOfItsPatchOuterProducts) {
  // Two groups, stride 2, padding, dilation 2 on the width.
  const Shape w = {6, 2, 3, 3};
  const Tensor x = RandomTensor({2, 4, 7, 6}, 1);
  OCTET_ASSERT_OK_AND_ASSIGN(
      LayerInputGram gram, LayerInputGram::For(ConvNode(2, {2, 1}, {1, 2, 0, 1}, {1, 2}), 1, 0, w));
  ASSERT_THAT(gram.Add(x, 1 << 20, 0), ::octet::testing::IsOk());
  EXPECT_EQ(gram.groups(), 2);
  EXPECT_EQ(gram.size(), 18);
  // Output: height (7 + 1 + 0 - 3) / 2 + 1 = 3; width (6 + 2 + 1 - 5) / 1 + 1 = 5.
  EXPECT_EQ(gram.rows(), 2 * 3 * 5);
  for (int64_t g = 0; g < 2; ++g) {
    ExpectNear(gram.gram(g), ReferenceConvGram(x, w, g, 2, 1, 1, 2, 1, 2, 3, 5));
  }
}

TEST(LayerInputGramTest, OneDimensionalSameUpperConv) {
  const Shape w = {3, 2, 4};
  const Tensor x = RandomTensor({3, 2, 9}, 2);
  OCTET_ASSERT_OK_AND_ASSIGN(LayerInputGram gram,
                             LayerInputGram::For(ConvNode(1, {2}, {}, {1}, "SAME_UPPER"), 1, 0, w));
  ASSERT_THAT(gram.Add(x, 1 << 20, 0), ::octet::testing::IsOk());
  // SAME_UPPER: out = ceil(9 / 2) = 5, total padding (5 - 1) * 2 + 4 - 9 = 3: 1 before, 2 after.
  EXPECT_EQ(gram.rows(), 3 * 5);
  ExpectNear(gram.gram(0), ReferenceConvGram(x, w, 0, 1, 2, 0, 1, 1, 1, 1, 5));
}

TEST(LayerInputGramTest, GemmGramIsXTransposeX) {
  Node gemm;
  gemm.op_type = "Gemm";
  gemm.inputs = {"a", "b"};
  gemm.attributes["transB"] = int64_t{1};
  const Tensor a = RandomTensor({7, 5}, 3);
  OCTET_ASSERT_OK_AND_ASSIGN(LayerInputGram gram, LayerInputGram::For(gemm, 1, 0, {4, 5}));
  ASSERT_THAT(gram.Add(a, 100, 0), ::octet::testing::IsOk());
  std::vector<double> expected(25, 0.0);
  for (int r = 0; r < 7; ++r) {
    for (int i = 0; i < 5; ++i) {
      for (int j = 0; j < 5; ++j) {
        expected[i * 5 + j] += a.data<float>()[r * 5 + i] * a.data<float>()[r * 5 + j];
      }
    }
  }
  ExpectNear(gram.gram(0), expected);
}

TEST(LayerInputGramTest, SamplesAtMostMaxRowsReproducibly) {
  Node matmul;
  matmul.op_type = "MatMul";
  matmul.inputs = {"x", "w"};
  const Tensor x = RandomTensor({2, 50, 6}, 4);
  OCTET_ASSERT_OK_AND_ASSIGN(LayerInputGram first, LayerInputGram::For(matmul, 1, 1, {6, 3}));
  OCTET_ASSERT_OK_AND_ASSIGN(LayerInputGram second, LayerInputGram::For(matmul, 1, 1, {6, 3}));
  ASSERT_THAT(first.Add(x, 30, 7), ::octet::testing::IsOk());
  ASSERT_THAT(second.Add(x, 30, 7), ::octet::testing::IsOk());
  EXPECT_EQ(first.rows(), 30);
  for (int i = 0; i < 36; ++i) EXPECT_EQ(first.gram(0)[i], second.gram(0)[i]);
}

TEST(LayerInputGramTest, RefusesWhatItCannotRead) {
  EXPECT_THAT(LayerInputGram::For(ConvNode(1, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, {1, 1, 1}), 1, 0,
                                  {2, 2, 3, 3, 3}),
              StatusIs(absl::StatusCode::kUnimplemented, ::testing::_));
  OCTET_ASSERT_OK_AND_ASSIGN(
      LayerInputGram gram,
      LayerInputGram::For(ConvNode(1, {1, 1}, {0, 0, 0, 0}, {1, 1}), 1, 0, {2, 3, 3, 3}));
  EXPECT_THAT(gram.Add(RandomTensor({1, 4, 5, 5}, 5), 10, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit")));
}

// Squared output error sum_r ((w - w_q) . x_r)^2 over every channel.
double OutputError(const Tensor& w, const Tensor& quantized, const QuantizationParams& params,
                   const Tensor& x) {
  const int64_t k = w.dim(0), channels = w.dim(1);
  double total = 0.0;
  for (int64_t r = 0; r < x.dim(0); ++r) {
    for (int64_t c = 0; c < channels; ++c) {
      double error = 0.0;
      for (int64_t i = 0; i < k; ++i) {
        const float dq = DequantizeValue(quantized.data<int8_t>()[i * channels + c],
                                         params.scales[c], params.zero_points[c]);
        error += (w.data<float>()[i * channels + c] - dq) * x.data<float>()[r * k + i];
      }
      total += error * error;
    }
  }
  return total;
}

// On correlated inputs, GPTQ leaves a layer's output much closer to float than nearest rounding
// does, on the same grid; with 48 input coordinates (one lazy batch) and 300 (three, the later
// ones updated by the earlier ones' matrix product).
class RoundWeightsToGramTest : public ::testing::TestWithParam<int64_t> {};

INSTANTIATE_TEST_SUITE_P(InputSizes, RoundWeightsToGramTest, ::testing::Values(48, 300));

TEST_P(RoundWeightsToGramTest, LowersTheOutputErrorBelowNearestRounding) {
  const int64_t k = GetParam(), channels = 8, rows = 1500;
  // Inputs mixed from 12 sources: strongly correlated, as real activations are.
  const Tensor sources = RandomTensor({rows, 12}, 6);
  const Tensor mixing = RandomTensor({12, k}, 7);
  std::vector<float> x(rows * k, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t s = 0; s < 12; ++s) {
      for (int64_t i = 0; i < k; ++i) {
        x[r * k + i] += sources.data<float>()[r * 12 + s] * mixing.data<float>()[s * k + i];
      }
    }
  }
  const Tensor inputs = Tensor::FromVector<float>({rows, k}, x);
  const Tensor w = RandomTensor({k, channels}, 8);
  Node matmul;
  matmul.op_type = "MatMul";
  matmul.inputs = {"x", "w"};
  OCTET_ASSERT_OK_AND_ASSIGN(LayerInputGram gram, LayerInputGram::For(matmul, 1, 1, w.shape()));
  ASSERT_THAT(gram.Add(inputs, rows, 0), ::octet::testing::IsOk());
  for (const int bits : {4, 8}) {
    WeightQuantizationSpec spec;
    spec.bits = bits;
    OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor nearest, QuantizeWeights(w, 1, spec));
    spec.rounding = Rounding::kGptq;
    OCTET_ASSERT_OK_AND_ASSIGN(QuantizedTensor gptq, RoundWeightsToGram(w, 1, spec, gram));
    // The same grid: scales, zero points, range.
    EXPECT_EQ(gptq.params.scales, nearest.params.scales);
    EXPECT_EQ(gptq.params.zero_points, nearest.params.zero_points);
    const IntegerRange range = gptq.params.format.range();
    int changed = 0;
    for (int64_t i = 0; i < w.element_count(); ++i) {
      const int8_t v = gptq.values.data<int8_t>()[i];
      ASSERT_GE(v, range.min);
      ASSERT_LE(v, range.max);
      changed += v != nearest.values.data<int8_t>()[i];
    }
    EXPECT_GT(changed, 0);
    const double nearest_error = OutputError(w, nearest.values, nearest.params, inputs);
    const double gptq_error = OutputError(w, gptq.values, gptq.params, inputs);
    EXPECT_LT(gptq_error, 0.5 * nearest_error) << bits << " bits";
  }
}

TEST(RoundWeightsToGramRefusalTest, RefusesWeightsThatDoNotMatchTheStatistics) {
  Node matmul;
  matmul.op_type = "MatMul";
  OCTET_ASSERT_OK_AND_ASSIGN(LayerInputGram gram, LayerInputGram::For(matmul, 1, 1, {6, 3}));
  WeightQuantizationSpec spec;
  EXPECT_THAT(RoundWeightsToGram(RandomTensor({5, 3}, 9), 1, spec, gram),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("do not match")));
}

}  // namespace
}  // namespace octet
