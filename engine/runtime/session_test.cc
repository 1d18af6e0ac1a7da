#include "engine/runtime/session.h"

#include <time.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/cpu/cpu_features.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet {
namespace {

using ::octet::testing::OnnxModelBuilder;
using ::octet::testing::PseudoRandom;
using ::octet::testing::SetAttribute;
using ::octet::testing::StatusIs;
using ::octet::testing::TinyCnn;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pointwise;

std::unique_ptr<Session> MakeSession(const std::string& model, SessionOptions options = {}) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(model);
  EXPECT_THAT(graph, ::octet::testing::IsOk());
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), options);
  EXPECT_THAT(session, ::octet::testing::IsOk());
  return session.ok() ? *std::move(session) : nullptr;
}

// The largest |a - b| relative to the largest |b|.
float RelativeError(absl::Span<const float> a, absl::Span<const float> b) {
  float max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  return max_diff / max_ref;
}

TEST(SessionTest, TinyCnnMatchesAnIndependentReference) {
  TinyCnn cnn;
  std::unique_ptr<Session> session = MakeSession(cnn.Serialize());
  ASSERT_NE(session, nullptr);
  for (int batch : {1, 3}) {
    const std::vector<float> images = PseudoRandom(batch * 64, 100 + batch);
    OCTET_ASSERT_OK_AND_ASSIGN(
        std::vector<Tensor> out,
        session->Run({{"image", Tensor::FromVector<float>({batch, 1, 8, 8}, images)}}));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_THAT(out[0].shape(), ElementsAre(batch, 10));
    EXPECT_LT(RelativeError(out[0].values<float>(), cnn.Reference(images, batch)), 1e-5);
  }
  EXPECT_EQ(session->cached_plan_count(), 2u);
}

