#include "server/core/drift_monitor.h"

#include <algorithm>

#include "engine/base/status_matchers.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/quant/post_training_quantizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/core/version_drift.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet::server {
namespace {

using ::octet::testing::IsOk;
using ::octet::testing::PseudoRandom;
using ::octet::testing::TinyCnn;

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

TEST(SampleGateTest, AdmitsTheRatesShareAndNothingAtRateZero) {
  SampleGate unlimited(0);
  EXPECT_TRUE(unlimited.Admit(0.25, 0.0, kStart));
  EXPECT_TRUE(unlimited.Admit(0.25, 0.2499, kStart));
  EXPECT_FALSE(unlimited.Admit(0.25, 0.25, kStart));
  EXPECT_FALSE(unlimited.Admit(0.0, 0.0, kStart));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(unlimited.Admit(1.0, 0.999, kStart));
}

TEST(SampleGateTest, AdmitsAtMostTheLimitPerSecondWithOneSecondsBurst) {
  SampleGate gate(2);
  EXPECT_TRUE(gate.Admit(1.0, 0.5, kStart));
  EXPECT_TRUE(gate.Admit(1.0, 0.5, kStart));
  EXPECT_FALSE(gate.Admit(1.0, 0.5, kStart));
  // Half a second refills one sample.
  EXPECT_TRUE(gate.Admit(1.0, 0.5, kStart + absl::Milliseconds(500)));
  EXPECT_FALSE(gate.Admit(1.0, 0.5, kStart + absl::Milliseconds(500)));
  // A long pause refills one second's worth, no more.
  const absl::Time later = kStart + absl::Seconds(60);
  EXPECT_TRUE(gate.Admit(1.0, 0.5, later));
  EXPECT_TRUE(gate.Admit(1.0, 0.5, later));
  EXPECT_FALSE(gate.Admit(1.0, 0.5, later));
  // A request not drawn does not use the budget.
  SampleGate slow(0.5);
  EXPECT_FALSE(slow.Admit(0.1, 0.5, kStart));
  EXPECT_TRUE(slow.Admit(0.1, 0.05, kStart));  // a budget of at least one sample
  EXPECT_FALSE(slow.Admit(0.1, 0.05, kStart + absl::Seconds(1)));
  EXPECT_TRUE(slow.Admit(0.1, 0.05, kStart + absl::Seconds(2)));
}

TEST(SampleGateTest, KeepsShadowComputationWithinItsShareOfWallTime) {
  SampleGate gate(/*max_per_second=*/0, /*max_compute_share=*/0.1);
  EXPECT_TRUE(gate.Admit(1.0, 0.5, kStart));  // a credit of 0.1 s to start
  gate.Charge(absl::Milliseconds(300), kStart);
  EXPECT_FALSE(gate.Admit(1.0, 0.5, kStart));
  // 0.1 s of credit per second of wall time: -0.2 s + 1 s * 0.1 is still in debt.
  EXPECT_FALSE(gate.Admit(1.0, 0.5, kStart + absl::Seconds(1)));
  EXPECT_TRUE(gate.Admit(1.0, 0.5, kStart + absl::Seconds(3)));
  // The credit holds one second's worth, however long the pause.
  gate.Charge(absl::Milliseconds(150), kStart + absl::Seconds(100));
  EXPECT_FALSE(gate.Admit(1.0, 0.5, kStart + absl::Seconds(100)));
}

Tensor Images(int64_t count, uint32_t seed, float scale = 1.0f) {
  std::vector<float> values = PseudoRandom(static_cast<size_t>(count) * 64, seed);
  for (float& v : values) v = scale * (v + 1.0f) / 2.0f;  // [0, scale)
  return Tensor::FromVector<float>({count, 1, 8, 8}, values);
}

// TinyCnn, quantized by a job's engine on random images, with the versions a server would hold.
class VersionDriftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = TinyCnn().Serialize();
    SampleSet calibration;
    calibration.inputs.emplace_back("image", Images(96, 5));
    QuantizationRequest request;
    request.model = model;
    request.calibration = &calibration;
    request.octet_version = "test";
    OCTET_ASSERT_OK_AND_ASSIGN(QuantizationResult result, QuantizeModel(request));
    report_json_ = result.report_json;
    OCTET_ASSERT_OK_AND_ASSIGN(quantized_, ImportOnnxModel(result.model));
    OCTET_ASSERT_OK_AND_ASSIGN(source_, ImportOnnxModel(model));
    OCTET_ASSERT_OK_AND_ASSIGN(served_, Session::Create(quantized_, {}));
    OCTET_ASSERT_OK_AND_ASSIGN(float_, Session::Create(source_, {}));
  }

  std::unique_ptr<VersionDrift> Create(DriftMetrics* metrics = nullptr,
                                       absl::Duration window = absl::Minutes(10)) {
    VersionDriftSetup setup;
    setup.version.set_name("tiny");
    setup.version.set_version(2);
    setup.version.set_source_version(1);
    setup.quantized = &quantized_;
    setup.source = &source_;
    setup.report_json = report_json_;
    setup.window = window;
    setup.metrics = metrics;
    absl::StatusOr<std::unique_ptr<VersionDrift>> drift = VersionDrift::Create(setup);
    EXPECT_THAT(drift, IsOk());
    return drift.ok() ? *std::move(drift) : nullptr;
  }

  // Serves `images` on the int8 version and records them as a sampled request.
  void Observe(VersionDrift& drift, const Tensor& images, absl::Time now) {
    const std::vector<NamedTensor> inputs = {{"image", images}};
    absl::StatusOr<std::vector<Tensor>> outputs = served_->Run(inputs);
    ASSERT_THAT(outputs, IsOk());
    ASSERT_THAT(drift.Observe(inputs, {{"logits", (*outputs)[0]}}, *served_, now), IsOk());
  }

  std::string report_json_;
  Graph quantized_, source_;
  std::unique_ptr<Session> served_, float_;
};

