#include "client/batch_client.h"

#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/fake_retrieval_service.h"
#include "client/grpc_client.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "eval/submission.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace client {
namespace {

using ::client_testing::FakeImageNames;
using ::client_testing::FakeServer;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

bool Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

class BatchClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(server_.address().empty());
    client_ = std::make_unique<RetrievalClient>(
        grpc::CreateChannel(server_.address(),
                            grpc::InsecureChannelCredentials()),
        "");
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        absl::StrCat(::testing::TempDir(), "/batch_client_test_", info->name());
    ASSERT_OK(common::MakeDirs(dir_));
    ::unlink(Output().c_str());
    ::unlink(JournalPathFor(Output()).c_str());
  }

  std::string Output(const std::string& name = "out.json") const {
    return dir_ + "/" + name;
  }

  std::string WriteQueries(const std::string& contents,
                           const std::string& name = "queries.txt") {
    const std::string path = dir_ + "/" + name;
    EXPECT_OK(common::WriteFileAtomically(path, contents));
    return path;
  }

  BatchClientOptions Options(const std::string& queries) const {
    BatchClientOptions options;
    options.queries_path = queries;
    options.output_path = Output();
    options.top_k = 3;
    options.chunk_size = 4;
    options.concurrency = 3;
    options.call.deadline = absl::Seconds(10);
    options.call.retry.initial_backoff = absl::Milliseconds(1);
    options.call.retry.max_backoff = absl::Milliseconds(5);
    return options;
  }

  // Texts of every BatchSearch the server answered, flattened.
  std::vector<std::string> AnsweredTexts() {
    std::vector<std::string> texts;
    for (const auto& batch : server_.service().answered_batches()) {
      texts.insert(texts.end(), batch.begin(), batch.end());
    }
    return texts;
  }

  FakeServer server_;
  std::unique_ptr<RetrievalClient> client_;
  std::string dir_;
};

std::string NumberedQueries(int n) {
  std::string contents;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&contents, "query number ", i, ": a white Audi.\n");
  }
  return contents;
}

TEST_F(BatchClientTest, KeepsOrderDuplicatesAndBytes) {
  const std::vector<std::string> texts = {
      "This is a white Audi.",
      "A female pedestrian in a short sleeve shirt with an upper logo.",
      "dup",
      "  leading and trailing spaces  ",
      "Ünïcødé: 行人 в красной куртке 🚗",
      "dup",
      "quotes \" and backslash \\ and tab\tinside",
      "This is a white Audi.",
      "dup",
      "last"};
  const std::string queries = WriteQueries(absl::StrJoin(texts, "\n") + "\n");
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(Options(queries), *client_, &summary));

  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  ASSERT_EQ(submission->results.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(submission->results[i].text, texts[i]) << "entry " << i;
    EXPECT_EQ(submission->results[i].image_names, FakeImageNames(texts[i], 3))
        << "entry " << i;
  }
  absl::StatusOr<std::string> raw = common::ReadFile(Output());
  ASSERT_OK(raw);
  EXPECT_THAT(*raw, HasSubstr("行人 в красной куртке 🚗"));  // not \u-escaped

  EXPECT_EQ(summary.queries, 10);
  EXPECT_EQ(summary.queries_this_run, 10);
  EXPECT_EQ(summary.chunks, 3);
  EXPECT_EQ(summary.chunks_resumed, 0);
  EXPECT_THAT(summary.failures, IsEmpty());
  EXPECT_THAT(summary.model_versions,
              ElementsAre(client_testing::kFakeModelVersion));
  EXPECT_TRUE(summary.output_written);
  EXPECT_FALSE(Exists(JournalPathFor(Output())));
  // Chunks of at most 4 lines, every line sent exactly once.
  for (const auto& batch : server_.service().answered_batches()) {
    EXPECT_LE(batch.size(), 4u);
  }
  std::vector<std::string> sent = AnsweredTexts();
  std::vector<std::string> expected = texts;
  std::sort(sent.begin(), sent.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sent, expected);
  EXPECT_THAT(server_.service().search_texts(), IsEmpty());
}

