#include "client/load_generator.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <numeric>
#include <sstream>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "inference/open_inference_grpc.grpc.pb.h"

namespace octet::client {
namespace {

using Clock = std::chrono::steady_clock;

inference::ModelInferRequest MakeRequest(const LoadOptions& options) {
  inference::ModelInferRequest request;
  request.set_model_name(options.model);
  if (options.version > 0) request.set_model_version(absl::StrCat(options.version));
  for (const auto& [name, tensor] : options.inputs) {
    auto* input = request.add_inputs();
    input->set_name(name);
    input->set_datatype(std::string(KserveName(tensor.type())));
    for (int64_t d : tensor.shape()) input->add_shape(d);
    request.add_raw_input_contents(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
  }
  return request;
}

// One closed loop of requests: it sends the next when an answer arrives, until the load ends.
struct Loop {
  // The call in flight's context, and the previous call's, which its own callback was running
  // on when the next call was sent (freed one call later).
  std::unique_ptr<grpc::ClientContext> context, previous;
  inference::ModelInferResponse response;
  Clock::time_point sent;
  bool counted = false;
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> errors_by_code;
  std::string first_error, served_version;
  Clock::time_point last_done;
};

class LoadRun {
 public:
  LoadRun(const std::shared_ptr<grpc::Channel>& channel, const LoadOptions& options)
      : stub_(inference::GRPCInferenceService::NewStub(channel)),
        options_(options),
        request_(MakeRequest(options)),
        loops_(options.concurrency) {}

  LoadResult Run() {
    start_ = Clock::now();
    counted_from_ = start_ + absl::ToChronoNanoseconds(options_.warmup);
    end_ = counted_from_ + absl::ToChronoNanoseconds(options_.duration);
    {
      absl::MutexLock lock(&mu_);
      active_ = options_.concurrency;
    }
    for (Loop& loop : loops_) Send(loop);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* active) { return *active == 0; }, &active_));
    return Summarize();
  }

 private:
  // Sends the loop's next request, or ends the loop when the load is over.
  void Send(Loop& loop) {
    const Clock::time_point now = Clock::now();
    loop.counted = now >= counted_from_;
    if (now >= end_ || (loop.counted && options_.max_requests > 0 &&
                        counted_sent_.fetch_add(1) >= options_.max_requests)) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    loop.previous = std::move(loop.context);
    loop.context = std::make_unique<grpc::ClientContext>();
    if (options_.timeout != absl::InfiniteDuration()) {
      loop.context->set_deadline(std::chrono::system_clock::now() +
                                 absl::ToChronoNanoseconds(options_.timeout));
    }
    loop.response.Clear();
    loop.sent = now;
    stub_->async()->ModelInfer(loop.context.get(), &request_, &loop.response,
                               [this, &loop](grpc::Status status) { Done(loop, status); });
  }

  void Done(Loop& loop, const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    if (loop.counted) {
      loop.last_done = now;
      if (status.ok()) {
        loop.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(now - loop.sent).count());
        if (loop.served_version.empty()) loop.served_version = loop.response.model_version();
      } else {
        ++loop.errors_by_code[absl::StatusCodeToString(
            static_cast<absl::StatusCode>(status.error_code()))];
        if (loop.first_error.empty()) loop.first_error = status.error_message();
      }
    } else if (loop.served_version.empty() && status.ok()) {
      loop.served_version = loop.response.model_version();
    }
    Send(loop);
  }

  LoadResult Summarize() const {
    LoadResult result;
    result.concurrency = options_.concurrency;
    result.rows_per_request = options_.inputs.empty() || options_.inputs.front().second.rank() == 0
                                  ? 1
                                  : options_.inputs.front().second.dim(0);
    std::vector<double> latencies;
    Clock::time_point last = counted_from_;
    for (const Loop& loop : loops_) {
      latencies.insert(latencies.end(), loop.latencies_ms.begin(), loop.latencies_ms.end());
      for (const auto& [code, count] : loop.errors_by_code) {
        result.errors_by_code[code] += count;
        result.errors += count;
      }
      if (result.first_error.empty()) result.first_error = loop.first_error;
      if (result.served_version.empty()) result.served_version = loop.served_version;
      last = std::max(last, loop.last_done);
    }
    result.ok = static_cast<int64_t>(latencies.size());
    result.seconds = std::chrono::duration<double>(last - counted_from_).count();
    if (!latencies.empty()) {
      std::sort(latencies.begin(), latencies.end());
      auto at = [&](double q) {
        const size_t i = static_cast<size_t>(std::ceil(q * latencies.size())) - 1;
        return latencies[std::min(i, latencies.size() - 1)];
      };
      result.p50_ms = at(0.50);
      result.p90_ms = at(0.90);
      result.p99_ms = at(0.99);
      result.max_ms = latencies.back();
      result.mean_ms = std::accumulate(latencies.begin(), latencies.end(), 0.0) / latencies.size();
    }
    return result;
  }

  const std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  const LoadOptions& options_;
  const inference::ModelInferRequest request_;
  std::vector<Loop> loops_;
  Clock::time_point start_, counted_from_, end_;
  std::atomic<int64_t> counted_sent_{0};
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// The families ServerTimes reads, and the key a sample of one is kept under.
constexpr const char* kFamilies[] = {
    "octet_inference_request_duration_seconds", "octet_inference_queue_duration_seconds",
    "octet_inference_compute_duration_seconds", "octet_inference_batch_rows"};

