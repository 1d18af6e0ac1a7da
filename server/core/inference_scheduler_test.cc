#include "server/core/inference_scheduler.h"

#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>

#include "absl/synchronization/notification.h"
#include "engine/onnx/onnx_importer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/onnx_model_builder.h"

namespace octet::server {
namespace {

using ::octet::testing::PseudoRandom;
using ::octet::testing::TinyCnn;
using ::testing::HasSubstr;

std::shared_ptr<const LoadedModel> TinyModel(int64_t version = 1, int threads = 1) {
  auto model = std::make_shared<LoadedModel>();
  model->version.set_name("tiny");
  model->version.set_version(version);
  absl::StatusOr<Graph> graph = ImportOnnxModel(TinyCnn().Serialize());
  EXPECT_TRUE(graph.ok()) << graph.status();
  SessionOptions options;
  options.num_threads = threads;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), options);
  EXPECT_TRUE(session.ok()) << session.status();
  model->session = *std::move(session);
  return model;
}

std::vector<NamedTensor> Images(int64_t rows, uint32_t seed) {
  const std::vector<float> values = PseudoRandom(rows * 64, seed);
  return {{"image", Tensor::FromVector<float>({rows, 1, 8, 8}, values)}};
}

// What a request got: its outputs or status, and its timing.
struct Outcome {
  absl::Notification done;
  absl::StatusOr<std::vector<Tensor>> result = absl::UnknownError("not done");
  InferenceTiming timing;
};

InferenceScheduler::Request MakeRequest(std::shared_ptr<const LoadedModel> model,
                                        std::vector<NamedTensor> inputs, Outcome* outcome,
                                        BatchingPolicy batching = {}) {
  InferenceScheduler::Request request;
  request.model = std::move(model);
  request.inputs = std::move(inputs);
  request.batching = batching;
  request.done = [outcome](absl::StatusOr<std::vector<Tensor>> result,
                           const InferenceTiming& timing) {
    outcome->result = std::move(result);
    outcome->timing = timing;
    outcome->done.Notify();
  };
  return request;
}

// Keeps the scheduler's only worker busy until Release(), so that requests queue behind it.
class BusyWorker {
 public:
  explicit BusyWorker(InferenceScheduler& scheduler) {
    thread_ = std::thread([this, &scheduler] {
      status_ = scheduler.RunTask([this] {
        started_.Notify();
        release_.WaitForNotification();
        return absl::OkStatus();
      });
    });
    started_.WaitForNotification();
  }
  ~BusyWorker() { Release(); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (thread_.joinable()) thread_.join();
  }
  const absl::Status& status() const { return status_; }

 private:
  absl::Notification started_, release_;
  absl::Status status_;
  std::thread thread_;
};

bool SameBytes(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

TEST(InferenceSchedulerTest, ARequestAloneGetsWhatTheSessionGives) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  Outcome outcome;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(3, 1), &outcome)).ok());
  outcome.done.WaitForNotification();
  ASSERT_TRUE(outcome.result.ok()) << outcome.result.status();
  const auto alone = model->session->Run(Images(3, 1));
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(SameBytes((*outcome.result)[0], (*alone)[0]));
  EXPECT_EQ(outcome.timing.batch_rows, 3);
}

TEST(InferenceSchedulerTest, RequestsQueuedBehindABusyWorkerRunAsOneBatchOfMixedSizes) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  BusyWorker busy(scheduler);
  const std::vector<int64_t> rows = {1, 2, 3, 1, 5};
  std::vector<Outcome> outcomes(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(rows[i], 10 + i), &outcomes[i])).ok());
  }
  busy.Release();
  for (size_t i = 0; i < rows.size(); ++i) {
    outcomes[i].done.WaitForNotification();
    ASSERT_TRUE(outcomes[i].result.ok()) << outcomes[i].result.status();
    // 12 rows, padded to 16: one batch.
    EXPECT_EQ(outcomes[i].timing.batch_rows, 16) << "request " << i;
    const auto alone = model->session->Run(Images(rows[i], 10 + i));
    ASSERT_TRUE(alone.ok());
    ASSERT_EQ((*outcomes[i].result)[0].shape(), (Shape{rows[i], TinyCnn::kClasses}));
    const auto got = (*outcomes[i].result)[0].values<float>();
    const auto want = (*alone)[0].values<float>();
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_NEAR(got[k], want[k], 1e-5f * (1 + std::abs(want[k]))) << "request " << i;
    }
  }
}

