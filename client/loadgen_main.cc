// Load generator for a retrieval server: sends Search calls from N
// concurrent streams and reports throughput, latency percentiles and status
// codes.
//
// Usage:
//   loadgen --server=HOST:PORT --queries=test/test_text.txt
//       [--concurrency=4] [--duration_s=10] [--requests=N] [--top_k=10]
//       [--category=pedestrian|vehicle|auto] [--deadline_ms=5000]
//       [--backoff_initial_ms=20] [--backoff_max_ms=2000]
//       [--invalid_fraction=F] [--seed=1] [--check_codes]
//       [--tls_ca=roots.pem] [--auth_token_file=token]
//       [--transport=grpc|rest]
//
// --transport=rest sends the same calls as JSON to the server's REST gateway
// (--server=HOST:HTTP_PORT, the server's --http_port), one kept-alive
// connection per stream, for comparing the transports' overhead.
//
// Each stream is one thread with one call in flight, cycling through the
// queries from its own starting line. Calls are not retried: every failure
// is counted under its status code. After RESOURCE_EXHAUSTED or UNAVAILABLE
// a stream waits before its next call (exponential backoff with jitter from
// --backoff_initial_ms up to --backoff_max_ms; the waits are reported per
// code). The run stops after --requests calls or --duration_s seconds,
// whichever comes first (with neither flag: 10 s). The report goes to
// stdout.
//
// --invalid_fraction=F (in [0, 1], default 0) makes that share of the
// requests invalid on purpose, chosen by --seed deterministically: request
// number i is invalid when a hash of (seed, i) is below F, in one of these
// ways, each refused by the server with INVALID_ARGUMENT: empty text,
// whitespace-only text, text over the 2,048-byte limit, invalid UTF-8, top_k
// -1, top_k 1001, an undefined category. The report then gives, for each
// status code, how many valid and how many invalid requests got it, and the
// codes of each kind of invalid request. --check_codes (bool, default false)
// makes the run fail unless every valid request got OK and every invalid
// one INVALID_ARGUMENT (the reason is printed on stderr).
//
// SIGINT or SIGTERM stops the run: no new call is issued, the calls in
// flight finish (within --deadline_ms), the report of the calls made is
// printed (first line "interrupted: ...") with the --check_codes verdict, and
// the exit status is 130 (SIGINT) or 143 (SIGTERM). A second signal ends the
// process at once.
//
// Exit status: 0 at least one call succeeded (with --check_codes: the check
// passed); 1 none did (with --check_codes: the check failed), or the queries
// file could not be read; 2 bad flags; 130 / 143 interrupted as above.
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/grpc_client.h"
#include "client/loadgen.h"
#include "common/exit_code.h"
#include "common/status_macros.h"
#include "eval/labels.h"

ABSL_FLAG(std::string, transport, "grpc",
          "grpc (TextImageRetrieval.Search) or rest (POST /v1/search on the "
          "server's REST gateway, --server=HOST:HTTP_PORT, one kept-alive "
          "connection per stream; HTTPS with --tls_ca).");
ABSL_FLAG(std::string, server, "",
          "Server address HOST:PORT (or a gRPC URI such as dns:///host:port). "
          "Required.");
ABSL_FLAG(std::string, queries, "",
          "Query file, one text per line (test_text.txt), sent in a cycle. "
          "Required.");
ABSL_FLAG(int, concurrency, 4,
          "Concurrent streams (threads, one call in flight each). Default: 4.");
ABSL_FLAG(double, duration_s, 0,
          "Stop after this many seconds. 0: no time bound if --requests is "
          "set, else 10 s. Default: 0.");
ABSL_FLAG(int64_t, requests, 0,
          "Stop after this many calls (all streams together). 0: no count "
          "bound. Default: 0.");
ABSL_FLAG(int, top_k, 10, "Hits per query, in [1, 1000]. Default: 10.");
ABSL_FLAG(std::string, category, "",
          "Restrict hits to one category: pedestrian, vehicle, or auto (the "
          "server routes each text to the category its model predicts from "
          "the text; the whole gallery on a model without attribute heads). "
          "Default: none (whole gallery).");
ABSL_FLAG(int, deadline_ms, 5000,
          "Deadline of each call in milliseconds. Default: 5000.");
