// Runs a query file through a retrieval server and writes the competition's
// submission JSON.
//
// Usage:
//   batch_client --server=HOST:PORT --queries=test/test_text.txt
//       --output=submission.json [--top_k=10] [--concurrency=4]
//       [--chunk_size=64] [--deadline_ms=30000] [--retries=5]
//       [--category=pedestrian|vehicle|auto] [--tls_ca=roots.pem]
//       [--auth_token_file=token] [--resume] [--allow_failures]
//
// One entry per line of --queries, in order, texts byte-identical. Finished
// chunks are journaled to OUTPUT.partial.jsonl; after a crash or Ctrl-C,
// rerun with the same flags plus --resume to send only what is missing. A
// line the server rejects (e.g. an empty line) is reported with its line
// number; the run then fails without output unless --allow_failures, which
// writes an empty list for it.
//
// Exit status: 0 output written; 1 the run failed (server, files, rejected
// lines; no output); 2 bad flags.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/batch_client.h"
#include "client/grpc_client.h"
#include "common/exit_code.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, server, "",
          "Server address HOST:PORT (or a gRPC URI such as dns:///host:port). "
          "Required.");
ABSL_FLAG(std::string, queries, "",
          "Query file, one text per line (test_text.txt). Required.");
ABSL_FLAG(std::string, output, "",
          "Submission JSON to write (atomically, when the run is complete). "
          "The journal goes next to it as OUTPUT.partial.jsonl. Required.");
ABSL_FLAG(int, top_k, 10,
          "Image names per query, in [1, 1000]. Default: 10, "
          "the competition's cut-off.");
ABSL_FLAG(int, concurrency, 4,
          "BatchSearch calls in flight at once. Default: 4.");
ABSL_FLAG(int, chunk_size, 64,
          "Texts per BatchSearch call, in [1, 256] (the API's limit). Must "
          "match the journal's with --resume. Default: 64.");
ABSL_FLAG(int, deadline_ms, 30000,
          "Deadline of each call attempt in milliseconds. Default: 30000.");
ABSL_FLAG(int, retries, 5,
          "Retries per call after UNAVAILABLE, CANCELLED or DEADLINE_EXCEEDED, "
          "with exponential backoff (100 ms doubling up to 5 s, +-20% "
          "jitter); a retry waits for the server to be reachable again "
          "(up to --deadline_ms), so a server restart is ridden through. "
          "Default: 5.");
ABSL_FLAG(bool, retry_resource_exhausted, false,
          "Also retry RESOURCE_EXHAUSTED (server queue full). Default: false.");
ABSL_FLAG(std::string, category, "",
          "Restrict hits to one category: pedestrian, vehicle, or auto (the "
          "server routes each text to the category its model predicts from "
          "the text; the whole gallery on a model without attribute heads). "
          "Default: none (whole gallery).");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of root certificates; turns TLS on. Default: none "
          "(plaintext).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Host name to check the server certificate against, when it differs "
          "from the host in --server. Requires --tls_ca. Default: none.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token, sent as 'authorization: Bearer "
          "<token>'. Default: none.");
ABSL_FLAG(bool, resume, false,
          "Continue an interrupted run from OUTPUT.partial.jsonl (same queries "
          "file, --chunk_size, --top_k and --category). Without it an existing "
          "journal is an error. Default: false.");
ABSL_FLAG(bool, allow_failures, false,
          "Write an empty image list for lines the server rejects instead of "
          "failing the run. Default: false.");
ABSL_FLAG(std::string, progress, "auto",
          "Progress on stderr: bar (redrawn line), lines (one every "
          "--progress_interval_s), none, or auto (bar when stderr is a "
          "terminal, else lines). Default: auto.");
ABSL_FLAG(int, progress_interval_s, 10,
          "Seconds between progress lines (--progress=lines). Default: 10.");

