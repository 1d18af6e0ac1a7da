#ifndef OCTET_TESTS_TESTING_OCTETD_PROCESS_H_
#define OCTET_TESTS_TESTING_OCTETD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace octet::testing {

// A real octetd process on loopback with ephemeral ports, for integration tests.
class OctetdProcess {
 public:
  // Starts `binary` on `data_dir` with `extra_flags` and waits until it serves.
  static absl::StatusOr<std::unique_ptr<OctetdProcess>> Start(
      const std::string& binary, const std::string& data_dir,
      const std::vector<std::string>& extra_flags = {});
  // Kills the process if it still runs.
  ~OctetdProcess();

  // Sends `signal` and waits for the exit; returns the exit code (128 + signal if killed).
  int Stop(int signal);
  // True while the process has not exited. Once it has, its exit is recorded (and the pid is
  // never signalled again).
  bool Running();
  // "running", or how the process ended ("exited with 1", "killed by signal 11").
  std::string State();

  std::string target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }

 private:
  OctetdProcess(pid_t pid, int grpc_port, int metrics_port)
      : pid_(pid), grpc_port_(grpc_port), metrics_port_(metrics_port) {}

  pid_t pid_;
  int exit_status_ = -1;  // waitpid's status once reaped
  int grpc_port_;
  int metrics_port_;
};

// GET http://127.0.0.1:port/path; the body, or an error.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// The value of the sample `name{...}` whose labels include every `label="value"` in `labels`,
// or 0 when no such sample exists.
double MetricValue(const std::string& exposition, const std::string& name,
                   const std::vector<std::string>& labels);

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_OCTETD_PROCESS_H_