std::string Key(const std::string& series, const std::string& model, const std::string& version) {
  return absl::StrCat(series, "|", model, "|", version);
}

// The value of label `name` in a sample's label set ({a="x",b="y"}), or "".
std::string Label(absl::string_view labels, absl::string_view name) {
  const std::string needle = absl::StrCat(name, "=\"");
  size_t at = labels.find(needle);
  while (at != absl::string_view::npos && at > 0 && labels[at - 1] != '{' &&
         labels[at - 1] != ',') {
    at = labels.find(needle, at + 1);
  }
  if (at == absl::string_view::npos) return "";
  const size_t begin = at + needle.size();
  const size_t end = labels.find('"', begin);
  return std::string(labels.substr(begin, end == absl::string_view::npos ? 0 : end - begin));
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(const std::shared_ptr<grpc::Channel>& channel,
                                   const LoadOptions& options) {
  if (options.concurrency < 1 || options.duration <= absl::ZeroDuration() ||
      options.warmup < absl::ZeroDuration() || options.max_requests < 0 || options.inputs.empty()) {
    return absl::InvalidArgumentError(
        "the load needs inputs, a concurrency of at least 1, a positive duration, a warm-up and a "
        "request limit that are not negative");
  }
  return LoadRun(channel, options).Run();
}

absl::StatusOr<ServerHistograms> ServerHistograms::Scrape(const std::string& url) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl did not initialise");
  std::string body;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read ", url, ": ", error[0] != '\0' ? error : curl_easy_strerror(code)));
  }
  if (http != 200) return absl::UnavailableError(absl::StrCat(url, " answered HTTP ", http));
  return Parse(body);
}

ServerHistograms ServerHistograms::Parse(const std::string& text) {
  ServerHistograms histograms;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    const size_t brace = line.find('{');
    const size_t close = line.rfind('}');
    if (brace == absl::string_view::npos || close == absl::string_view::npos) continue;
    const absl::string_view series = line.substr(0, brace);
    bool wanted = false;
    for (const char* family : kFamilies) {
      wanted |= series == absl::StrCat(family, "_sum") || series == absl::StrCat(family, "_count");
    }
    double value = 0;
    if (!wanted || !absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(close + 1)), &value)) {
      continue;
    }
    const absl::string_view labels = line.substr(brace, close - brace + 1);
    histograms
        .values_[Key(std::string(series), Label(labels, "model"), Label(labels, "version"))] +=
        value;
  }
  return histograms;
}

ServerTimes ServerHistograms::Since(const ServerHistograms& before, const std::string& model,
                                    const std::string& version) const {
  auto delta = [&](const std::string& series) {
    const std::string key = Key(series, model, version);
    const auto now = values_.find(key);
    const auto then = before.values_.find(key);
    return (now == values_.end() ? 0.0 : now->second) -
           (then == before.values_.end() ? 0.0 : then->second);
  };
  auto mean_ms = [&](const std::string& family) {
    const double count = delta(family + "_count");
    return count > 0 ? 1000.0 * delta(family + "_sum") / count : 0.0;
  };
  ServerTimes times;
  times.requests = static_cast<int64_t>(delta("octet_inference_request_duration_seconds_count"));
  times.request_ms = mean_ms("octet_inference_request_duration_seconds");
  times.queue_ms = mean_ms("octet_inference_queue_duration_seconds");
  times.compute_ms = mean_ms("octet_inference_compute_duration_seconds");
  times.batches = static_cast<int64_t>(delta("octet_inference_batch_rows_count"));
  times.batch_rows =
      times.batches > 0 ? delta("octet_inference_batch_rows_sum") / times.batches : 0.0;
  return times;
}

}  // namespace octet::client