namespace {

std::atomic<bool> interrupted{false};

void OnSigint(int) { interrupted.store(true); }

absl::StatusOr<client::BatchClientOptions> OptionsFromFlags(
    client::ConnectionOptions* connection) {
  client::BatchClientOptions options;
  connection->server = absl::GetFlag(FLAGS_server);
  connection->tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  connection->tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  connection->auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  RETURN_IF_ERROR(client::ValidateConnectionOptions(*connection));
  options.queries_path = absl::GetFlag(FLAGS_queries);
  options.output_path = absl::GetFlag(FLAGS_output);
  if (options.queries_path.empty()) {
    return absl::InvalidArgumentError("--queries is required");
  }
  if (options.output_path.empty()) {
    return absl::InvalidArgumentError("--output is required");
  }
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.chunk_size = absl::GetFlag(FLAGS_chunk_size);
  ASSIGN_OR_RETURN(options.category,
                   client::ParseCategory(absl::GetFlag(FLAGS_category)));
  const int deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  if (deadline_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--deadline_ms must be positive, got ", deadline_ms));
  }
  options.call.deadline = absl::Milliseconds(deadline_ms);
  options.call.retry.max_retries = absl::GetFlag(FLAGS_retries);
  options.call.retry.retry_resource_exhausted =
      absl::GetFlag(FLAGS_retry_resource_exhausted);
  options.resume = absl::GetFlag(FLAGS_resume);
  options.allow_failures = absl::GetFlag(FLAGS_allow_failures);

  const std::string progress = absl::GetFlag(FLAGS_progress);
  const int interval_s = absl::GetFlag(FLAGS_progress_interval_s);
  if (interval_s <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--progress_interval_s must be positive, got ", interval_s));
  }
  options.progress_interval = absl::Seconds(interval_s);
  if (progress == "auto") {
    options.progress_stream = stderr;
    options.progress_bar = ::isatty(STDERR_FILENO) == 1;
  } else if (progress == "bar" || progress == "lines") {
    options.progress_stream = stderr;
    options.progress_bar = progress == "bar";
  } else if (progress != "none") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--progress must be auto, bar, lines or none, got \"", progress, "\""));
  }
  RETURN_IF_ERROR(client::ValidateBatchClientOptions(options));
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = common::ParseFlagsOrExit(
      argc, argv,
      "Writes the competition submission JSON for a query file.\n"
      "  batch_client --server=HOST:PORT --queries=test_text.txt "
      "--output=submission.json [--resume] [--allow_failures]");
  if (positional.size() > 1) {
    std::fprintf(stderr,
                 "batch_client: unexpected argument \"%s\" (see --help)\n",
                 positional[1]);
    return common::kExitUsage;
  }
  client::ConnectionOptions connection;
  absl::StatusOr<client::BatchClientOptions> options =
      OptionsFromFlags(&connection);
  if (!options.ok()) {
    std::fprintf(stderr, "batch_client: %s\n",
                 std::string(options.status().message()).c_str());
    return common::kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<client::RetrievalClient>> retrieval =
      client::RetrievalClient::Connect(connection, options->call.retry);
  if (!retrieval.ok()) {
    std::fprintf(stderr, "batch_client: %s\n",
                 retrieval.status().ToString().c_str());
    return common::kExitFailure;
  }

  // The first Ctrl-C stops taking new chunks (finished ones stay in the
  // journal); a second one kills the process at once.
  struct sigaction action = {};
  action.sa_handler = OnSigint;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  options->cancel = &interrupted;

  client::BatchClientSummary summary;
  const absl::Status status =
      client::RunBatchClient(*options, **retrieval, &summary);

  for (const client::LineFailure& failure : summary.failures) {
    std::fprintf(stderr, "batch_client: %s:%d: rejected by the server: %s\n",
                 options->queries_path.c_str(), failure.line,
                 failure.message.c_str());
  }
  if (summary.model_versions.size() > 1) {
    std::fprintf(stderr,
                 "batch_client: warning: answers come from several model "
                 "versions (%s); the server switched versions during the run\n",
                 absl::StrJoin(summary.model_versions, ", ").c_str());
  }
  if (status.ok() || summary.chunks_done > 0) {
    // The rate counts the queries this run sent.
    const double rate =
        summary.seconds > 0 ? summary.queries_this_run / summary.seconds : 0.0;
    const int64_t done = summary.queries_resumed + summary.queries_this_run;
    std::string queries =
        done == summary.queries
            ? absl::StrCat(summary.queries, " queries")
            : absl::StrCat(done, " of ", summary.queries, " queries done");
    if (summary.queries_resumed > 0) {
      absl::StrAppend(&queries, " (", summary.queries_resumed,
                      " from the journal)");
    }
    std::fprintf(stderr,
                 "batch_client: %s, %zu failures, %.1f s, %.1f queries/s, "
                 "%lld retries\n",
                 queries.c_str(), summary.failures.size(), summary.seconds,
                 rate, static_cast<long long>(summary.retries));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "batch_client: %s\n", status.ToString().c_str());
    return common::kExitFailure;
  }
  std::fprintf(stderr, "batch_client: %s\n",
               client::DescribeWrittenOutput(*options, summary).c_str());
  return common::kExitOk;
}