TEST(InferenceSchedulerTest, BatchesStopAtTheMaximumAndBatchingOneRunsEachAlone) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  for (int max_batch : {4, 1}) {
    BusyWorker busy(scheduler);
    BatchingPolicy policy;
    policy.max_batch_size = max_batch;
    std::vector<Outcome> outcomes(6);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, i), &outcomes[i], policy)).ok());
    }
    busy.Release();
    for (Outcome& outcome : outcomes) {
      outcome.done.WaitForNotification();
      ASSERT_TRUE(outcome.result.ok());
      EXPECT_LE(outcome.timing.batch_rows, max_batch);
    }
    EXPECT_EQ(outcomes[0].timing.batch_rows, max_batch);
  }
}

TEST(InferenceSchedulerTest, AFullQueueRefusesWithResourceExhausted) {
  InferenceScheduler::Options options;
  options.max_queue_size = 2;
  InferenceScheduler scheduler(options, nullptr);
  const auto model = TinyModel();
  BusyWorker busy(scheduler);
  Outcome a, b, c;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 1), &a)).ok());
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 2), &b)).ok());
  const absl::Status refused = scheduler.Submit(MakeRequest(model, Images(1, 3), &c));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("model 'tiny' version 1 is full"));
  // Another version has its own queue.
  Outcome other;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(TinyModel(2), Images(1, 4), &other)).ok());
  busy.Release();
  for (Outcome* outcome : {&a, &b, &other}) {
    outcome->done.WaitForNotification();
    EXPECT_TRUE(outcome->result.ok());
  }
  EXPECT_FALSE(c.done.HasBeenNotified());
}

TEST(InferenceSchedulerTest, RequestsWhoseDeadlinePassesOrWhoseClientLeavesAreDroppedUnrun) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  BusyWorker busy(scheduler);
  Outcome expired, cancelled, kept;
  auto request = MakeRequest(model, Images(1, 1), &expired);
  request.deadline = absl::Now() + absl::Milliseconds(20);
  ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
  std::atomic<bool> gone{false};
  request = MakeRequest(model, Images(1, 2), &cancelled);
  request.cancelled = [&gone] { return gone.load(); };
  ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 3), &kept)).ok());
  absl::SleepFor(absl::Milliseconds(40));
  gone = true;
  busy.Release();
  expired.done.WaitForNotification();
  EXPECT_EQ(expired.result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(expired.result.status().message(), HasSubstr("deadline passed while"));
  cancelled.done.WaitForNotification();
  EXPECT_EQ(cancelled.result.status().code(), absl::StatusCode::kCancelled);
  kept.done.WaitForNotification();
  EXPECT_TRUE(kept.result.ok());
  EXPECT_EQ(kept.timing.batch_rows, 1);
}

TEST(InferenceSchedulerTest, QueuedRequestsOfAVersionDroppedMeanwhileStillFinish) {
  InferenceScheduler scheduler({}, nullptr);
  auto model = TinyModel();
  BusyWorker busy(scheduler);
  Outcome outcome;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(2, 1), &outcome)).ok());
  model.reset();  // what the registry does when the version is deleted
  busy.Release();
  outcome.done.WaitForNotification();
  EXPECT_TRUE(outcome.result.ok());
}

TEST(InferenceSchedulerTest, ShutdownAnswersQueuedRequestsWithUnavailable) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  Outcome outcome;
  {
    BusyWorker busy(scheduler);
    ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 1), &outcome)).ok());
    std::thread stopper([&] { scheduler.Shutdown(); });
    outcome.done.WaitForNotification();
    EXPECT_EQ(outcome.result.status().code(), absl::StatusCode::kUnavailable);
    busy.Release();
    stopper.join();
  }
  Outcome late;
  EXPECT_EQ(scheduler.Submit(MakeRequest(model, Images(1, 1), &late)).code(),
            absl::StatusCode::kUnavailable);
}