TEST_F(BatchClientTest, PassesTopKAndCategory) {
  const std::string queries = WriteQueries("a red truck\nblue bus\n");
  BatchClientOptions options = Options(queries);
  options.top_k = 5;
  options.category = retrieval::v1::CATEGORY_VEHICLE;
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  EXPECT_EQ(submission->results[1].image_names,
            FakeImageNames("blue bus", 5, retrieval::v1::CATEGORY_VEHICLE));
}

TEST_F(BatchClientTest, PassesAutoForTheServerToRoute) {
  const std::string queries =
      WriteQueries("a red truck\nA pedestrian in a blue coat.\n");
  BatchClientOptions options = Options(queries);
  options.category = retrieval::v1::CATEGORY_AUTO;
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  // The fake routes the second text to pedestrians, the first to vehicles.
  EXPECT_EQ(submission->results[0].image_names,
            FakeImageNames("a red truck", 3, retrieval::v1::CATEGORY_VEHICLE));
  EXPECT_EQ(submission->results[1].image_names,
            FakeImageNames("A pedestrian in a blue coat.", 3,
                           retrieval::v1::CATEGORY_PEDESTRIAN));
}

TEST_F(BatchClientTest, EmptyQueriesFileWritesEmptyResults) {
  const std::string queries = WriteQueries("");
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(Options(queries), *client_, &summary));
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  EXPECT_THAT(submission->results, IsEmpty());
  EXPECT_EQ(server_.service().total_calls(), 0);
  EXPECT_EQ(DescribeWrittenOutput(Options(queries), summary),
            "wrote " + Output() + ": an empty submission, since " + queries +
                " holds no queries (nothing was sent)");
}

TEST_F(BatchClientTest, RejectedLinesAreNamedAndNothingIsWritten) {
  const std::string queries =
      WriteQueries("first\n\nthird\nfourth\n   \nsixth\nseventh\n");
  BatchClientOptions options = Options(queries);
  options.chunk_size = 2;
  BatchClientSummary summary;
  const absl::Status status = RunBatchClient(options, *client_, &summary);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("rejected 2 lines"),
                                     HasSubstr(queries + ":2: text: empty"),
                                     HasSubstr("--allow_failures"))));
  ASSERT_EQ(summary.failures.size(), 2u);
  EXPECT_EQ(summary.failures[0].line, 2);
  EXPECT_EQ(summary.failures[1].line, 5);
  EXPECT_EQ(summary.failures[1].message, "text: empty or only whitespace");
  EXPECT_FALSE(Exists(Output()));
  // Only the two chunks holding a bad line were re-sent line by line.
  EXPECT_EQ(summary.chunks_with_fallback, 2);
  EXPECT_THAT(server_.service().search_texts(),
              ::testing::UnorderedElementsAre("first", "", "   ", "sixth"));
}

TEST_F(BatchClientTest, AllowFailuresWritesEmptyLists) {
  const std::string queries = WriteQueries("first\n\nthird\n");
  BatchClientOptions options = Options(queries);
  options.allow_failures = true;
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  ASSERT_EQ(summary.failures.size(), 1u);
  EXPECT_EQ(summary.failures[0].line, 2);
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  ASSERT_EQ(submission->results.size(), 3u);
  EXPECT_EQ(submission->results[0].image_names, FakeImageNames("first", 3));
  EXPECT_EQ(submission->results[1].text, "");
  EXPECT_THAT(submission->results[1].image_names, IsEmpty());
  EXPECT_EQ(submission->results[2].image_names, FakeImageNames("third", 3));
}

TEST_F(BatchClientTest, ResumeWithAllowFailuresReusesTheFailedRun) {
  const std::string queries = WriteQueries("a\nb\n\nd\ne\nf\n");
  BatchClientOptions options = Options(queries);
  options.chunk_size = 2;
  BatchClientSummary summary;
  ASSERT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":3:")));
  const int calls = server_.service().total_calls();
  options.resume = true;
  options.allow_failures = true;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  EXPECT_EQ(server_.service().total_calls(), calls);  // nothing re-sent
  EXPECT_EQ(summary.chunks_resumed, 3);
  ASSERT_EQ(summary.failures.size(), 1u);
  EXPECT_EQ(summary.failures[0].line, 3);
  EXPECT_EQ(summary.failures[0].message, "text: empty or only whitespace");
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  EXPECT_THAT(submission->results[2].image_names, IsEmpty());
  EXPECT_EQ(submission->results[5].image_names, FakeImageNames("f", 3));
}

