#include "server/core/job_state.h"

#include <cstdint>

#include "absl/time/clock.h"

namespace octet::server {

namespace v1 = octet::v1;

google::protobuf::Timestamp Now() {
  const int64_t ms = absl::ToUnixMillis(absl::Now());
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return t;
}

double Seconds(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to) {
  return static_cast<double>(to.seconds() - from.seconds()) +
         static_cast<double>(to.nanos() - from.nanos()) * 1e-9;
}

v1::JobStage StageOf(QuantizationStage stage) {
  switch (stage) {
    case QuantizationStage::kPrepare:
      return v1::JOB_STAGE_PREPARE;
    case QuantizationStage::kCalibrate:
      return v1::JOB_STAGE_CALIBRATE;
    case QuantizationStage::kQuantize:
      return v1::JOB_STAGE_QUANTIZE;
    case QuantizationStage::kEvaluate:
      return v1::JOB_STAGE_EVALUATE;
    case QuantizationStage::kExport:
      return v1::JOB_STAGE_EXPORT;
  }
  return v1::JOB_STAGE_UNSPECIFIED;
}

double StageEnd(v1::JobStage stage) {
  switch (stage) {
    case v1::JOB_STAGE_PREPARE:
      return 0.05;
    case v1::JOB_STAGE_CALIBRATE:
      return 0.6;
    case v1::JOB_STAGE_QUANTIZE:
      return 0.65;
    case v1::JOB_STAGE_EVALUATE:
      return 0.9;
    case v1::JOB_STAGE_EXPORT:
      return 0.95;
    default:
      return 1.0;
  }
}

double StageStart(v1::JobStage stage) {
  return stage == v1::JOB_STAGE_PREPARE ? 0.0 : StageEnd(static_cast<v1::JobStage>(stage - 1));
}

std::string StageText(v1::JobStage stage) {
  switch (stage) {
    case v1::JOB_STAGE_PREPARE:
      return "preparing the model";
    case v1::JOB_STAGE_CALIBRATE:
      return "calibrating activation ranges";
    case v1::JOB_STAGE_QUANTIZE:
      return "quantizing weights and inserting QDQ";
    case v1::JOB_STAGE_EVALUATE:
      return "evaluating float vs quantized";
    case v1::JOB_STAGE_EXPORT:
      return "exporting the QDQ model and report";
    case v1::JOB_STAGE_STORE:
      return "storing the artifact";
    default:
      return "";
  }
}

std::string JobStateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  return name.substr(std::string("JOB_STATE_").size());
}

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

}  // namespace octet::server
