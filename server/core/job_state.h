// The vocabulary of a quantization job's life shared by the queue and the executor: state names,
// the stages with their words and their share of the progress bar, timestamps.
#ifndef OCTET_SERVER_CORE_JOB_STATE_H_
#define OCTET_SERVER_CORE_JOB_STATE_H_

#include <string>

#include "engine/quant/post_training_quantizer.h"
#include "google/protobuf/timestamp.pb.h"
#include "octet/v1/quantization_service.pb.h"

namespace octet::server {

// "QUEUED" for JOB_STATE_QUEUED, and so on.
std::string JobStateName(octet::v1::JobState state);
bool IsTerminal(octet::v1::JobState state);

// The job stage of an engine stage.
octet::v1::JobStage StageOf(QuantizationStage stage);
// What the job is doing in `stage`, for progress messages and errors ("calibrating activation
// ranges").
std::string StageText(octet::v1::JobStage stage);
// The share of the whole job done when `stage` starts and when it ends: calibration dominates,
// evaluation follows.
double StageStart(octet::v1::JobStage stage);
double StageEnd(octet::v1::JobStage stage);

google::protobuf::Timestamp Now();
// Seconds from `from` to `to`.
double Seconds(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to);

}  // namespace octet::server

#endif  // OCTET_SERVER_CORE_JOB_STATE_H_
