// octetd: the Octet quantize-and-serve daemon.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/quant/gptq_rounding.h"
#include "server/octet_server.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:8500", "Address for the gRPC services");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "Address for Prometheus' /metrics");
ABSL_FLAG(std::string, data_dir, "./octet-data", "Folder for the database and stored files");
ABSL_FLAG(int64_t, max_model_bytes, int64_t{1} << 30, "Largest model file accepted");
ABSL_FLAG(int64_t, max_request_bytes, int64_t{64} << 20, "Largest gRPC message accepted");
ABSL_FLAG(int, inference_workers, 1, "Inference computations running at once");
ABSL_FLAG(int, inference_threads, 0,
          "OpenMP threads per inference computation (0: cores / inference_workers)");
ABSL_FLAG(int, max_batch_size, 32,
          "Rows of one dynamically batched computation (1: no batching); a model's own setting "
          "(octet models serving) wins");
ABSL_FLAG(int64_t, max_queue_delay_us, 2000,
          "How long requests that waited for a busy worker may wait further for their batch to "
          "fill; a request that finds a worker idle starts at once");
ABSL_FLAG(int, max_queue_size, 256,
          "ModelInfer requests waiting per model version before RESOURCE_EXHAUSTED");
ABSL_FLAG(double, drift_sample_rate, 0.01,
          "Share of requests to quantized versions also run, after the reply, on the float "
          "version they were made from (drift monitoring, 0 to 1; a model's own setting wins)");
ABSL_FLAG(double, drift_max_per_second, 5,
          "Most requests sampled for drift monitoring per second, over all models (0: no limit)");
ABSL_FLAG(double, drift_max_compute_share, 0.05,
          "Most share of wall time drift shadow runs may compute, 0 to 1 (0: no limit)");
ABSL_FLAG(int64_t, drift_window_seconds, 600,
          "Span of the live figures `octet models drift` shows");
ABSL_FLAG(int, drift_queue_size, 64,
          "Sampled requests waiting for their shadow run; beyond it samples are dropped (counted)");
ABSL_FLAG(int, plan_cache_size, 8, "Execution plans kept per model for distinct input shapes");
ABSL_FLAG(int64_t, max_dataset_bytes, int64_t{1} << 30,
          "Largest dataset accepted (the file, and its arrays once unpacked)");
ABSL_FLAG(int, job_workers, 1, "Quantization jobs running at once");
ABSL_FLAG(int, job_threads, 0,
          "OpenMP threads per quantization job batch (0: as --inference_threads; batches run on "
          "the inference workers)");
ABSL_FLAG(int, job_queue_capacity, 16, "Quantization jobs waiting to run before CreateJob refuses");
ABSL_FLAG(int, job_retry_limit, 3,
          "Times a job is started before a job the server keeps dying in ends FAILED");
ABSL_FLAG(bool, testing_abort_in_calibration, false,
          "Fault injection for crash tests: abort the process in every job's first calibration "
          "batch");
ABSL_FLAG(int, shutdown_grace_seconds, 30, "How long SIGTERM waits for RPCs in flight");
ABSL_FLAG(std::string, ready_file, "",
          "If set, written once serving: 'grpc_port=N' and 'metrics_port=M' lines");

namespace {

// Starts this binary again with the same arguments; returns only if it could not. By its own
// path while that still names this very file, so the process keeps its name for ps, pgrep and
// top (a process started from /proc/self/exe is named "exe"); else through /proc/self/exe.
void ExecAgain(char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  struct stat running, named;
  if (!error && stat("/proc/self/exe", &running) == 0 && stat(self.c_str(), &named) == 0 &&
      running.st_dev == named.st_dev && running.st_ino == named.st_ino) {
    execv(self.c_str(), argv);
  }
  execv("/proc/self/exe", argv);
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS chose its kernels as it loaded: on a CPU newer than the library, SSE3 ones, which
  // make GPTQ's factorisations about 1.4x slower. Only OPENBLAS_CORETYPE, read at load, names
  // others: set it and start again, once (it is then set), as the same process with the same
  // arguments, before octetd has started anything. If that fails, octetd goes on with the
  // kernels it has and its log says so.
  if (const std::string core = octet::LinearAlgebraCoreTypeToSet(); !core.empty()) {
    setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ExecAgain(argv);
    unsetenv("OPENBLAS_CORETYPE");
  }
  absl::SetProgramUsageMessage("Octet: post-training quantization and int8 serving over gRPC");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with Mutex deadlock detection on, a graph update on every lock of
  // every request's path; the unit tests keep it, the daemon does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken by one thread with sigwait; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  octet::server::ServerOptions options;
  options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.max_model_bytes = absl::GetFlag(FLAGS_max_model_bytes);
  options.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  options.inference_workers = absl::GetFlag(FLAGS_inference_workers);
  options.inference_threads = absl::GetFlag(FLAGS_inference_threads);
  options.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.max_queue_delay_us = absl::GetFlag(FLAGS_max_queue_delay_us);
  options.max_queue_size = absl::GetFlag(FLAGS_max_queue_size);
  options.drift_sample_rate = absl::GetFlag(FLAGS_drift_sample_rate);
  options.drift_max_per_second = absl::GetFlag(FLAGS_drift_max_per_second);
  options.drift_max_compute_share = absl::GetFlag(FLAGS_drift_max_compute_share);
  options.drift_window_seconds = absl::GetFlag(FLAGS_drift_window_seconds);
  options.drift_queue_size = absl::GetFlag(FLAGS_drift_queue_size);
  options.max_dataset_bytes = absl::GetFlag(FLAGS_max_dataset_bytes);
  options.job_workers = absl::GetFlag(FLAGS_job_workers);
  options.job_threads = absl::GetFlag(FLAGS_job_threads);
  options.job_queue_capacity = absl::GetFlag(FLAGS_job_queue_capacity);
  options.job_retry_limit = absl::GetFlag(FLAGS_job_retry_limit);
  options.testing_abort_in_calibration = absl::GetFlag(FLAGS_testing_abort_in_calibration);
  if (absl::GetFlag(FLAGS_plan_cache_size) < 1) {
    std::cerr << "octetd: --plan_cache_size must be at least 1\n";
    return 2;
  }
  options.plan_cache_capacity = static_cast<size_t>(absl::GetFlag(FLAGS_plan_cache_size));

  absl::StatusOr<std::unique_ptr<octet::server::OctetServer>> server =
      octet::server::OctetServer::Start(options);
  if (!server.ok()) {
    std::cerr << "octetd: " << server.status().message() << "\n";
    return 1;
  }
  std::cerr << "octetd " << OCTET_VERSION << ": gRPC on port " << (*server)->grpc_port()
            << ", metrics on port " << (*server)->metrics_port() << ", data in " << options.data_dir
            << std::endl;
  if (const std::string advice = octet::LinearAlgebraAdvice(); !advice.empty()) {
    std::cerr << "octetd: " << advice << std::endl;
  }

  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  if (!ready_file.empty()) {
    // Written under a temporary name and renamed, so a reader never sees half of it.
    const std::string temp = ready_file + ".tmp";
    std::ofstream(temp) << "grpc_port=" << (*server)->grpc_port()
                        << "\nmetrics_port=" << (*server)->metrics_port() << "\n";
    std::rename(temp.c_str(), ready_file.c_str());
  }

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::cerr << "octetd: signal " << signal << ", re-queueing running jobs and draining RPCs"
              << std::endl;
    (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  });
  (*server)->Wait();
  signal_thread.join();
  std::cerr << "octetd: stopped" << std::endl;
  return 0;
}
