#include "client/loadgen.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/fake_retrieval_service.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace client {
namespace {

using ::client_testing::FakeServer;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

std::vector<double> OneToN(int n) {
  std::vector<double> values;
  for (int i = 1; i <= n; ++i) values.push_back(i);
  return values;
}

TEST(PercentileTest, NearestRank) {
  const std::vector<double> values = OneToN(100);
  EXPECT_EQ(Percentile(values, 50), 50);
  EXPECT_EQ(Percentile(values, 90), 90);
  EXPECT_EQ(Percentile(values, 99), 99);
  EXPECT_EQ(Percentile(values, 99.5), 100);
  EXPECT_EQ(Percentile(values, 100), 100);
  EXPECT_EQ(Percentile(values, 0), 1);
  // 10 values: p50 is the 5th, p90 the 9th, p99 rounds up to the 10th.
  const std::vector<double> ten = OneToN(10);
  EXPECT_EQ(Percentile(ten, 50), 5);
  EXPECT_EQ(Percentile(ten, 90), 9);
  EXPECT_EQ(Percentile(ten, 99), 10);
  EXPECT_EQ(Percentile({7.5}, 50), 7.5);
  EXPECT_EQ(Percentile({}, 50), 0);
}

TEST(SummarizeLatenciesTest, SortsAndSummarises) {
  const LatencySummary summary =
      SummarizeLatencies({9, 1, 5, 3, 7, 2, 8, 4, 6, 10});
  EXPECT_EQ(summary.count, 10);
  EXPECT_THAT(summary.mean_ms, DoubleEq(5.5));
  EXPECT_EQ(summary.p50_ms, 5);
  EXPECT_EQ(summary.p90_ms, 9);
  EXPECT_EQ(summary.p99_ms, 10);
  EXPECT_EQ(summary.max_ms, 10);
  const LatencySummary empty = SummarizeLatencies({});
  EXPECT_EQ(empty.count, 0);
  EXPECT_EQ(empty.max_ms, 0);
}

TEST(ComputeLoadStatsTest, CountsCodesAndSeparatesOkLatency) {
  std::vector<CallRecord> calls;
  for (int i = 1; i <= 8; ++i)
    calls.push_back({double(i), grpc::StatusCode::OK});
  calls.push_back({100.0, grpc::StatusCode::DEADLINE_EXCEEDED});
  calls.push_back({0.5, grpc::StatusCode::UNAVAILABLE});
  calls.push_back({0.7, grpc::StatusCode::UNAVAILABLE});
  const LoadStats stats = ComputeLoadStats(calls, 2.0);
  EXPECT_EQ(stats.requests, 11);
  EXPECT_EQ(stats.ok, 8);
  EXPECT_THAT(stats.qps, DoubleEq(5.5));
  EXPECT_THAT(stats.ok_qps, DoubleEq(4.0));
  EXPECT_EQ(stats.ok_latency.count, 8);
  EXPECT_EQ(stats.ok_latency.max_ms, 8);
  EXPECT_EQ(stats.ok_latency.p50_ms, 4);
  EXPECT_EQ(stats.all_latency.max_ms, 100);
  EXPECT_THAT(stats.status_counts,
              ElementsAre(Pair(grpc::StatusCode::OK, 8),
                          Pair(grpc::StatusCode::DEADLINE_EXCEEDED, 1),
                          Pair(grpc::StatusCode::UNAVAILABLE, 2)));
  const std::string report = FormatLoadStats(stats);
  EXPECT_THAT(report,
              HasSubstr("11 requests in 2.00 s: 5.5 requests/s (OK 4.0/s)"));
  EXPECT_THAT(report,
              HasSubstr("latency of OK calls (ms): p50 4.00  p90 8.00"));
  EXPECT_THAT(report, HasSubstr("max 100.00"));  // the all-calls line
  EXPECT_THAT(report, HasSubstr("status UNAVAILABLE: 2\n"));
  EXPECT_THAT(report, HasSubstr("status DEADLINE_EXCEEDED: 1\n"));
}

TEST(ComputeLoadStatsTest, NoCallsAndNoTime) {
  const LoadStats stats = ComputeLoadStats({}, 0.0);
  EXPECT_EQ(stats.requests, 0);
  EXPECT_EQ(stats.qps, 0.0);
  EXPECT_THAT(FormatLoadStats(stats), HasSubstr("none succeeded"));
}

TEST(PlanRequestTest, IsAFunctionOfTheSeedAndNearTheFraction) {
  EXPECT_FALSE(PlanRequest(1, 0.0, 0).has_value());
  int invalid = 0;
  int differs = 0;
  std::set<InvalidKind> kinds;
  for (int64_t i = 0; i < 10000; ++i) {
    const std::optional<InvalidKind> plan = PlanRequest(1, 0.25, i);
    EXPECT_EQ(plan, PlanRequest(1, 0.25, i));  // deterministic
    if (plan.has_value()) {
      ++invalid;
      kinds.insert(*plan);
    }
    if (PlanRequest(2, 0.25, i).has_value() != plan.has_value()) ++differs;
    EXPECT_FALSE(PlanRequest(1, 0.0, i).has_value());
    EXPECT_TRUE(PlanRequest(1, 1.0, i).has_value());
  }
  EXPECT_GT(invalid, 2300);
  EXPECT_LT(invalid, 2700);
  EXPECT_EQ(kinds.size(), static_cast<size_t>(kNumInvalidKinds));
  EXPECT_GT(differs, 1000);  // another seed picks other requests
}

TEST(MakeInvalidTest, BreaksTheNamedField) {
  retrieval::v1::SearchRequest valid;
  valid.set_text("a white Audi.");
  valid.set_top_k(10);
  auto broken = [&](InvalidKind kind) {
    retrieval::v1::SearchRequest request = valid;
    MakeInvalid(kind, &request);
    return request;
  };
  EXPECT_EQ(broken(InvalidKind::kEmptyText).text(), "");
  EXPECT_EQ(broken(InvalidKind::kLongText).text().size(), 2049u);
  EXPECT_NE(broken(InvalidKind::kInvalidUtf8).text().find('\xff'),
            std::string::npos);
  EXPECT_EQ(broken(InvalidKind::kNegativeTopK).top_k(), -1);
  EXPECT_EQ(broken(InvalidKind::kLargeTopK).top_k(), 1001);
  EXPECT_EQ(broken(InvalidKind::kLargeTopK).text(), valid.text());
  EXPECT_FALSE(retrieval::v1::Category_IsValid(
      broken(InvalidKind::kUnknownCategory).category()));
  EXPECT_EQ(InvalidKindName(InvalidKind::kUnknownCategory),
            std::string("unknown_category"));
}

TEST(CheckCodesTest, FailsForFailedValidAndWronglyAnsweredInvalidRequests) {
  std::vector<CallRecord> calls = {
      {1.0, grpc::StatusCode::OK, std::nullopt},
      {1.0, grpc::StatusCode::INVALID_ARGUMENT, InvalidKind::kEmptyText},
      {1.0, grpc::StatusCode::INVALID_ARGUMENT, InvalidKind::kLargeTopK}};
  EXPECT_OK(CheckCodes(ComputeLoadStats(calls, 1.0)));

  calls.push_back({1.0, grpc::StatusCode::UNAVAILABLE, std::nullopt});
  calls.push_back({1.0, grpc::StatusCode::OK, InvalidKind::kLongText});
  const LoadStats stats = ComputeLoadStats(calls, 1.0);
  EXPECT_THAT(
      CheckCodes(stats),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("1 of 2 valid requests failed (UNAVAILABLE 1)"),
                     HasSubstr("1 of 3 invalid requests got another code"),
                     HasSubstr("long_text: OK 1"))));
  const std::string report = FormatLoadStats(stats);
  EXPECT_THAT(report, HasSubstr("invalid requests: 3 of 5 (60.0%)\n"));
  EXPECT_THAT(report, HasSubstr("status OK: 2 (valid 1, invalid 1)\n"));
  EXPECT_THAT(report,
              HasSubstr("status INVALID_ARGUMENT: 2 (valid 0, invalid 2)\n"));
  EXPECT_THAT(report, HasSubstr("invalid long_text: OK 1\n"));

  EXPECT_THAT(CheckCodes(ComputeLoadStats({}, 1.0)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no request finished")));
}

TEST(ValidateLoadgenOptionsTest, RequiresABound) {
  LoadgenOptions options;
  EXPECT_OK(ValidateLoadgenOptions(options));
  options.duration = absl::ZeroDuration();
  EXPECT_THAT(
      ValidateLoadgenOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bounded")));
  options.requests = 10;
  EXPECT_OK(ValidateLoadgenOptions(options));
  options.concurrency = 0;
  EXPECT_THAT(
      ValidateLoadgenOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("concurrency")));
}

class LoadgenRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(server_.address().empty());
    client_ = std::make_unique<RetrievalClient>(
        grpc::CreateChannel(server_.address(),
                            grpc::InsecureChannelCredentials()),
        "");
  }
  FakeServer server_;
  std::unique_ptr<RetrievalClient> client_;
};

