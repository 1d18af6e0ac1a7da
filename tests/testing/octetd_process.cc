#include "tests/testing/octetd_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace octet::testing {

absl::StatusOr<std::unique_ptr<OctetdProcess>> OctetdProcess::Start(
    const std::string& binary, const std::string& data_dir,
    const std::vector<std::string>& extra_flags) {
  const std::string ready_file = data_dir + ".ready";
  std::remove(ready_file.c_str());
  std::vector<std::string> args = {binary,
                                   "--grpc_address=127.0.0.1:0",
                                   "--metrics_address=127.0.0.1:0",
                                   "--data_dir=" + data_dir,
                                   "--ready_file=" + ready_file,
                                   "--shutdown_grace_seconds=5"};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return absl::InternalError(absl::StrCat("octetd exited during start with status ", status));
    }
    std::ifstream in(ready_file);
    std::string line;
    int grpc_port = 0, metrics_port = 0;
    while (std::getline(in, line)) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
      if (kv.first == "grpc_port") (void)absl::SimpleAtoi(kv.second, &grpc_port);
      if (kv.first == "metrics_port") (void)absl::SimpleAtoi(kv.second, &metrics_port);
    }
    if (grpc_port > 0 && metrics_port > 0) {
      return std::unique_ptr<OctetdProcess>(new OctetdProcess(pid, grpc_port, metrics_port));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return absl::DeadlineExceededError("octetd did not become ready within 30 s");
}

OctetdProcess::~OctetdProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

int OctetdProcess::Stop(int signal) {
  if (pid_ > 0) {
    kill(pid_, signal);
    waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
  }
  if (exit_status_ < 0) return -1;
  return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : 128 + WTERMSIG(exit_status_);
}

bool OctetdProcess::Running() {
  if (pid_ <= 0) return false;
  if (waitpid(pid_, &exit_status_, WNOHANG) == 0) return true;
  pid_ = -1;
  return false;
}

std::string OctetdProcess::State() {
  if (Running()) return "running";
  if (exit_status_ < 0) return "not started";
  if (WIFSIGNALED(exit_status_)) return absl::StrCat("killed by signal ", WTERMSIG(exit_status_));
  return absl::StrCat("exited with ", WEXITSTATUS(exit_status_));
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") || body == std::string::npos) {
    return absl::DataLossError("malformed HTTP response");
  }
  return response.substr(body + 4);
}

double MetricValue(const std::string& exposition, const std::string& name,
                   const std::vector<std::string>& labels) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, name + "{") && !absl::StartsWith(line, name + " ")) continue;
    bool all = true;
    for (const std::string& label : labels) all = all && absl::StrContains(line, label);
    if (!all) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) return value;
  }
  return 0;
}

}  // namespace octet::testing