ABSL_FLAG(int, backoff_initial_ms, 20,
          "Wait after a RESOURCE_EXHAUSTED or UNAVAILABLE call before the "
          "stream's next call, doubling (+-20% jitter) with each such failure "
          "in a row up to --backoff_max_ms. 0: no waits. Default: 20.");
ABSL_FLAG(int, backoff_max_ms, 2000,
          "Longest backoff wait in milliseconds. Default: 2000.");
ABSL_FLAG(double, invalid_fraction, 0,
          "Share of requests, in [0, 1], made invalid on purpose (empty, "
          "whitespace-only, too long or non-UTF-8 text, top_k -1 or 1001, "
          "undefined category), chosen deterministically by --seed. "
          "Default: 0.");
ABSL_FLAG(uint64_t, seed, 1,
          "Seed that picks the invalid requests. Default: 1.");
ABSL_FLAG(bool, check_codes, false,
          "Fail (exit 1) unless every valid request got OK and every invalid "
          "one INVALID_ARGUMENT. Default: false.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of root certificates; turns TLS on. Default: none "
          "(plaintext).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Host name to check the server certificate against, when it differs "
          "from the host in --server. Requires --tls_ca. Default: none.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token, sent as 'authorization: Bearer "
          "<token>'. Default: none.");

namespace {

std::atomic<bool> stop_requested{false};
std::atomic<int> stop_signal{0};

void OnStopSignal(int signal_number) {
  stop_signal.store(signal_number);
  stop_requested.store(true);
}

absl::Status ParseFlags(client::ConnectionOptions* connection,
                        client::LoadgenOptions* options,
                        std::string* queries_path) {
  connection->server = absl::GetFlag(FLAGS_server);
  connection->tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  connection->tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  connection->auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  RETURN_IF_ERROR(client::ValidateConnectionOptions(*connection));
  *queries_path = absl::GetFlag(FLAGS_queries);
  if (queries_path->empty()) {
    return absl::InvalidArgumentError("--queries is required");
  }
  options->concurrency = absl::GetFlag(FLAGS_concurrency);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  if (!(duration_s >= 0) || duration_s > 7 * 24 * 3600) {
    return absl::InvalidArgumentError(
        absl::StrCat("--duration_s must be in [0, 604800], got ", duration_s));
  }
  options->requests = absl::GetFlag(FLAGS_requests);
  if (options->requests < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--requests must be >= 0, got ", options->requests));
  }
  options->duration = duration_s > 0          ? absl::Seconds(duration_s)
                      : options->requests > 0 ? absl::ZeroDuration()
                                              : absl::Seconds(10);
  options->top_k = absl::GetFlag(FLAGS_top_k);
  ASSIGN_OR_RETURN(options->category,
                   client::ParseCategory(absl::GetFlag(FLAGS_category)));
  const int deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  if (deadline_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--deadline_ms must be positive, got ", deadline_ms));
  }
  options->deadline = absl::Milliseconds(deadline_ms);
  const int backoff_initial_ms = absl::GetFlag(FLAGS_backoff_initial_ms);
  const int backoff_max_ms = absl::GetFlag(FLAGS_backoff_max_ms);
  if (backoff_initial_ms < 0 || backoff_max_ms < backoff_initial_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("need 0 <= --backoff_initial_ms (", backoff_initial_ms,
                     ") <= --backoff_max_ms (", backoff_max_ms, ")"));
  }
  options->backoff.initial_backoff = absl::Milliseconds(backoff_initial_ms);
  options->backoff.max_backoff = absl::Milliseconds(backoff_max_ms);
  options->invalid_fraction = absl::GetFlag(FLAGS_invalid_fraction);
  if (!(options->invalid_fraction >= 0 && options->invalid_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--invalid_fraction must be in [0, 1], got ",
                     options->invalid_fraction));
  }
  options->seed = absl::GetFlag(FLAGS_seed);
  return client::ValidateLoadgenOptions(*options);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = common::ParseFlagsOrExit(
      argc, argv,
      "Sends Search calls from concurrent streams and reports QPS, latency "
      "percentiles and status codes.\n"
      "  loadgen --server=HOST:PORT --queries=test_text.txt --concurrency=8 "
      "--duration_s=30");
  if (positional.size() > 1) {
    std::fprintf(stderr, "loadgen: unexpected argument \"%s\" (see --help)\n",
                 positional[1]);
    return common::kExitUsage;
  }
  client::ConnectionOptions connection;
  client::LoadgenOptions options;
  std::string queries_path;
  if (const absl::Status status =
          ParseFlags(&connection, &options, &queries_path);
      !status.ok()) {
    std::fprintf(stderr, "loadgen: %s\n",
                 std::string(status.message()).c_str());
    return common::kExitUsage;
  }
  const absl::StatusOr<std::vector<std::string>> queries =
      eval::ReadQueryFile(queries_path);
  if (!queries.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", queries.status().ToString().c_str());
    return common::kExitFailure;
  }
  const std::string transport = absl::GetFlag(FLAGS_transport);
  std::unique_ptr<client::RetrievalClient> grpc_client;
  client::SenderFactory senders;
  if (transport == "grpc") {
    absl::StatusOr<std::unique_ptr<client::RetrievalClient>> retrieval =
        client::RetrievalClient::Connect(connection);
    if (!retrieval.ok()) {
      std::fprintf(stderr, "loadgen: %s\n",
                   retrieval.status().ToString().c_str());
      return common::kExitFailure;
    }
    grpc_client = std::move(*retrieval);
  } else if (transport == "rest") {
    absl::StatusOr<client::RestTarget> target =
        client::ParseRestAddress(connection.server);
    if (!target.ok()) {
      std::fprintf(stderr, "loadgen: %s\n",
                   std::string(target.status().message()).c_str());
      return common::kExitUsage;
    }
    target->tls_ca_file = connection.tls_ca_file;
    target->tls_server_name = connection.tls_server_name;
    if (!connection.auth_token_file.empty()) {
      absl::StatusOr<std::string> token =
          client::ReadBearerToken(connection.auth_token_file);
      if (!token.ok()) {
        std::fprintf(stderr, "loadgen: %s\n",
                     token.status().ToString().c_str());
        return common::kExitFailure;
      }
      target->auth_token = *token;
    }
    senders = client::RestSenders(*target);
  } else {
    std::fprintf(stderr,
                 "loadgen: --transport: \"%s\" is not one of grpc, rest\n",
                 transport.c_str());
    return common::kExitUsage;
  }
  std::fprintf(
      stderr, "loadgen: %d streams, %zu queries, stopping after %s%s%s\n",
      options.concurrency, queries->size(),
      options.requests > 0 ? absl::StrCat(options.requests, " requests").c_str()
                           : "",
      options.requests > 0 && options.duration > absl::ZeroDuration() ? " or "
                                                                      : "",
      options.duration > absl::ZeroDuration()
          ? absl::FormatDuration(options.duration).c_str()
          : "");
  // The first SIGINT / SIGTERM ends the run with a report; a second one
  // kills the process at once.
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  options.cancel = &stop_requested;

  const absl::StatusOr<client::LoadStats> stats =
      grpc_client != nullptr
          ? client::RunLoadgen(options, *queries, *grpc_client)
          : client::RunLoadgen(options, *queries, senders);
  if (!stats.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", stats.status().ToString().c_str());
    return common::kExitFailure;
  }
  std::fputs(client::FormatLoadStats(*stats).c_str(), stdout);
  std::fflush(stdout);
  int exit_code = common::kExitOk;
  if (absl::GetFlag(FLAGS_check_codes)) {
    const absl::Status check = client::CheckCodes(*stats);
    if (check.ok()) {
      std::fprintf(stderr,
                   "loadgen: codes as expected: every valid request OK, every "
                   "invalid one INVALID_ARGUMENT\n");
    } else {
      std::fprintf(stderr, "loadgen: --check_codes failed: %s\n",
                   std::string(check.message()).c_str());
      exit_code = common::kExitFailure;
    }
  } else if (stats->ok == 0) {
    std::fprintf(stderr, "loadgen: no call succeeded\n");
    exit_code = common::kExitFailure;
  }
  if (stats->interrupted) {
    const int signal_number = stop_signal.load();
    std::fprintf(stderr, "loadgen: interrupted by %s\n",
                 signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    return common::ExitCodeForSignal(signal_number == SIGTERM ? SIGTERM
                                                              : SIGINT);
  }
  return exit_code;
}