TEST_F(BatchClientTest, RetriesTransientUnavailable) {
  const std::string queries = WriteQueries(NumberedQueries(12));
  server_.service().FailNextCalls(3);
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(Options(queries), *client_, &summary));
  EXPECT_EQ(summary.retries, 3);
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  ASSERT_EQ(submission->results.size(), 12u);
  EXPECT_EQ(submission->results[11].image_names,
            FakeImageNames("query number 11: a white Audi.", 3));
  EXPECT_EQ(AnsweredTexts().size(), 12u);
}

TEST_F(BatchClientTest, PersistentUnavailableFailsAndKeepsTheJournal) {
  const std::string queries = WriteQueries(NumberedQueries(8));
  server_.service().FailNextCalls(1000);
  BatchClientOptions options = Options(queries);
  options.concurrency = 1;
  options.call.retry.max_retries = 2;
  BatchClientSummary summary;
  EXPECT_THAT(
      RunBatchClient(options, *client_, &summary),
      StatusIs(absl::StatusCode::kUnavailable,
               AllOf(HasSubstr("BatchSearch for " + queries + ":1-4"),
                     HasSubstr("after 3 attempts"), HasSubstr("--resume"))));
  EXPECT_FALSE(Exists(Output()));
  EXPECT_TRUE(Exists(JournalPathFor(Output())));
  EXPECT_EQ(server_.service().total_calls(), 3);
}

// A server restart (stopped, then listening again on the same port) is
// ridden through with the default retry policy, over a channel made by
// RetrievalClient::Connect. The server stays down for 4 s, longer than the
// backoff sleeps of 5 retries (0.1 + 0.2 + 0.4 + 0.8 + 1.6 s; no jitter):
// attempts that fail at once while the channel waits to reconnect would use
// up the retries before the server is back.
TEST_F(BatchClientTest, RidesThroughAServerRestartWithDefaultRetries) {
  const std::string queries = WriteQueries(NumberedQueries(400));
  ConnectionOptions connection;
  connection.server = server_.address();
  absl::StatusOr<std::unique_ptr<RetrievalClient>> client =
      RetrievalClient::Connect(connection);
  ASSERT_OK(client);
  BatchClientOptions options = Options(queries);
  options.call = CallOptions();  // 30 s deadline, 5 retries from 100 ms
  options.call.retry.jitter = 0;
  options.concurrency = 2;
  server_.service().SetDelay(absl::Milliseconds(5));
  BatchClientSummary summary;
  absl::Status status;
  std::thread run(
      [&] { status = RunBatchClient(options, **client, &summary); });
  while (server_.service().answered_batches().size() < 10) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  server_.Stop();
  const size_t answered_at_stop = server_.service().answered_batches().size();
  absl::SleepFor(absl::Seconds(4));
  ASSERT_TRUE(server_.Start());
  run.join();
  ASSERT_OK(status);
  EXPECT_GT(summary.retries, 0);
  EXPECT_LT(answered_at_stop, 100u);  // the restart came mid-run

  BatchClientOptions clean = Options(queries);
  clean.output_path = Output("clean.json");
  BatchClientSummary clean_summary;
  ASSERT_OK(RunBatchClient(clean, *client_, &clean_summary));
  EXPECT_EQ(*common::ReadFile(Output()),
            *common::ReadFile(Output("clean.json")));
}