TEST(SessionTest, RunIntoWritesOverTheLastOutputsOnlyWhereNothingElseHoldsThem) {
  std::unique_ptr<Session> session = MakeSession(TinyCnn().Serialize());
  ASSERT_NE(session, nullptr);
  auto images = [](int batch, uint32_t seed) {
    return Tensor::FromVector<float>({batch, 1, 8, 8}, PseudoRandom(batch * 64, seed));
  };
  auto run = [&](const Tensor& x) {
    absl::StatusOr<std::vector<Tensor>> out = session->Run({{"image", x}});
    EXPECT_THAT(out, ::octet::testing::IsOk());
    return std::vector<float>((*out)[0].data<float>(),
                              (*out)[0].data<float>() + (*out)[0].element_count());
  };
  std::vector<Tensor> outputs;
  ASSERT_THAT(session->RunInto({{"image", images(2, 1)}}, {}, &outputs), ::octet::testing::IsOk());
  ASSERT_EQ(outputs.size(), 1u);
  const void* buffer = outputs[0].raw_data();
  // Same shape, sole owner: the same buffer, the new values.
  ASSERT_THAT(session->RunInto({{"image", images(2, 2)}}, {}, &outputs), ::octet::testing::IsOk());
  EXPECT_EQ(outputs[0].raw_data(), buffer);
  EXPECT_EQ(outputs[0].values<float>(), absl::MakeConstSpan(run(images(2, 2))));
  // A tensor another holder shares keeps its values; the run gets a buffer of its own.
  const Tensor kept = outputs[0];
  ASSERT_THAT(session->RunInto({{"image", images(2, 3)}}, {}, &outputs), ::octet::testing::IsOk());
  EXPECT_NE(outputs[0].raw_data(), buffer);
  EXPECT_EQ(kept.values<float>(), absl::MakeConstSpan(run(images(2, 2))));
  EXPECT_EQ(outputs[0].values<float>(), absl::MakeConstSpan(run(images(2, 3))));
  // Another batch size: a fresh buffer of the new shape.
  ASSERT_THAT(session->RunInto({{"image", images(3, 4)}}, {}, &outputs), ::octet::testing::IsOk());
  EXPECT_EQ(outputs[0].shape(), (Shape{3, TinyCnn::kClasses}));
  EXPECT_EQ(outputs[0].values<float>(), absl::MakeConstSpan(run(images(3, 4))));
  // An error leaves no outputs behind.
  EXPECT_THAT(session->RunInto({{"wrong", images(1, 5)}}, {}, &outputs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wrong")));
  EXPECT_TRUE(outputs.empty());
}

TEST(SessionTest, PlanCacheIsBoundedLeastRecentlyUsed) {
  TinyCnn cnn;
  SessionOptions options;
  options.plan_cache_capacity = 2;
  std::unique_ptr<Session> session = MakeSession(cnn.Serialize(), options);
  for (int batch : {1, 2, 3, 4}) {
    OCTET_ASSERT_OK(
        session->Run({{"image", *Tensor::Create(DataType::kFloat32, {batch, 1, 8, 8})}}).status());
  }
  EXPECT_EQ(session->cached_plan_count(), 2u);
}

TEST(SessionTest, ConcurrentRunsGiveTheSameAnswers) {
  TinyCnn cnn;
  std::unique_ptr<Session> session = MakeSession(cnn.Serialize());
  const std::vector<float> images = PseudoRandom(2 * 64, 7);
  const std::vector<float> expected = cnn.Reference(images, 2);
  std::vector<std::thread> threads;
  std::vector<float> worst(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto out = session->Run({{"image", Tensor::FromVector<float>({2, 1, 8, 8}, images)}});
        worst[t] = std::max(worst[t],
                            out.ok() ? RelativeError(out->at(0).values<float>(), expected) : 1.0f);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(worst, ::testing::Each(::testing::Lt(1e-5)));
}

TEST(SessionTest, ConcurrentRunsOfDifferentShapesOnTwoThreadsEach) {
  TinyCnn cnn;
  SessionOptions options;
  options.num_threads = 2;
  std::unique_ptr<Session> session = MakeSession(cnn.Serialize(), options);
  std::vector<std::thread> threads;
  std::vector<float> worst(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const int batch = 1 + (t + i) % 3;
        const std::vector<float> images = PseudoRandom(batch * 64, 100 * t + i);
        auto out = session->Run({{"image", Tensor::FromVector<float>({batch, 1, 8, 8}, images)}});
        worst[t] = std::max(worst[t], out.ok() ? RelativeError(out->at(0).values<float>(),
                                                               cnn.Reference(images, batch))
                                               : 1.0f);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(worst, ::testing::Each(::testing::Lt(1e-5)));
}

// A Resize whose sizes are a constant, reading a convolution's channel-blocked output: the builder
// adds the plain copy of that input while the Resize's kernel holds a pointer to its sizes' slot.
// The graphs differ in how many slots come before, so that the copy's slot falls on every
// position relative to the storage's growth (once, a pointer into moved storage crashed a job).
TEST(PlanTest, KernelsReadTheirConstantsWhileTheirInputsPlainCopiesAreAdded) {
  constexpr int kChannels = 16, kSize = 4;
  const std::vector<float> weights = PseudoRandom(kChannels * kChannels, 7);
  const std::vector<float> x = PseudoRandom(kChannels * kSize * kSize, 8);
  for (int relus = 0; relus <= 40; ++relus) {
    SCOPED_TRACE(relus);
    OnnxModelBuilder b;
    b.Input("x", {1, kChannels, kSize, kSize}).Output("y", {1, kChannels, 2 * kSize, 2 * kSize});
    b.Output("conv", {1, kChannels, kSize, kSize});
    b.Initializer("w", Tensor::FromVector<float>({kChannels, kChannels, 1, 1}, weights));
    b.Initializer("sizes", Tensor::FromVector<int64_t>({4}, {1, kChannels, 2 * kSize, 2 * kSize}));
    std::string value = "x";
    for (int i = 0; i < relus; ++i) {
      const std::string next = absl::StrCat("relu", i);
      b.Node("Relu", {value}, {next});
      value = next;
    }
    b.Node("Conv", {value, "w"}, {"conv"});
    b.Node("Resize", {"conv", "", "", "sizes"}, {"y"});
    std::unique_ptr<Session> session = MakeSession(b.Serialize());
    ASSERT_NE(session, nullptr);
    OCTET_ASSERT_OK_AND_ASSIGN(
        std::vector<Tensor> out,
        session->Run({{"x", Tensor::FromVector<float>({1, kChannels, kSize, kSize}, x)}}));
    ASSERT_EQ(out[0].shape(), (Shape{1, kChannels, 2 * kSize, 2 * kSize}));
    // Nearest neighbour at twice the size: each value of the convolution four times.
    const float* conv = out[1].data<float>();
    const float* y = out[0].data<float>();
    for (int c = 0; c < kChannels; ++c) {
      for (int i = 0; i < 2 * kSize; ++i) {
        for (int j = 0; j < 2 * kSize; ++j) {
          ASSERT_EQ(y[(c * 2 * kSize + i) * 2 * kSize + j],
                    conv[(c * kSize + i / 2) * kSize + j / 2])
              << c << " " << i << " " << j;
        }
      }
    }
  }
}

TEST(PlanTest, ValuesWhoseLifetimesDoNotOverlapShareBuffers) {
  // x -> r1 -> r2 -> r3 -> r4 -> y: two buffers of 1000 floats serve the whole chain.
  OnnxModelBuilder b;
  b.Input("x", {1, 1000}).Output("y", {1, 1000});
  b.Node("Relu", {"x"}, {"r1"});
  b.Node("Neg", {"r1"}, {"r2"});
  b.Node("Relu", {"r2"}, {"r3"});
  b.Node("Neg", {"r3"}, {"r4"});
  b.Node("Abs", {"r4"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Plan> plan,
                             Plan::Build(graph, {{DataType::kFloat32, {1, 1000}}}));
  EXPECT_EQ(plan->workspace_bytes(), 2 * 1000 * sizeof(float));
  std::vector<float> x(1000);
  for (int i = 0; i < 1000; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                             plan->Run({Tensor::FromVector<float>({1, 1000}, x)}, {0}));
  // Relu, negate, Relu (of non-positives: 0), negate, Abs: every element ends 0.
  EXPECT_THAT(out[0].values<float>(), ::testing::Each(0.0f));
}

// Every convolution's output fetched (as a quantization job fetches every layer's): each blocked
// value is copied to its plain output as soon as it is computed, so that the blocked buffers are
// shared along the chain instead of all living to the end of the plan.
TEST(PlanTest, BlockedValuesThatAreOutputsDoNotLiveToTheEnd) {
  constexpr int kChannels = 16, kSize = 8, kLayers = 6;
  OnnxModelBuilder b;
  b.Input("x", {1, kChannels, kSize, kSize});
  std::string value = "x";
  for (int i = 0; i < kLayers; ++i) {
    const std::string w = absl::StrCat("w", i), y = absl::StrCat("c", i);
    b.Initializer(w, Tensor::FromVector<float>({kChannels, kChannels, 1, 1},
                                               PseudoRandom(kChannels * kChannels, 20 + i)));
    b.Node("Conv", {value, w}, {y});
    b.Output(y, {1, kChannels, kSize, kSize});
    value = y;
  }
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  OCTET_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Plan> plan,
      Plan::Build(graph, {{DataType::kFloat32, {1, kChannels, kSize, kSize}}}));
  const size_t value_bytes = kChannels * kSize * kSize * sizeof(float);
  // At most the input's blocked copy, one layer's input and one layer's output at a time.
  EXPECT_LE(plan->workspace_bytes(), 3 * value_bytes);
  // The same values as one layer at a time.
  const Tensor x = Tensor::FromVector<float>({1, kChannels, kSize, kSize},
                                             PseudoRandom(kChannels * kSize * kSize, 9));
  std::vector<int> all(kLayers);
  for (int i = 0; i < kLayers; ++i) all[i] = i;
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, plan->Run({x}, all));
  std::vector<float> expected(x.values<float>().begin(), x.values<float>().end());
  for (int i = 0; i < kLayers; ++i) {
    const std::vector<float> w = PseudoRandom(kChannels * kChannels, 20 + i);
    std::vector<float> next(expected.size(), 0.0f);
    for (int o = 0; o < kChannels; ++o) {
      for (int c = 0; c < kChannels; ++c) {
        for (int p = 0; p < kSize * kSize; ++p) {
          next[o * kSize * kSize + p] += w[o * kChannels + c] * expected[c * kSize * kSize + p];
        }
      }
    }
    expected = next;
    EXPECT_LT(RelativeError(out[i].values<float>(), expected), 1e-5f) << i;
  }
}

TEST(SessionTest, ZeroPoolingStridesAreAnErrorNotADivisionByZero) {
  OnnxModelBuilder b;
  b.Input("x", {1, 1, 4, 4}).Output("y", {1, 1, 2, 2});
  onnx::NodeProto& pool = b.Node("MaxPool", {"x"}, {"y"});
  SetAttribute(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  SetAttribute(pool, "strides", std::vector<int64_t>{0, 2});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  EXPECT_THAT(Session::Create(std::move(graph), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("kernel, strides and dilations must be positive")));
}

TEST(SessionTest, ConvFollowedByReluSixIsFusedAndExact) {
  // A 1x1 Conv with weight 2 then Clip(0, 6): the Clip runs as the Conv's post-op.
  OnnxModelBuilder b;
  b.Input("x", {1, 1, 1, 4}).Output("y", {1, 1, 1, 4});
  b.Initializer("w", Tensor::FromVector<float>({1, 1, 1, 1}, {2}));
  b.Initializer("low", Tensor::FromVector<float>({}, {0}));
  b.Initializer("high", Tensor::FromVector<float>({}, {6}));
  b.Node("Conv", {"x", "w"}, {"c"});
  b.Node("Clip", {"c", "low", "high"}, {"y"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  OCTET_ASSERT_OK_AND_ASSIGN(
      std::vector<Tensor> out,
      session->Run({{"x", Tensor::FromVector<float>({1, 1, 1, 4}, {-1, 1, 2.5f, 4})}}));
  EXPECT_THAT(out[0].values<float>(), ElementsAre(0, 2, 5, 6));
}

// Process CPU time in seconds (every thread's).
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// oneDNN fixes a primitive's thread count when it is made: a one-thread session must make its
// primitives with one thread, whatever the machine has, or its runs spread over every core. The
// CPU time the process spends in the runs can then not exceed their wall time (a loaded machine
// can only lower it).
TEST(SessionTest, OneThreadSessionsComputeOnOneThread) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 64, 56, 56}).Output("y", {});
  const std::vector<float> w = PseudoRandom(64 * 64 * 9, 3);
  b.Initializer("w", Tensor::FromVector<float>({64, 64, 3, 3}, w));
  SetAttribute(b.Node("Conv", {"x", "w"}, {"y"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  SessionOptions options;
  options.num_threads = 1;
  std::unique_ptr<Session> session = MakeSession(b.Serialize(), options);
  const Tensor x =
      Tensor::FromVector<float>({4, 64, 56, 56}, std::vector<float>(4 * 64 * 56 * 56, 0.5f));
  OCTET_ASSERT_OK(session->Run({{"x", x}}).status());  // builds the plan
  const double cpu_start = ProcessCpuSeconds();
  const auto wall_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) OCTET_ASSERT_OK(session->Run({{"x", x}}).status());
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu = ProcessCpuSeconds() - cpu_start;
  EXPECT_LE(cpu, 1.15 * wall + 0.002) << "CPU " << cpu << " s in " << wall << " s";
}

TEST(SessionTest, RefusesInputsThatDoNotFitWithTheirNames) {
  TinyCnn cnn;
  std::unique_ptr<Session> session = MakeSession(cnn.Serialize());
  EXPECT_THAT(session->Run({{"img", *Tensor::Create(DataType::kFloat32, {1, 1, 8, 8})}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown input 'img'; the model's inputs are: image")));
  EXPECT_THAT(session->Run({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing input 'image'")));
  EXPECT_THAT(session->Run({{"image", *Tensor::Create(DataType::kFloat32, {1, 1, 8, 9})}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must have shape [N, 1, 8, 8], got [1, 1, 8, 9]")));
  EXPECT_THAT(
      session->Run({{"image", *Tensor::Create(DataType::kInt64, {1, 1, 8, 8})}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be float32, got int64")));
  EXPECT_THAT(
      session->Run({{"image", *Tensor::Create(DataType::kFloat32, {1, 1, 8, 8})}},
                   {"probabilities"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown output 'probabilities'")));
}

TEST(SessionTest, RefusesUnsupportedOpsNamingEachTypeAndANode) {
  OnnxModelBuilder b;
  b.Input("x", {1, 4}).Output("y", {1, 4});
  b.Node("Softsign", {"x"}, {"a"});
  b.Node("Softsign", {"a"}, {"b"});
  b.Node("Celu", {"b"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  EXPECT_THAT(Session::Create(std::move(graph), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported operators: Celu (e.g. Celu 'Celu_3'); Softsign (e.g. "
                                 "Softsign 'Softsign_1')")));
}

TEST(SessionTest, GemmHonoursTransposesAlphaBetaAndBroadcastC) {
  // Y = 2 * A^T B^T + 0.5 * C, A stored [K=2, M=3], B stored [N=2, K=2], C [N].
  OnnxModelBuilder b;
  b.Input("a", {2, 3}).Output("y", {3, 2});
  b.Initializer("b", Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4}));
  b.Initializer("c", Tensor::FromVector<float>({2}, {10, 20}));
  onnx::NodeProto& gemm = b.Node("Gemm", {"a", "b", "c"}, {"y"});
  SetAttribute(gemm, "transA", int64_t{1});
  SetAttribute(gemm, "transB", int64_t{1});
  SetAttribute(gemm, "alpha", 2.0f);
  SetAttribute(gemm, "beta", 0.5f);
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  // A^T = [[1, 4], [2, 5], [3, 6]]; B^T = [[1, 3], [2, 4]].
  OCTET_ASSERT_OK_AND_ASSIGN(
      std::vector<Tensor> out,
      session->Run({{"a", Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6})}}));
  // Row 0: [1*1+4*2, 1*3+4*4] = [9, 19] -> 2x + [5, 10] = [23, 48].
  EXPECT_THAT(out[0].values<float>(),
              Pointwise(FloatNear(1e-5), {23.f, 48.f, 29.f, 62.f, 35.f, 76.f}));
}

TEST(SessionTest, GemmAndMatMulFuseTheActivationAfterThem) {
  // Gemm + bias -> Relu and MatMul -> Clip(0, 6): one step each, the activation a post-op.
  OnnxModelBuilder b;
  b.Input("a", {2, 2}).Output("y", {2, 2}).Output("z", {2, 2});
  b.Initializer("b", Tensor::FromVector<float>({2, 2}, {1, -2, 3, 4}));
  b.Initializer("c", Tensor::FromVector<float>({2}, {-10, 1}));
  b.Initializer("low", Tensor::FromVector<float>({}, {0}));
  b.Initializer("high", Tensor::FromVector<float>({}, {6}));
  b.Node("Gemm", {"a", "b", "c"}, {"g"});
  b.Node("Relu", {"g"}, {"y"});
  b.Node("MatMul", {"a", "b"}, {"m"});
  b.Node("Clip", {"m", "low", "high"}, {"z"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  const Tensor a = Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4});
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({{"a", a}}));
  // A B = [[7, 6], [15, 10]]; + c = [[-3, 7], [5, 11]].
  EXPECT_THAT(out[0].values<float>(), Pointwise(FloatNear(1e-5), {0.f, 7.f, 5.f, 11.f}));
  EXPECT_THAT(out[1].values<float>(), Pointwise(FloatNear(1e-5), {6.f, 6.f, 6.f, 6.f}));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, session->Describe({{"a", a}}));
  std::vector<std::string> nodes;
  for (const StepDescription& step : steps) nodes.push_back(step.nodes);
  EXPECT_THAT(nodes, ::testing::ElementsAre(HasSubstr("+"), HasSubstr("+")));
}

TEST(SessionTest, MatMulBroadcastsBatchesAndVectors) {
  OnnxModelBuilder b;
  b.Input("a", {2, 1, 3}).Input("v", {3}).Output("y", {2, 1});
  b.Node("MatMul", {"a", "v"}, {"y"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  OCTET_ASSERT_OK_AND_ASSIGN(
      std::vector<Tensor> out,
      session->Run({{"a", Tensor::FromVector<float>({2, 1, 3}, {1, 2, 3, 4, 5, 6})},
                    {"v", Tensor::FromVector<float>({3}, {1, 0, -1})}}));
  EXPECT_THAT(out[0].shape(), ElementsAre(2, 1));
  EXPECT_THAT(out[0].values<float>(), ElementsAre(-2, -2));
}

TEST(SessionTest, AddBroadcastsEitherOrBothOperands) {
  OnnxModelBuilder b;
  b.Input("col", {3, 1}).Input("row", {1, 2}).Output("y", {3, 2}).Output("z", {3, 1});
  b.Initializer("one", Tensor::FromVector<float>({}, {1}));
  b.Node("Add", {"col", "row"}, {"y"});
  b.Node("Add", {"one", "col"}, {"z"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                             session->Run({{"col", Tensor::FromVector<float>({3, 1}, {0, 10, 20})},
                                           {"row", Tensor::FromVector<float>({1, 2}, {1, 2})}}));
  EXPECT_THAT(out[0].values<float>(), ElementsAre(1, 2, 11, 12, 21, 22));
  EXPECT_THAT(out[1].values<float>(), ElementsAre(1, 11, 21));
}

TEST(SessionTest, ConvHandlesGroupsStridesAndWeightsAsInputs) {
  // Depthwise 2x2 stride 2 on a 2-channel 4x4 input, weights given as a graph input.
  OnnxModelBuilder b;
  b.Input("x", {1, 2, 4, 4}).Input("w", {2, 1, 2, 2}).Output("y", {1, 2, 2, 2});
  onnx::NodeProto& conv = b.Node("Conv", {"x", "w"}, {"y"});
  SetAttribute(conv, "group", int64_t{2});
  SetAttribute(conv, "strides", std::vector<int64_t>{2, 2});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i);
  OCTET_ASSERT_OK_AND_ASSIGN(
      std::vector<Tensor> out,
      session->Run({{"x", Tensor::FromVector<float>({1, 2, 4, 4}, x)},
                    {"w", Tensor::FromVector<float>({2, 1, 2, 2}, {1, 0, 0, 0, 0, 0, 0, 1})}}));
  // Channel 0 picks the top-left of each 2x2 window, channel 1 the bottom-right.
  EXPECT_THAT(out[0].values<float>(), ElementsAre(0, 2, 8, 10, 21, 23, 29, 31));
}

TEST(SessionTest, ReshapeResolvesZeroAndMinusOne) {
  OnnxModelBuilder b;
  b.Input("x", {2, 3, 4}).Output("y", {2, 12});
  b.Initializer("shape", Tensor::FromVector<int64_t>({2}, {0, -1}));
  b.Node("Reshape", {"x", "shape"}, {"y"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                             session->Run({{"x", *Tensor::Create(DataType::kFloat32, {2, 3, 4})}}));
  EXPECT_THAT(out[0].shape(), ElementsAre(2, 12));
}

TEST(SessionTest, SmallShapeInputsSpecialisePlansByValue) {
  OnnxModelBuilder b;
  b.Input("x", {2, 3}).Input("shape", {2}, onnx::TensorProto::INT64).Output("y", {-1, -1});
  b.Node("Reshape", {"x", "shape"}, {"y"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  const Tensor x = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  for (const auto& [target, expected] :
       std::vector<std::pair<std::vector<int64_t>, Shape>>{{{3, 2}, {3, 2}}, {{-1, 1}, {6, 1}}}) {
    OCTET_ASSERT_OK_AND_ASSIGN(
        std::vector<Tensor> out,
        session->Run({{"x", x}, {"shape", Tensor::FromVector<int64_t>({2}, target)}}));
    EXPECT_EQ(out[0].shape(), expected);
    EXPECT_THAT(out[0].values<float>(), ElementsAre(1, 2, 3, 4, 5, 6));
  }
  EXPECT_EQ(session->cached_plan_count(), 2u);
}

TEST(SessionTest, ShapesComputedFromLargeDataInputsAreRefused) {
  OnnxModelBuilder b;
  b.Input("x", {2, 3}).Input("shape", {-1}, onnx::TensorProto::INT64).Output("y", {3, 2});
  b.Node("Reshape", {"x", "shape"}, {"y"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  EXPECT_THAT(CheckGraphSupported(graph),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be a constant, a small input or computed from shapes")));
}

TEST(SessionTest, ShapeArithmeticFoldsWhenThePlanIsBuilt) {
  // target = Shape(x) * [1, 1, 1] + 0: known only once the batch size is, so the plan folds it.
  OnnxModelBuilder b;
  b.Input("x", {-1, 2, 3}).Output("y", {-1, 2, 3});
  b.Initializer("ones", Tensor::FromVector<int64_t>({3}, {1, 1, 1}));
  b.Initializer("zero", Tensor::FromVector<int64_t>({1}, {0}));
  b.Node("Shape", {"x"}, {"s"});
  b.Node("Mul", {"s", "ones"}, {"scaled"});
  b.Node("Add", {"scaled", "zero"}, {"target"});
  b.Node("Reshape", {"x", "target"}, {"y"});
  std::unique_ptr<Session> session = MakeSession(b.Serialize());
  for (int batch : {1, 4}) {
    OCTET_ASSERT_OK_AND_ASSIGN(
        std::vector<Tensor> out,
        session->Run({{"x", *Tensor::Create(DataType::kFloat32, {batch, 2, 3})}}));
    EXPECT_THAT(out[0].shape(), ElementsAre(batch, 2, 3));
  }
}

}  // namespace
}  // namespace octet

namespace octet {
namespace {

// Each node of `graph` run on its own, in a one-node session: every value then passes between
// ops as a plain tensor, whatever layouts the whole-graph plan chooses.
std::vector<Tensor> RunNodeByNode(const Graph& graph, const std::vector<NamedTensor>& inputs) {
  absl::flat_hash_map<std::string, Tensor> values;
  for (const auto& [name, tensor] : inputs) values[name] = tensor;
  for (const Node& node : graph.nodes) {
    Graph single;
    single.opset = graph.opset;
    single.nodes = {node};
    std::vector<NamedTensor> feed;
    for (const std::string& input : node.inputs) {
      if (input.empty()) continue;
      if (const Tensor* constant = graph.FindConstant(input)) {
        single.constants.emplace(input, *constant);
      } else if (std::none_of(feed.begin(), feed.end(),
                              [&](const NamedTensor& f) { return f.first == input; })) {
        single.inputs.push_back(ValueInfo{input, values.at(input).type(), std::nullopt});
        feed.emplace_back(input, values.at(input));
      }
    }
    for (const std::string& output : node.outputs) {
      single.outputs.push_back(ValueInfo{output, DataType::kFloat32, std::nullopt});
    }
    single.value_types = graph.value_types;
    auto session = Session::Create(single, {});
    EXPECT_THAT(session, ::octet::testing::IsOk()) << node.Describe();
    auto out = (*session)->Run(feed);
    EXPECT_THAT(out, ::octet::testing::IsOk()) << node.Describe();
    for (size_t i = 0; i < node.outputs.size(); ++i) values[node.outputs[i]] = (*out)[i];
  }
  std::vector<Tensor> outputs;
  for (const ValueInfo& output : graph.outputs) outputs.push_back(values.at(output.name));
  return outputs;
}

TEST(SessionTest, ChannelBlockedValuesGiveWhatPlainExecutionGives) {
  // 12 channels: blocked layouts pad them to 16, which every op on the way must respect.
  OnnxModelBuilder b;
  b.Input("x", {-1, 3, 14, 14}).Output("logits", {-1, 5}).Output("side", {-1, 12, 7, 7});
  b.Initializer("w1", Tensor::FromVector<float>({12, 3, 3, 3}, PseudoRandom(324, 1)));
  b.Initializer("b1", Tensor::FromVector<float>({12}, PseudoRandom(12, 2)));
  b.Initializer("w2", Tensor::FromVector<float>({12, 12, 3, 3}, PseudoRandom(1296, 3)));
  b.Initializer("w3", Tensor::FromVector<float>({12, 1, 3, 3}, PseudoRandom(108, 4)));
  b.Initializer("shift", Tensor::FromVector<float>({12, 1, 1}, PseudoRandom(12, 5)));
  b.Initializer("fc", Tensor::FromVector<float>({12, 5}, PseudoRandom(60, 6)));
  b.Initializer("lo", Tensor::FromVector<float>({}, {0.0f}));
  b.Initializer("hi", Tensor::FromVector<float>({}, {0.5f}));
  SetAttribute(b.Node("Conv", {"x", "w1", "b1"}, {"c1"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Relu", {"c1"}, {"r1"});
  onnx::NodeProto& pool = b.Node("MaxPool", {"r1"}, {"p1"});
  SetAttribute(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  SetAttribute(pool, "strides", std::vector<int64_t>{2, 2});
  SetAttribute(b.Node("Conv", {"p1", "w2"}, {"c2"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  onnx::NodeProto& dw = b.Node("Conv", {"p1", "w3"}, {"c3"});
  SetAttribute(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  SetAttribute(dw, "group", int64_t{12});
  b.Node("Add", {"c2", "c3"}, {"sum"});
  b.Node("Clip", {"sum", "lo", "hi"}, {"clipped"});
  b.Node("Sub", {"clipped", "shift"}, {"side"});  // broadcast: read plain
  onnx::NodeProto& avg = b.Node("AveragePool", {"clipped"}, {"a1"});
  SetAttribute(avg, "kernel_shape", std::vector<int64_t>{3, 3});
  SetAttribute(avg, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("GlobalAveragePool", {"a1"}, {"g"});
  b.Node("Flatten", {"g"}, {"f"});
  b.Node("MatMul", {"f", "fc"}, {"logits"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, {}));
  const Tensor x = Tensor::FromVector<float>({2, 3, 14, 14}, PseudoRandom(2 * 3 * 14 * 14, 7));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, session->Run({{"x", x}}));
  const std::vector<Tensor> expected = RunNodeByNode(graph, {{"x", x}});
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t o = 0; o < actual.size(); ++o) {
    ASSERT_EQ(actual[o].shape(), expected[o].shape());
    EXPECT_THAT(actual[o].values<float>(), Pointwise(FloatNear(1e-5f), expected[o].values<float>()))
        << graph.outputs[o].name;
  }
}

TEST(SessionTest, ResidualAddsFusedIntoConvolutionsGiveWhatPlainExecutionGives) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 3, 10, 10})
      .Output("y3", {-1, 16, 10, 10})
      .Output("t", {-1, 16, 10, 10})
      .Output("z1", {-1, 16, 10, 10});
  for (int i = 0; i < 5; ++i) {
    const int64_t in = i == 0 ? 3 : 16;
    const int64_t k = i == 3 ? 1 : 3;
    b.Initializer(absl::StrCat("w", i),
                  Tensor::FromVector<float>({16, in, k, k}, PseudoRandom(16 * in * k * k, 20 + i)));
  }
  b.Initializer("half", Tensor::FromVector<float>({}, {0.5f}));
  auto conv = [&](const std::string& x, int w, const std::string& y) {
    onnx::NodeProto& node = b.Node("Conv", {x, absl::StrCat("w", w)}, {y});
    if (w != 3) SetAttribute(node, "pads", std::vector<int64_t>{1, 1, 1, 1});
  };
  conv("x", 0, "c0");
  b.Node("Relu", {"c0"}, {"r0"});
  // An identity block: the residual r0 was read before by c1; fused as sum + Relu into c2.
  conv("r0", 1, "c1");
  b.Node("Relu", {"c1"}, {"r1"});
  conv("r1", 2, "c2");
  b.Node("Add", {"c2", "r0"}, {"y1"});
  b.Node("Relu", {"y1"}, {"z1"});  // also a graph output: its buffer must survive
  // The convolution reads the residual itself: writing in place would corrupt its input.
  conv("z1", 3, "c3");
  b.Node("Add", {"z1", "c3"}, {"y2"});
  // The residual is read again after the Add: it must not be overwritten.
  conv("y2", 4, "c4");
  b.Node("Add", {"c4", "y2"}, {"y3"});
  b.Node("Mul", {"y2", "half"}, {"t"});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  SessionOptions options;
  options.profile = true;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, options));
  const Tensor x = Tensor::FromVector<float>({2, 3, 10, 10}, PseudoRandom(2 * 3 * 10 * 10, 9));
  // Twice: the second run reuses the workspace whose buffers the fused steps wrote in place.
  for (int run = 0; run < 2; ++run) {
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, session->Run({{"x", x}}));
    const std::vector<Tensor> expected = RunNodeByNode(graph, {{"x", x}});
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t o = 0; o < actual.size(); ++o) {
      ASSERT_EQ(actual[o].shape(), expected[o].shape());
      float scale = 0;
      for (float v : expected[o].values<float>()) scale = std::max(scale, std::abs(v));
      EXPECT_THAT(actual[o].values<float>(),
                  Pointwise(FloatNear(1e-5f * scale), expected[o].values<float>()))
          << graph.outputs[o].name;
    }
  }
  // The session describes what it fused and what ran it, with the mean time of each step over
  // the runs after the first.
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, session->Describe({{"x", x}}));
  std::vector<std::string> nodes;
  for (const StepDescription& step : steps) {
    nodes.push_back(step.nodes);
    EXPECT_EQ(step.runs, 1) << step.nodes;
    EXPECT_GT(step.mean_ms, 0) << step.nodes;
    if (step.op_type == "Conv") {
      EXPECT_THAT(step.implementation, Not(HasSubstr("octet"))) << step.nodes;
    }
  }
  // Only the identity block's Add (and the Relu after it) fused into the convolution before it.
  EXPECT_THAT(nodes, Contains("Conv_1 + Relu_2"));
  EXPECT_THAT(nodes, Contains("Conv_5 + Add_6 + Relu_7"));
  EXPECT_THAT(nodes, Contains("Add_9"));
  EXPECT_THAT(nodes, Contains("Add_11"));
  const auto fused = std::find_if(steps.begin(), steps.end(), [](const StepDescription& d) {
    return d.nodes == "Conv_5 + Add_6 + Relu_7";
  });
  ASSERT_NE(fused, steps.end());
  EXPECT_THAT(fused->notes, HasSubstr("residual Add fused"));
  EXPECT_EQ(fused->outputs[0].shape[1], 16);
}

// Octet's Winograd kernels read oneDNN's AVX2 activation layout (nChw8c). Where oneDNN's kernels
// for the CPU write another one (AVX-512: nhwc), the 3x3 convolutions stay on oneDNN; CTest runs
// this suite a second time with oneDNN capped at AVX2 (session_test_avx2), which takes the
// Winograd paths on any CPU with AVX2.
bool WinogradPathsRun(const std::vector<StepDescription>& steps) {
  return cpu::Cpu().avx2 && steps.front().op_type == "Conv" &&
         steps.front().outputs[0].channel_block == 8;
}
constexpr char kWinogradSkipped[] =
    "this CPU's oneDNN kernels do not write nChw8c, so its 3x3 convolutions stay on oneDNN; the "
    "Winograd paths were not run (session_test_avx2 runs them)";

int CountImplementations(const std::vector<StepDescription>& steps, const std::string& name) {
  return static_cast<int>(std::count_if(steps.begin(), steps.end(), [&](const StepDescription& s) {
    return s.implementation == name;
  }));
}

// The graph of the Winograd tests, on x [N, channels, H, W]: a 1x1 convolution c0 (so that the
// 3x3 ones read channel-blocked sources); a 3x3 convolution with a bias to `mid` channels, Relu;
// a 3x3 convolution back to `channels`, plus c0, Relu: s. Outputs y1 = Clip(3x3 convolution of
// s with a bias to `wide` channels, padded `pads`, into [lo, 0.5]) and y2 = the unpadded 3x3
// convolution of y1 to `last` channels.
void AddWinogradGraph(OnnxModelBuilder& b, int64_t channels, int64_t mid, int64_t wide,
                      int64_t last, const std::vector<int64_t>& pads, float lo) {
  auto weights = [&](const std::string& name, int64_t out, int64_t in, int64_t k, uint32_t seed) {
    std::vector<float> w = PseudoRandom(out * in * k * k, seed);
    for (float& v : w) v *= 0.1f;
    b.Initializer(name, Tensor::FromVector<float>({out, in, k, k}, w));
  };
  weights("w0", channels, channels, 1, 1);
  weights("w1", mid, channels, 3, 2);
  weights("w2", channels, mid, 3, 3);
  weights("w3", wide, channels, 3, 4);
  weights("w4", last, wide, 3, 5);
  b.Initializer("b1", Tensor::FromVector<float>({mid}, PseudoRandom(mid, 6)));
  b.Initializer("b3", Tensor::FromVector<float>({wide}, PseudoRandom(wide, 7)));
  b.Initializer("lo", Tensor::FromVector<float>({}, {lo}));
  b.Initializer("hi", Tensor::FromVector<float>({}, {0.5f}));
  b.Node("Conv", {"x", "w0"}, {"c0"});
  SetAttribute(b.Node("Conv", {"c0", "w1", "b1"}, {"c1"}), "pads",
               std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Relu", {"c1"}, {"r1"});
  SetAttribute(b.Node("Conv", {"r1", "w2"}, {"c2"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.Node("Add", {"c2", "c0"}, {"sum"});
  b.Node("Relu", {"sum"}, {"s"});
  SetAttribute(b.Node("Conv", {"s", "w3", "b3"}, {"c3"}), "pads", pads);
  b.Node("Clip", {"c3", "lo", "hi"}, {"y1"});
  b.Node("Conv", {"y1", "w4"}, {"y2"});
}

// Each output of `actual` within 5e-5 of the largest value of node-by-node execution's.
void ExpectLikeNodeByNode(const Graph& graph, const std::vector<NamedTensor>& inputs,
                          const std::vector<Tensor>& actual) {
  const std::vector<Tensor> expected = RunNodeByNode(graph, inputs);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t o = 0; o < actual.size(); ++o) {
    ASSERT_EQ(actual[o].shape(), expected[o].shape());
    EXPECT_LT(RelativeError(actual[o].values<float>(), expected[o].values<float>()), 5e-5f)
        << graph.outputs[o].name << " at batch " << inputs[0].second.dim(0);
  }
}

// 3x3 stride-1 convolutions on a channel-blocked source run by Winograd's F(2x2, 3x3) on CPUs
// with AVX2 (a bias, Relu, Clip, a residual sum, uneven and no padding, odd sizes; 128 x 128
// channels fused, 144 x 128 and 128 x 144 in passes through oneDNN's matmul, more tiles than one
// pass takes): the results are the direct convolution's, to float rounding.
TEST(SessionTest, WinogradConvolutionsGiveWhatDirectConvolutionsGive) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 128, 23, 21}).Output("y1", {}).Output("y2", {});
  AddWinogradGraph(b, 128, 128, 144, 128, {0, 2, 2, 0}, 0.0f);
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  SessionOptions options;
  options.num_threads = 2;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, options));
  const std::vector<NamedTensor> x = {
      {"x", Tensor::FromVector<float>({2, 128, 23, 21}, PseudoRandom(2 * 128 * 23 * 21, 8))}};
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, session->Describe(x));
  int winograd = 0;
  for (const StepDescription& step : steps) {
    winograd += absl::StartsWith(step.implementation, "winograd") ? 1 : 0;
  }
  const bool winograd_paths = WinogradPathsRun(steps);
  if (winograd_paths) {
    EXPECT_EQ(winograd, 4);
    EXPECT_EQ(CountImplementations(steps, "winograd F(2x2,3x3):avx2 fused"), 2);
  }
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, session->Run(x));
  ExpectLikeNodeByNode(graph, x, actual);
  // Concurrent runs of two shapes (two plans, each run with its own scratchpad) give the same.
  std::vector<Tensor> inputs, references;
  for (int64_t batch : {1, 3}) {
    inputs.push_back(Tensor::FromVector<float>({batch, 128, 23, 21},
                                               PseudoRandom(batch * 128 * 23 * 21, 9 + batch)));
    references.push_back(RunNodeByNode(graph, {{"x", inputs.back()}})[0]);
  }
  std::vector<float> worst(3, 0.0f);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        const size_t which = (t + i) % 2;
        auto out = session->Run({{"x", inputs[which]}});
        worst[t] = std::max(worst[t], out.ok() ? RelativeError(out->at(0).values<float>(),
                                                               references[which].values<float>())
                                               : 1.0f);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(worst, ::testing::Each(::testing::Lt(5e-5f)));
  if (!winograd_paths) GTEST_SKIP() << kWinogradSkipped;
}

// The fused path with few channels: 16 to 64, output channels not a multiple of 16 (a last block
// of 8), blocks of 6 tiles running across rows and images (7 x 5 tiles per image, batch 3 and 1),
// short last blocks, odd sizes, uneven and no padding, a bias, Relu, Clip and a residual sum;
// strided and dilated convolutions beside them stay direct.
TEST(SessionTest, FusedWinogradConvolutionsWithFewChannelsGiveWhatDirectConvolutionsGive) {
  OnnxModelBuilder b;
  b.Input("x", {-1, 16, 13, 9}).Output("y1", {}).Output("y2", {}).Output("y3", {}).Output("y4", {});
  AddWinogradGraph(b, 16, 24, 64, 40, {2, 0, 0, 1}, -0.25f);
  // Strided and dilated 3x3 convolutions are not Winograd's: they stay direct.
  for (const char* name : {"w5", "w6"}) {
    b.Initializer(name, Tensor::FromVector<float>({16, 16, 3, 3}, PseudoRandom(16 * 16 * 9, 11)));
  }
  onnx::NodeProto& strided = b.Node("Conv", {"s", "w5"}, {"y3"});
  SetAttribute(strided, "strides", std::vector<int64_t>{2, 2});
  SetAttribute(strided, "pads", std::vector<int64_t>{1, 1, 1, 1});
  onnx::NodeProto& dilated = b.Node("Conv", {"s", "w6"}, {"y4"});
  SetAttribute(dilated, "dilations", std::vector<int64_t>{2, 2});
  SetAttribute(dilated, "pads", std::vector<int64_t>{2, 2, 2, 2});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  SessionOptions options;
  options.num_threads = 2;
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, options));
  bool winograd_paths = true;
  for (int64_t batch : {3, 1}) {
    const std::vector<NamedTensor> x = {
        {"x", Tensor::FromVector<float>({batch, 16, 13, 9},
                                        PseudoRandom(batch * 16 * 13 * 9, 8 + batch))}};
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<StepDescription> steps, session->Describe(x));
    winograd_paths = WinogradPathsRun(steps);
    if (winograd_paths) {
      EXPECT_EQ(CountImplementations(steps, "winograd F(2x2,3x3):avx2 fused"), 4);
    }
    OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, session->Run(x));
    ExpectLikeNodeByNode(graph, x, actual);
  }
  if (!winograd_paths) GTEST_SKIP() << kWinogradSkipped;
}

// A bias given as an input keeps such a convolution on oneDNN's direct kernel (the transforms take
// constant biases only): it still builds and computes.
TEST(SessionTest, ConvolutionsWithABiasInputStayDirect) {
  OnnxModelBuilder b;
  b.Input("x", {1, 128, 6, 6}).Input("bias", {128}).Output("y", {});
  b.Initializer("w0", Tensor::FromVector<float>({128, 128, 1, 1}, PseudoRandom(128 * 128, 1)));
  b.Initializer("w1", Tensor::FromVector<float>({128, 128, 3, 3}, PseudoRandom(128 * 128 * 9, 2)));
  b.Node("Conv", {"x", "w0"}, {"c0"});
  SetAttribute(b.Node("Conv", {"c0", "w1", "bias"}, {"y"}), "pads",
               std::vector<int64_t>{1, 1, 1, 1});
  OCTET_ASSERT_OK_AND_ASSIGN(Graph graph, ImportOnnxModel(b.Serialize()));
  OCTET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(graph, {}));
  const std::vector<NamedTensor> inputs = {
      {"x", Tensor::FromVector<float>({1, 128, 6, 6}, PseudoRandom(128 * 36, 3))},
      {"bias", Tensor::FromVector<float>({128}, PseudoRandom(128, 4))}};
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<Tensor> actual, session->Run(inputs));
  const std::vector<Tensor> expected = RunNodeByNode(graph, inputs);
  EXPECT_LT(RelativeError(actual[0].values<float>(), expected[0].values<float>()), 1e-5f);
}

}  // namespace
}  // namespace octet
