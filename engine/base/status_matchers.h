// gMock matchers for absl::Status and absl::StatusOr<T> (test-only).
#ifndef OCTET_ENGINE_BASE_STATUS_MATCHERS_H_
#define OCTET_ENGINE_BASE_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace octet::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches a Status or StatusOr whose code is `code` and whose message matches `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has status code ") + absl::StatusCodeToString(code)) {
  const absl::Status& status = ::octet::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = ::octet::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

// Matches an OK StatusOr<T> whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace octet::testing

#define OCTET_ASSERT_OK(expr) ASSERT_THAT((expr), ::octet::testing::IsOk())
#define OCTET_EXPECT_OK(expr) EXPECT_THAT((expr), ::octet::testing::IsOk())

// Asserts that `rexpr` is OK and moves its value into `lhs`.
#define OCTET_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  OCTET_ASSERT_OK_AND_ASSIGN_IMPL_(OCTET_MATCHERS_CONCAT_(octet_statusor_, __LINE__), lhs, rexpr)
#define OCTET_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  ASSERT_THAT(statusor.status(), ::octet::testing::IsOk());    \
  lhs = *std::move(statusor)
#define OCTET_MATCHERS_CONCAT_(a, b) OCTET_MATCHERS_CONCAT_INNER_(a, b)
#define OCTET_MATCHERS_CONCAT_INNER_(a, b) a##b

#endif  // OCTET_ENGINE_BASE_STATUS_MATCHERS_H_
