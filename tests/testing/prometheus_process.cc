#include "tests/testing/prometheus_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/octetd_process.h"

namespace octet::testing {
namespace {

// A port that was free a moment ago (Prometheus cannot report one it picked itself).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string UrlEncode(const std::string& text) {
  std::string encoded;
  for (char c : text) {
    if (isalnum(static_cast<unsigned char>(c)) || c == '_') {
      encoded += c;
    } else {
      char hex[4];
      snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
      encoded += hex;
    }
  }
  return encoded;
}

}  // namespace

PrometheusProcess::PrometheusProcess(const std::string& dir, int scrape_port) : port_(FreePort()) {
  const std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        << "  - job_name: octetd\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << scrape_port << "']\n";
  const std::string log = dir + "/prometheus.log";
  pid_ = fork();
  if (pid_ == 0) {
    freopen(log.c_str(), "w", stdout);
    freopen(log.c_str(), "w", stderr);
    execl(kPrometheusBinary, kPrometheusBinary, ("--config.file=" + config).c_str(),
          ("--storage.tsdb.path=" + dir + "/tsdb").c_str(),
          ("--web.listen-address=127.0.0.1:" + std::to_string(port_)).c_str(), nullptr);
    _exit(127);
  }
}

PrometheusProcess::~PrometheusProcess() {
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
}

std::optional<double> PrometheusProcess::Query(const std::string& query) {
  absl::StatusOr<std::string> body = HttpGet(port_, "/api/v1/query?query=" + UrlEncode(query));
  if (!body.ok()) return std::nullopt;
  const nlohmann::json reply = nlohmann::json::parse(*body, nullptr, false);
  if (reply.is_discarded() || reply.value("status", "") != "success" ||
      reply["data"]["result"].empty()) {
    return std::nullopt;
  }
  return std::stod(reply["data"]["result"][0]["value"][1].get<std::string>());
}

double PrometheusProcess::WaitForValue(const std::string& query, double expected,
                                       std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  double value = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const std::optional<double> seen = Query(query); seen.has_value()) {
      value = *seen;
      if (value == expected) return value;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return value;
}

}  // namespace octet::testing