TEST_F(BatchClientTest, ResumeAfterInterruptedRunSendsNoChunkTwice) {
  const std::string queries = WriteQueries(NumberedQueries(38));  // 10 chunks
  BatchClientOptions options = Options(queries);
  options.max_chunks = 4;
  BatchClientSummary summary;
  EXPECT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("4 of 10 chunks are saved")));
  EXPECT_FALSE(Exists(Output()));
  EXPECT_EQ(server_.service().answered_batches().size(), 4u);
  EXPECT_EQ(summary.chunks_done, 4);

  options.max_chunks = 0;
  options.resume = true;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  EXPECT_EQ(summary.chunks_resumed, 4);
  EXPECT_EQ(summary.queries_resumed, 16);
  EXPECT_EQ(summary.queries_this_run, 38 - 16);
  const auto batches = server_.service().answered_batches();
  EXPECT_EQ(batches.size(), 10u);
  std::set<std::string> first_texts;
  for (const auto& batch : batches) first_texts.insert(batch.front());
  EXPECT_EQ(first_texts.size(), 10u) << "a chunk was sent twice";
  EXPECT_EQ(AnsweredTexts().size(), 38u);

  // The result equals a clean run's, byte for byte.
  BatchClientOptions clean = Options(queries);
  clean.output_path = Output("clean.json");
  ASSERT_OK(RunBatchClient(clean, *client_, &summary));
  EXPECT_EQ(*common::ReadFile(Output()),
            *common::ReadFile(Output("clean.json")));
}

TEST_F(BatchClientTest, ResumeDropsATornLastLine) {
  const std::string queries = WriteQueries(NumberedQueries(10));
  BatchClientOptions options = Options(queries);
  options.concurrency = 1;
  options.max_chunks = 1;
  BatchClientSummary summary;
  ASSERT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kAborted, ::testing::_));
  const std::string journal = JournalPathFor(Output());
  absl::StatusOr<std::string> contents = common::ReadFile(journal);
  ASSERT_OK(contents);
  ASSERT_OK(common::WriteFileAtomically(
      journal, *contents + "{\"chunk\": 1, \"names\": [[\"x.jpg\""));
  options.max_chunks = 0;
  options.resume = true;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  EXPECT_EQ(summary.chunks_resumed, 1);
  absl::StatusOr<eval::Submission> submission = eval::ReadSubmission(Output());
  ASSERT_OK(submission);
  ASSERT_EQ(submission->results.size(), 10u);
  EXPECT_EQ(submission->results[4].image_names,
            FakeImageNames("query number 4: a white Audi.", 3));
}

TEST_F(BatchClientTest, ResumeRefusesAJournalOfAnotherRun) {
  const std::string queries = WriteQueries(NumberedQueries(10));
  BatchClientOptions options = Options(queries);
  options.max_chunks = 1;
  BatchClientSummary summary;
  ASSERT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kAborted, ::testing::_));

  options.max_chunks = 0;
  EXPECT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("journal of an unfinished run"),
                             HasSubstr("--resume"))));
  options.resume = true;
  options.chunk_size = 5;
  EXPECT_THAT(
      RunBatchClient(options, *client_, &summary),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("chunk size 4"), HasSubstr("--chunk_size=4"))));
  options.chunk_size = 4;
  options.top_k = 10;
  EXPECT_THAT(
      RunBatchClient(options, *client_, &summary),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("top_k 3")));
  options.top_k = 3;
  // The journal was written without a category: auto is another run.
  options.category = retrieval::v1::CATEGORY_AUTO;
  EXPECT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("category unspecified"),
                             HasSubstr("this run has auto"),
                             HasSubstr("--category=unspecified"))));
  options.category = retrieval::v1::CATEGORY_UNSPECIFIED;
  WriteQueries(NumberedQueries(11));
  EXPECT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("SHA-256"), HasSubstr("10 lines"))));
  EXPECT_FALSE(Exists(Output()));
}

TEST_F(BatchClientTest, CorruptJournalLineIsDataLoss) {
  const std::string queries = WriteQueries(NumberedQueries(10));
  BatchClientOptions options = Options(queries);
  options.max_chunks = 1;
  BatchClientSummary summary;
  ASSERT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kAborted, ::testing::_));
  const std::string journal = JournalPathFor(Output());
  absl::StatusOr<std::string> contents = common::ReadFile(journal);
  ASSERT_OK(contents);
  const size_t header_end = contents->find('\n') + 1;
  ASSERT_OK(common::WriteFileAtomically(
      journal, contents->substr(0, header_end) + "{\"chunk\": 99}\n" +
                   contents->substr(header_end)));
  options.max_chunks = 0;
  options.resume = true;
  EXPECT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(journal + ":2:"), HasSubstr("99"))));
}