TEST(InferenceSchedulerTest, RequestsWithAnotherSignatureWaitForTheirOwnBatch) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  BusyWorker busy(scheduler);
  Outcome a, b, other;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 1), &a)).ok());
  auto request = MakeRequest(model, Images(1, 2), &other);
  request.output_names = {"logits"};  // asks for outputs by name: another signature
  ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 3), &b)).ok());
  busy.Release();
  for (Outcome* outcome : {&a, &b, &other}) {
    outcome->done.WaitForNotification();
    EXPECT_TRUE(outcome->result.ok());
  }
  EXPECT_EQ(a.timing.batch_rows, 2);
  EXPECT_EQ(b.timing.batch_rows, 2);
  EXPECT_EQ(other.timing.batch_rows, 1);
}

TEST(InferenceSchedulerTest, ARequestFindingTheWorkerIdleStartsWithoutWaitingForABatch) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  BatchingPolicy slow;
  slow.max_queue_delay = absl::Seconds(5);
  for (int i = 0; i < 5; ++i) {
    Outcome outcome;
    ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, i), &outcome, slow)).ok());
    outcome.done.WaitForNotification();
    EXPECT_LT(outcome.timing.queued, absl::Seconds(1));
  }
}

TEST(InferenceSchedulerTest, PostedWorkRunsOnAWorkerAheadOfWaitingRequestsWithoutBlocking) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  std::vector<std::string> order;
  absl::Mutex order_mu;
  std::thread::id ran_on;
  absl::Notification posted_ran;
  Outcome outcome;
  {
    BusyWorker busy(scheduler);
    InferenceScheduler::Request request = MakeRequest(model, Images(1, 1), &outcome);
    request.done = [&](absl::StatusOr<std::vector<Tensor>>, const InferenceTiming&) {
      absl::MutexLock lock(&order_mu);
      order.push_back("request");
      outcome.done.Notify();
    };
    ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
    // Post returns at once although the only worker is busy.
    ASSERT_TRUE(scheduler.Post([&](bool run) {
      EXPECT_TRUE(run);
      ran_on = std::this_thread::get_id();
      absl::MutexLock lock(&order_mu);
      order.push_back("posted");
      posted_ran.Notify();
    }));
    EXPECT_FALSE(posted_ran.HasBeenNotified());
  }
  posted_ran.WaitForNotification();
  outcome.done.WaitForNotification();
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_THAT(order, ::testing::ElementsAre("posted", "request"));
}

TEST(InferenceSchedulerTest, PostedWorkNotStartedAtShutdownIsToldSoAndLaterPostsAreRefused) {
  InferenceScheduler scheduler({}, nullptr);
  std::atomic<int> ran{0}, refused{0};
  BusyWorker busy(scheduler);
  ASSERT_TRUE(scheduler.Post([&](bool run) { ++(run ? ran : refused); }));
  std::thread stop([&] { scheduler.Shutdown(); });
  // Released once Shutdown has begun (a new post is then refused).
  while (scheduler.Post([&](bool run) { ++(run ? ran : refused); })) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  busy.Release();
  stop.join();
  EXPECT_EQ(ran.load(), 0);
  EXPECT_GE(refused.load(), 1);
}

TEST(InferenceSchedulerTest, BackgroundWorkRunsOnlyWhenNoRequestWaits) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  std::vector<std::string> order;
  absl::Mutex order_mu;
  auto note = [&](std::string what) {
    absl::MutexLock lock(&order_mu);
    order.push_back(std::move(what));
  };
  absl::Notification background_ran;
  {
    BusyWorker busy(scheduler);
    ASSERT_TRUE(scheduler.OfferBackground([&] {
      note("background");
      background_ran.Notify();
    }));
    Outcome outcome;
    InferenceScheduler::Request request = MakeRequest(model, Images(1, 1), &outcome);
    request.done = [&](absl::StatusOr<std::vector<Tensor>> result, const InferenceTiming&) {
      note(result.ok() ? "request" : "failed request");
      outcome.done.Notify();
    };
    ASSERT_TRUE(scheduler.Submit(std::move(request)).ok());
    busy.Release();
    outcome.done.WaitForNotification();
  }
  background_ran.WaitForNotification();
  EXPECT_THAT(order, ::testing::ElementsAre("request", "background"));
}