int64_t Agreements(const Tensor& a, const Tensor& b) {
  int64_t agree = 0;
  for (int64_t r = 0; r < a.dim(0); ++r) {
    const float* x = a.data<float>() + r * a.dim(1);
    const float* y = b.data<float>() + r * b.dim(1);
    agree += std::max_element(x, x + a.dim(1)) - x == std::max_element(y, y + b.dim(1)) - y;
  }
  return agree;
}

TEST_F(VersionDriftTest, CountsEveryRowAndValueOfASampledRequest) {
  std::unique_ptr<VersionDrift> drift = Create();
  ASSERT_NE(drift, nullptr);
  const Tensor images = Images(6, 11);
  Observe(*drift, images, kStart);
  const octet::v1::DriftReport report = drift->Report(kStart + absl::Seconds(1));
  EXPECT_EQ(report.source_version(), 1);
  EXPECT_EQ(report.compared_output(), "logits");
  EXPECT_EQ(report.live().samples(), 6);
  const auto int8 = served_->Run({{"image", images}});
  const auto fp32 = float_->Run({{"image", images}});
  ASSERT_TRUE(int8.ok() && fp32.ok());
  EXPECT_EQ(report.live().top1_agreements(), Agreements((*int8)[0], (*fp32)[0]));
  EXPECT_GT(report.live().mean_sqnr_db(), 10.0);
  EXPECT_GE(report.live().mean_sqnr_db(), report.live().min_sqnr_db());
  EXPECT_LE(report.live().mean_cosine(), 1.0);
  ASSERT_EQ(report.inputs_size(), 1);
  EXPECT_EQ(report.inputs(0).name(), "image");
  EXPECT_EQ(report.inputs(0).values(), 6 * 64);
  EXPECT_EQ(report.inputs(0).range_source(), "quantization");
  EXPECT_TRUE(report.inputs(0).has_psi());
  // Every quantized activation but the image: the ReLU, the residual sum, the flattened vector
  // and the logits, each with all its values.
  ASSERT_GE(report.tensors_size(), 3);
  for (const auto& t : report.tensors()) {
    EXPECT_GT(t.values(), 0) << t.name();
    EXPECT_EQ(t.values() % 6, 0) << t.name();
    EXPECT_GT(t.evaluation_values(), 0) << t.name();  // the job's, from report.json
  }
  EXPECT_TRUE(report.has_offline());
  EXPECT_GT(report.offline().samples(), 0);
  EXPECT_EQ(report.window_seconds(), 1.0);
}

TEST_F(VersionDriftTest, InputsOutsideTheCalibratedRangeAreCountedAndRaiseTheDistance) {
  std::unique_ptr<VersionDrift> drift = Create();
  ASSERT_NE(drift, nullptr);
  Observe(*drift, Images(16, 12), kStart);
  const octet::v1::DriftReport normal = drift->Report(kStart);
  const Tensor bright = Images(16, 13, /*scale=*/5.0f);
  Observe(*drift, bright, kStart);
  const octet::v1::DriftReport shifted = drift->Report(kStart);
  const float max = shifted.inputs(0).range_max();
  int64_t above = 0;
  for (float v : bright.values<float>()) above += v > max;
  EXPECT_EQ(shifted.inputs(0).out_of_range() - normal.inputs(0).out_of_range(), above);
  EXPECT_GT(above, 16 * 64 / 2);
  EXPECT_LT(normal.inputs(0).psi(), 0.1);
  EXPECT_GT(shifted.inputs(0).psi(), 0.25);
  // The worst activation comes first.
  const auto& worst = shifted.tensors(0);
  for (const auto& t : shifted.tensors()) {
    EXPECT_LE(static_cast<double>(t.out_of_range()) / t.values(),
              static_cast<double>(worst.out_of_range()) / worst.values());
  }
  EXPECT_GT(worst.observed_max(), worst.range_max());
}

