#ifndef OCTET_SERVER_SERVICES_QUANTIZATION_SERVICE_H_
#define OCTET_SERVER_SERVICES_QUANTIZATION_SERVICE_H_

#include "octet/v1/quantization_service.grpc.pb.h"
#include "server/core/job_runner.h"

namespace octet::server {

// octet.v1.QuantizationService over a JobRunner. Thread-safe.
class QuantizationServiceImpl final : public octet::v1::QuantizationService::Service {
 public:
  QuantizationServiceImpl(JobRunner* runner, JobStore* jobs) : runner_(runner), jobs_(jobs) {}

  grpc::Status CreateJob(grpc::ServerContext* context, const octet::v1::CreateJobRequest* request,
                         octet::v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const octet::v1::GetJobRequest* request,
                      octet::v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const octet::v1::ListJobsRequest* request,
                        octet::v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const octet::v1::CancelJobRequest* request,
                         octet::v1::Job* response) override;
  // Sends the job now and at every change until it ends, the client goes away or the server
  // shuts down.
  grpc::Status WatchJob(grpc::ServerContext* context, const octet::v1::WatchJobRequest* request,
                        grpc::ServerWriter<octet::v1::Job>* writer) override;

 private:
  JobRunner* const runner_;
  JobStore* const jobs_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_SERVICES_QUANTIZATION_SERVICE_H_