TEST(InferenceSchedulerTest, ARequestArrivingDuringBackgroundWorkDoesNotWaitForABatch) {
  InferenceScheduler scheduler({}, nullptr);
  const auto model = TinyModel();
  absl::Notification started, release;
  ASSERT_TRUE(scheduler.OfferBackground([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  BatchingPolicy slow;
  slow.max_queue_delay = absl::Seconds(5);
  Outcome outcome;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(1, 1), &outcome, slow)).ok());
  absl::SleepFor(absl::Milliseconds(20));
  release.Notify();
  outcome.done.WaitForNotification();
  ASSERT_TRUE(outcome.result.ok());
  // It waited for the background item (about 20 ms), not for the 5 s batching delay.
  EXPECT_LT(outcome.timing.queued, absl::Seconds(1));
}

TEST(InferenceSchedulerTest, BackgroundWorkBeyondItsBoundIsRefusedAndShutdownDropsTheRest) {
  InferenceScheduler::Options options;
  options.max_background = 2;
  InferenceScheduler scheduler(options, nullptr);
  std::atomic<int> ran{0};
  auto destroyed = std::make_shared<int>(0);
  {
    BusyWorker busy(scheduler);
    EXPECT_TRUE(scheduler.OfferBackground([&ran, destroyed] { ++ran; }));
    EXPECT_TRUE(scheduler.OfferBackground([&ran, destroyed] { ++ran; }));
    EXPECT_FALSE(scheduler.OfferBackground([&ran, destroyed] { ++ran; }));
    EXPECT_EQ(destroyed.use_count(), 3);  // the refused item is gone
    busy.Release();
  }
  while (ran.load() < 2) absl::SleepFor(absl::Milliseconds(1));
  BusyWorker busy(scheduler);
  EXPECT_TRUE(scheduler.OfferBackground([&ran, destroyed] { ++ran; }));
  std::thread stop([&] { scheduler.Shutdown(); });
  // The worker is released only once Shutdown has begun (a request is then refused), so that it
  // cannot take the waiting item first; the requests accepted before get UNAVAILABLE.
  const auto model = TinyModel();
  std::deque<Outcome> probes;
  while (true) {
    probes.emplace_back();
    if (!scheduler.Submit(MakeRequest(model, Images(1, 1), &probes.back())).ok()) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  busy.Release();
  stop.join();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(destroyed.use_count(), 1);
  EXPECT_FALSE(scheduler.OfferBackground([] {}));
}

// The threads of this process.
int ThreadCount() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++count;
  }
  return count;
}

// libgomp shortens every team's spin-waits for good once more threads have joined OpenMP teams
// than there are cores, which made a server 5x slower after one plan was built on a gRPC thread.
// Engine work submitted as a task forms its team on the worker, as requests do.
TEST(InferenceSchedulerTest, EngineWorkRunAsATaskFormsNoOpenMpTeamOutsideTheWorkers) {
  InferenceScheduler::Options options;
  options.threads = 2;
  InferenceScheduler scheduler(options, nullptr);
  const auto model = TinyModel(1, /*threads=*/2);
  Outcome warm;
  ASSERT_TRUE(scheduler.Submit(MakeRequest(model, Images(8, 1), &warm)).ok());
  warm.done.WaitForNotification();
  const int before = ThreadCount();
  // A plan for a new shape, built and run from this thread through the scheduler.
  ASSERT_TRUE(scheduler
                  .RunTask([&] {
                    absl::StatusOr<std::vector<StepDescription>> steps =
                        model->session->Describe(Images(16, 2));
                    return steps.ok() ? model->session->Run(Images(16, 2)).status()
                                      : steps.status();
                  })
                  .ok());
  EXPECT_EQ(ThreadCount(), before);
  // The same from a thread of its own forms a team there (the check above has teeth).
  absl::Notification ran, finish;
  std::thread outside([&] {
    EXPECT_TRUE(model->session->Run(Images(32, 3)).ok());
    ran.Notify();
    finish.WaitForNotification();
  });
  ran.WaitForNotification();
  EXPECT_GT(ThreadCount(), before + 1) << "a team formed outside the workers";
  finish.Notify();
  outside.join();
}

}  // namespace
}  // namespace octet::server
