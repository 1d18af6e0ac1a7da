#include "server/services/tensor_conversion.h"

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::server {
namespace {

using ::octet::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

inference::ModelInferRequest::InferInputTensor* AddInput(inference::ModelInferRequest& request,
                                                         const std::string& name,
                                                         const std::string& datatype,
                                                         std::vector<int64_t> shape) {
  auto* input = request.add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t d : shape) input->add_shape(d);
  return input;
}

TEST(TensorConversionTest, ReadsRawAndTypedContents) {
  inference::ModelInferRequest raw;
  AddInput(raw, "x", "FP32", {2});
  const float values[2] = {1.5f, -2.0f};
  raw.add_raw_input_contents(reinterpret_cast<const char*>(values), sizeof(values));
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<NamedTensor> a, InputsFromRequest(raw));
  EXPECT_THAT(a[0].second.values<float>(), ElementsAre(1.5f, -2.0f));

  inference::ModelInferRequest typed;
  auto* ids = AddInput(typed, "ids", "INT64", {1, 3});
  for (int64_t v : {7, 8, 9}) ids->mutable_contents()->add_int64_contents(v);
  auto* pixels = AddInput(typed, "pixels", "UINT8", {2});
  for (uint32_t v : {0u, 255u}) pixels->mutable_contents()->add_uint_contents(v);
  OCTET_ASSERT_OK_AND_ASSIGN(std::vector<NamedTensor> b, InputsFromRequest(typed));
  EXPECT_THAT(b[0].second.values<int64_t>(), ElementsAre(7, 8, 9));
  EXPECT_THAT(b[0].second.shape(), ElementsAre(1, 3));
  EXPECT_THAT(b[1].second.values<uint8_t>(), ElementsAre(0, 255));
}

TEST(TensorConversionTest, RefusesSizesThatDoNotMatchTheShapeBeforeAllocating) {
  inference::ModelInferRequest request;
  AddInput(request, "x", "FP32", {1000000000, 1000});
  request.add_raw_input_contents(std::string(8, '\0'));
  EXPECT_THAT(InputsFromRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("input 'x' raw_input_contents[0] has 8 bytes")));
}

TEST(TensorConversionTest, RefusesMalformedInputsNamingThem) {
  {
    inference::ModelInferRequest r;
    AddInput(r, "x", "FLOAT", {1});
    EXPECT_THAT(InputsFromRequest(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("unknown datatype 'FLOAT'")));
  }
  {
    inference::ModelInferRequest r;
    AddInput(r, "x", "FP32", {-3});
    EXPECT_THAT(InputsFromRequest(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("input 'x' shape: negative dimension")));
  }
  {
    inference::ModelInferRequest r;
    AddInput(r, "x", "FP32", {3})->mutable_contents()->add_fp32_contents(1);
    EXPECT_THAT(InputsFromRequest(r),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("contents.fp32_contents holds 1 values, shape [3] needs 3")));
  }
  {
    inference::ModelInferRequest r;
    AddInput(r, "x", "INT8", {1})->mutable_contents()->add_int_contents(300);
    EXPECT_THAT(InputsFromRequest(r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("= 300 is out of range")));
  }
  {
    inference::ModelInferRequest r;
    AddInput(r, "x", "FP32", {1});
    AddInput(r, "y", "FP32", {1});
    r.add_raw_input_contents(std::string(4, '\0'));
    EXPECT_THAT(InputsFromRequest(r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 entries for 2 inputs")));
  }
}

TEST(TensorConversionTest, OutputsGoToRawContents) {
  inference::ModelInferResponse response;
  AddOutput("y", Tensor::FromVector<int64_t>({2}, {3, 4}), &response);
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).datatype(), "INT64");
  EXPECT_THAT(response.outputs(0).shape(), ElementsAre(2));
  ASSERT_EQ(response.raw_output_contents_size(), 1);
  EXPECT_EQ(response.raw_output_contents(0).size(), 16u);
}

}  // namespace
}  // namespace octet::server