TEST_F(LoadgenRunTest, StopsAfterTheRequestCount) {
  LoadgenOptions options;
  options.concurrency = 4;
  options.duration = absl::ZeroDuration();
  options.requests = 50;
  server_.service().FailNextCalls(5);
  absl::StatusOr<LoadStats> stats =
      RunLoadgen(options, {"a", "b", "c"}, *client_);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->requests, 50);
  EXPECT_EQ(server_.service().total_calls(), 50);
  EXPECT_THAT(stats->status_counts,
              UnorderedElementsAre(Pair(grpc::StatusCode::OK, 45),
                                   Pair(grpc::StatusCode::UNAVAILABLE, 5)));
}

TEST_F(LoadgenRunTest, EachThreadStartsAtItsOwnOffset) {
  LoadgenOptions options;
  options.concurrency = 4;
  options.duration = absl::ZeroDuration();
  options.requests = 4;
  // Slow calls: each thread gets exactly one of the four requests.
  server_.service().SetDelay(absl::Milliseconds(300));
  std::vector<std::string> queries;
  for (int i = 0; i < 8; ++i) queries.push_back(absl::StrCat("q", i));
  ASSERT_OK(RunLoadgen(options, queries, *client_));
  EXPECT_THAT(server_.service().search_texts(),
              UnorderedElementsAre("q0", "q2", "q4", "q6"));
}