TEST_F(BatchClientTest, ResumeWithoutJournalStartsFresh) {
  const std::string queries = WriteQueries(NumberedQueries(5));
  BatchClientOptions options = Options(queries);
  options.resume = true;
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  EXPECT_EQ(summary.chunks_resumed, 0);
  EXPECT_EQ(summary.queries_this_run, 5);
}

TEST_F(BatchClientTest, CancelStopsBeforeSending) {
  const std::string queries = WriteQueries(NumberedQueries(5));
  BatchClientOptions options = Options(queries);
  std::atomic<bool> cancel{true};
  options.cancel = &cancel;
  BatchClientSummary summary;
  EXPECT_THAT(RunBatchClient(options, *client_, &summary),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("--resume")));
  EXPECT_EQ(server_.service().total_calls(), 0);
}

TEST_F(BatchClientTest, InvalidUtf8QueryNamesTheLine) {
  const std::string queries = WriteQueries("good\nbad \xff byte\n");
  BatchClientSummary summary;
  EXPECT_THAT(
      RunBatchClient(Options(queries), *client_, &summary),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(queries + ":2")));
  EXPECT_EQ(server_.service().total_calls(), 0);
}

TEST_F(BatchClientTest, ProgressLinesGoToTheStream) {
  const std::string queries = WriteQueries(NumberedQueries(6));
  BatchClientOptions options = Options(queries);
  server_.service().SetDelay(absl::Milliseconds(60));
  options.concurrency = 1;
  options.chunk_size = 2;
  options.progress_interval = absl::Milliseconds(50);
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* stream = open_memstream(&buffer, &size);
  ASSERT_NE(stream, nullptr);
  options.progress_stream = stream;
  BatchClientSummary summary;
  ASSERT_OK(RunBatchClient(options, *client_, &summary));
  std::fclose(stream);
  const std::string text(buffer, size);
  std::free(buffer);
  EXPECT_THAT(text, HasSubstr("batch_client: "));
  EXPECT_THAT(text, HasSubstr("/6 queries ("));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
}

TEST(BatchClientOptionsTest, RejectsOutOfRangeValues) {
  BatchClientOptions options;
  options.queries_path = "q.txt";
  options.output_path = "o.json";
  EXPECT_OK(ValidateBatchClientOptions(options));
  options.chunk_size = 257;
  EXPECT_THAT(ValidateBatchClientOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("257")));
  options.chunk_size = 64;
  options.top_k = 0;
  EXPECT_THAT(ValidateBatchClientOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top_k")));
  options.top_k = 10;
  options.concurrency = 0;
  EXPECT_THAT(
      ValidateBatchClientOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("concurrency")));
}

TEST(FormatProgressTest, ShowsRateAndEta) {
  EXPECT_EQ(FormatProgress(250, 1000, 200, 2.0, false),
            "250/1000 queries (25.0%), 100.0 queries/s, ETA 0:08");
  EXPECT_EQ(FormatProgress(0, 1000, 0, 0.0, false),
            "0/1000 queries (0.0%), 0.0 queries/s, ETA --");
  EXPECT_EQ(FormatProgress(500, 1000, 500, 10.0, true),
            "[===============>              ]  50.0% 500/1000 queries  "
            "50.0 q/s  ETA 0:10");
  EXPECT_EQ(FormatEta(3723), "1:02:03");
  EXPECT_EQ(FormatEta(59), "0:59");
}

TEST(DescribeWrittenOutputTest, NamesTheOutputAndTheModelVersion) {
  BatchClientOptions options;
  options.queries_path = "q.txt";
  options.output_path = "o.json";
  BatchClientSummary summary;
  summary.queries = 3;
  summary.model_versions = {7};
  EXPECT_EQ(DescribeWrittenOutput(options, summary),
            "wrote o.json (model version 7)");
}

TEST(DescribeModelVersionsTest, NamesTheVersionsOrSaysThereAreNone) {
  EXPECT_EQ(DescribeModelVersions({}), "no model version: no query was sent");
  EXPECT_EQ(DescribeModelVersions({7}), "model version 7");
  EXPECT_EQ(DescribeModelVersions({3, 4}), "model versions 3, 4");
}

}  // namespace
}  // namespace client
