// Load generator for a retrieval server: sends Search calls from N
// concurrent streams and reports throughput, latency percentiles and status
// codes.
//
// Usage:
//   loadgen --server=HOST:PORT --queries=test/test_text.txt
//       [--concurrency=4] [--duration_s=10] [--requests=N] [--top_k=10]
//       [--category=pedestrian|vehicle] [--deadline_ms=5000]
//       [--tls_ca=roots.pem] [--auth_token_file=token]
//
// Each stream is one thread with one call in flight, cycling through the
// queries from its own starting line. Calls are not retried: every failure
// is counted under its status code. The run stops after --requests calls or
// --duration_s seconds, whichever comes first (with neither flag: 10 s).
// The report goes to stdout.
//
// Exit status: 0 at least one call succeeded; 1 none did, or the queries
// file could not be read; 2 bad flags.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli_util.h"
#include "client/grpc_client.h"
#include "client/loadgen.h"
#include "common/status_macros.h"
#include "eval/labels.h"

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
          "Restrict hits to one category: pedestrian or vehicle. Default: "
          "none (whole gallery).");
ABSL_FLAG(int, deadline_ms, 5000,
          "Deadline of each call in milliseconds. Default: 5000.");
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
    return absl::InvalidArgumentError(absl::StrCat(
        "--duration_s must be in [0, 604800], got ", duration_s));
  }
  options->requests = absl::GetFlag(FLAGS_requests);
  if (options->requests < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--requests must be >= 0, got ", options->requests));
  }
  options->duration = duration_s > 0 ? absl::Seconds(duration_s)
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
  return client::ValidateLoadgenOptions(*options);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = client::ParseFlagsOrExit(
      argc, argv,
      "Sends Search calls from concurrent streams and reports QPS, latency "
      "percentiles and status codes.\n"
      "  loadgen --server=HOST:PORT --queries=test_text.txt --concurrency=8 "
      "--duration_s=30");
  if (positional.size() > 1) {
    std::fprintf(stderr, "loadgen: unexpected argument \"%s\" (see --help)\n",
                 positional[1]);
    return client::kExitBadFlags;
  }
  client::ConnectionOptions connection;
  client::LoadgenOptions options;
  std::string queries_path;
  if (const absl::Status status =
          ParseFlags(&connection, &options, &queries_path);
      !status.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", std::string(status.message()).c_str());
    return client::kExitBadFlags;
  }
  const absl::StatusOr<std::vector<std::string>> queries =
      eval::ReadQueryFile(queries_path);
  if (!queries.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", queries.status().ToString().c_str());
    return client::kExitFailure;
  }
  absl::StatusOr<std::unique_ptr<client::RetrievalClient>> retrieval =
      client::RetrievalClient::Connect(connection);
  if (!retrieval.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", retrieval.status().ToString().c_str());
    return client::kExitFailure;
  }
  std::fprintf(stderr,
               "loadgen: %d streams, %zu queries, stopping after %s%s%s\n",
               options.concurrency, queries->size(),
               options.requests > 0
                   ? absl::StrCat(options.requests, " requests").c_str()
                   : "",
               options.requests > 0 && options.duration > absl::ZeroDuration()
                   ? " or "
                   : "",
               options.duration > absl::ZeroDuration()
                   ? absl::FormatDuration(options.duration).c_str()
                   : "");
  const absl::StatusOr<client::LoadStats> stats =
      client::RunLoadgen(options, *queries, **retrieval);
  if (!stats.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", stats.status().ToString().c_str());
    return client::kExitFailure;
  }
  std::fputs(client::FormatLoadStats(*stats).c_str(), stdout);
  std::fflush(stdout);
  if (stats->ok == 0) {
    std::fprintf(stderr, "loadgen: no call succeeded\n");
    return client::kExitFailure;
  }
  return client::kExitOk;
}
