// A real Prometheus server on loopback scraping one target every second, for metrics tests.
#ifndef OCTET_TESTS_TESTING_PROMETHEUS_PROCESS_H_
#define OCTET_TESTS_TESTING_PROMETHEUS_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

namespace octet::testing {

inline constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

// Started in the constructor (its storage and log in `dir`), stopped in the destructor.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& dir, int scrape_port);
  ~PrometheusProcess();

  // The value of the instant query's first sample, once it equals `expected` (polling), or the
  // last value seen after `timeout` (-1 when none).
  double WaitForValue(const std::string& query, double expected, std::chrono::seconds timeout);
  // The value of the instant query's first sample now, if any.
  std::optional<double> Query(const std::string& query);

 private:
  int port_;
  pid_t pid_;
};

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_PROMETHEUS_PROCESS_H_
