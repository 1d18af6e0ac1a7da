#include "server/services/quantization_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/services/grpc_status.h"
#include "server/services/request_checks.h"

namespace octet::server {
namespace {

// How often a watcher with nothing new checks whether its client is still there.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(500);

}  // namespace

grpc::Status QuantizationServiceImpl::CreateJob(grpc::ServerContext*,
                                                const octet::v1::CreateJobRequest* request,
                                                octet::v1::Job* response) {
  return Respond(runner_->Create(*request), response);
}

grpc::Status QuantizationServiceImpl::GetJob(grpc::ServerContext*,
                                             const octet::v1::GetJobRequest* request,
                                             octet::v1::Job* response) {
  if (request->id().empty()) return InvalidArgument("id is empty");
  return Respond(runner_->Get(request->id()), response);
}

grpc::Status QuantizationServiceImpl::ListJobs(grpc::ServerContext*,
                                               const octet::v1::ListJobsRequest* request,
                                               octet::v1::ListJobsResponse* response) {
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  if (!octet::v1::JobState_IsValid(request->state())) {
    return InvalidArgument(absl::StrCat("state has the unknown value ", request->state()));
  }
  absl::StatusOr<JobStore::Page> page =
      jobs_->List(request->model(), request->state(), *page_size, request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (octet::v1::Job& job : page->jobs) *response->add_jobs() = std::move(job);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status QuantizationServiceImpl::CancelJob(grpc::ServerContext*,
                                                const octet::v1::CancelJobRequest* request,
                                                octet::v1::Job* response) {
  if (request->id().empty()) return InvalidArgument("id is empty");
  return Respond(runner_->Cancel(request->id()), response);
}

grpc::Status QuantizationServiceImpl::WatchJob(grpc::ServerContext* context,
                                               const octet::v1::WatchJobRequest* request,
                                               grpc::ServerWriter<octet::v1::Job>* writer) {
  if (request->id().empty()) return InvalidArgument("id is empty");
  int64_t revision = 0;
  int64_t sent = -1;
  while (!context->IsCancelled()) {
    absl::StatusOr<octet::v1::Job> job =
        runner_->Watch(request->id(), &revision, absl::Now() + kWatchPoll);
    if (!job.ok()) return ToGrpcStatus(job.status());
    if (revision != sent) {
      if (!writer->Write(*job)) return grpc::Status::OK;  // the client went away
      sent = revision;
    }
    if (IsTerminal(job->state())) return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the watch");
}

}  // namespace octet::server