TEST_F(VersionDriftTest, AReportOfTheWrongShapeIsRefusedNotTrusted) {
  for (const std::string report :
       {"[1, 2]", "{\"drift_reference\": {\"inputs\": [{\"name\": 3, \"range\": [0, 1]}]}}",
        "{\"drift_reference\": {\"inputs\": [{\"name\": \"image\", \"range\": [0, 1]}]}}",
        "{\"drift_reference\": {\"tensors\": [{\"name\": \"r1\", \"values\": \"many\"}]}}",
        "{\"drift_reference\": {\"tensors\": [7]}}", "not json"}) {
    report_json_ = report;
    VersionDriftSetup setup;
    setup.quantized = &quantized_;
    setup.source = &source_;
    setup.report_json = report_json_;
    EXPECT_THAT(VersionDrift::Create(setup),
                octet::testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << report;
  }
  // Missing parts are not errors: the monitor runs without them.
  report_json_ = "{\"drift_reference\": {\"inputs\": 5}, \"evaluation\": []}";
  std::unique_ptr<VersionDrift> drift = Create();
  ASSERT_NE(drift, nullptr);
  EXPECT_FALSE(drift->Report(kStart).has_offline());
}

TEST_F(VersionDriftTest, FiguresOlderThanTheWindowLeaveIt) {
  std::unique_ptr<VersionDrift> drift = Create(nullptr, absl::Seconds(10));
  ASSERT_NE(drift, nullptr);
  Observe(*drift, Images(4, 1), kStart);
  Observe(*drift, Images(3, 2), kStart + absl::Seconds(5));
  EXPECT_EQ(drift->Report(kStart + absl::Seconds(9)).live().samples(), 7);
  // Ten buckets of a second: the first falls out once its second is past the window.
  const octet::v1::DriftReport later = drift->Report(kStart + absl::Seconds(11));
  EXPECT_EQ(later.live().samples(), 3);
  EXPECT_EQ(later.inputs(0).values(), 3 * 64);
  EXPECT_EQ(later.window_seconds(), 6.0);
  Observe(*drift, Images(2, 3), kStart + absl::Seconds(30));
  EXPECT_EQ(drift->Report(kStart + absl::Seconds(30)).live().samples(), 2);
}

// The series of `family` in `registry` (every label set).
size_t SeriesOf(prometheus::Registry& registry, const std::string& family) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name == family) return f.metric.size();
  }
  return 0;
}

TEST_F(VersionDriftTest, FeedsItsPrometheusSeriesUntilDetached) {
  prometheus::Registry registry;
  DriftMetrics metrics(registry);
  std::unique_ptr<VersionDrift> drift = Create(&metrics);
  ASSERT_NE(drift, nullptr);
  Observe(*drift, Images(5, 4), kStart);
  drift->CountDropped("queue_full");
  drift->CountDropped("failed", "boom");
  EXPECT_EQ(SeriesOf(registry, "octet_drift_samples_total"), 1u);
  EXPECT_EQ(SeriesOf(registry, "octet_drift_samples_dropped_total"), 2u);
  EXPECT_EQ(SeriesOf(registry, "octet_calibration_input_psi"), 1u);
  EXPECT_EQ(SeriesOf(registry, "octet_drift_offline_top1_agreement"), 1u);
  // Labelled float and quantized top-1 come only from labelled evaluation data.
  EXPECT_EQ(SeriesOf(registry, "octet_drift_offline_float_top1"), 0u);
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name == "octet_drift_samples_total") {
      EXPECT_EQ(f.metric[0].counter.value, 5);
    }
    if (f.name == "octet_calibration_values_total") {
      EXPECT_EQ(f.metric[0].counter.value, 5 * 64);
    }
  }
  const octet::v1::DriftReport report = drift->Report(kStart);
  EXPECT_EQ(report.dropped_queue_full(), 1);
  EXPECT_EQ(report.dropped_failed(), 1);
  EXPECT_THAT(report.notes(), ::testing::Contains(::testing::HasSubstr("boom")));
  drift->Detach();
  for (const char* family : {"octet_drift_samples_total", "octet_drift_top1_agreements_total",
                             "octet_drift_output_sqnr_db", "octet_drift_samples_dropped_total",
                             "octet_calibration_values_total", "octet_calibration_input_psi",
                             "octet_drift_offline_top1_agreement"}) {
    EXPECT_EQ(SeriesOf(registry, family), 0u) << family;
  }
  // Observations after Detach feed the report only.
  Observe(*drift, Images(2, 5), kStart);
  EXPECT_EQ(drift->Report(kStart).live().samples(), 7);
  EXPECT_EQ(SeriesOf(registry, "octet_drift_samples_total"), 0u);
}

TEST(ClampedSqnrTest, KeepsIdenticalAndOppositeRowsFinite) {
  EXPECT_EQ(ClampedSqnrDb(std::numeric_limits<double>::infinity()), 100.0);
  EXPECT_EQ(ClampedSqnrDb(-std::numeric_limits<double>::infinity()), -100.0);
  EXPECT_EQ(ClampedSqnrDb(23.5), 23.5);
}

}  // namespace
}  // namespace octet::server