TEST_F(LoadgenRunTest, StopsAfterTheDuration) {
  LoadgenOptions options;
  options.concurrency = 2;
  options.duration = absl::Milliseconds(300);
  server_.service().SetDelay(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadStats> stats = RunLoadgen(options, {"x"}, *client_);
  ASSERT_OK(stats);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_GT(stats->ok, 0);
  EXPECT_GE(stats->ok_latency.p50_ms, 20.0);
  EXPECT_GE(stats->seconds, 0.3);
}

TEST_F(LoadgenRunTest, InvalidRequestsAreCountedApartFromValidOnes) {
  LoadgenOptions options;
  options.concurrency = 3;
  options.duration = absl::ZeroDuration();
  options.requests = 300;
  options.invalid_fraction = 0.3;
  options.seed = 42;
  int64_t planned = 0;
  std::set<InvalidKind> kinds;
  for (int64_t i = 0; i < 300; ++i) {
    if (auto kind = PlanRequest(42, 0.3, i)) {
      ++planned;
      kinds.insert(*kind);
    }
  }
  ASSERT_EQ(kinds.size(), static_cast<size_t>(kNumInvalidKinds));
  absl::StatusOr<LoadStats> stats =
      RunLoadgen(options, {"a white Audi.", "a red truck"}, *client_);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->requests, 300);
  EXPECT_EQ(stats->invalid_requests, planned);
  EXPECT_THAT(stats->valid_status_counts,
              ElementsAre(Pair(grpc::StatusCode::OK, 300 - planned)));
  EXPECT_THAT(stats->invalid_status_counts,
              ElementsAre(Pair(grpc::StatusCode::INVALID_ARGUMENT, planned)));
  EXPECT_EQ(stats->invalid_by_kind.size(),
            static_cast<size_t>(kNumInvalidKinds));
  EXPECT_OK(CheckCodes(*stats));
  EXPECT_THAT(FormatLoadStats(*stats),
              HasSubstr(absl::StrCat("status INVALID_ARGUMENT: ", planned,
                                     " (valid 0, invalid ", planned, ")")));
}

TEST_F(LoadgenRunTest, BacksOffAfterResourceExhaustedAndUnavailable) {
  LoadgenOptions options;
  options.concurrency = 1;
  options.duration = absl::ZeroDuration();
  options.requests = 6;
  options.backoff.initial_backoff = absl::Milliseconds(40);
  options.backoff.jitter = 0;
  server_.service().FailNextCalls(3, grpc::StatusCode::RESOURCE_EXHAUSTED);
  absl::StatusOr<LoadStats> stats = RunLoadgen(options, {"x"}, *client_);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->ok, 3);
  ASSERT_EQ(stats->backoff.count(grpc::StatusCode::RESOURCE_EXHAUSTED), 1u);
  const BackoffCount waits =
      stats->backoff.at(grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(waits.waits, 3);
  EXPECT_GE(waits.seconds, 0.04 + 0.08 + 0.16);  // doubling while failing
  EXPECT_THAT(FormatLoadStats(*stats),
              HasSubstr("backoff after RESOURCE_EXHAUSTED: 3 waits, "));

  server_.service().FailNextCalls(1);  // UNAVAILABLE
  stats = RunLoadgen(options, {"x"}, *client_);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->backoff.at(grpc::StatusCode::UNAVAILABLE).waits, 1);
  EXPECT_EQ(stats->backoff.count(grpc::StatusCode::RESOURCE_EXHAUSTED), 0u);
}

TEST_F(LoadgenRunTest, CancelEndsTheRunWithTheCallsMadeSoFar) {
  LoadgenOptions options;
  options.concurrency = 2;
  options.duration = absl::Seconds(60);
  server_.service().SetDelay(absl::Milliseconds(10));
  std::atomic<bool> cancel{false};
  options.cancel = &cancel;
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(300));
    cancel.store(true);
  });
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadStats> stats = RunLoadgen(options, {"x"}, *client_);
  stopper.join();
  ASSERT_OK(stats);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(stats->interrupted);
  EXPECT_GT(stats->ok, 0);
  EXPECT_EQ(stats->requests, server_.service().total_calls());
  EXPECT_THAT(FormatLoadStats(*stats), StartsWith("interrupted: "));
}

TEST_F(LoadgenRunTest, RejectsEmptyQueries) {
  EXPECT_THAT(
      RunLoadgen(LoadgenOptions(), {}, *client_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no queries")));
}

}  // namespace
}  // namespace client
