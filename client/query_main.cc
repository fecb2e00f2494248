// Sends one text query to a retrieval server and prints the ranked images;
// optionally draws them as a contact sheet.
//
// Usage:
//   query --server=HOST:PORT --text="This is a white Audi." [--top_k=10]
//       [--category=pedestrian|vehicle|auto] [--deadline_ms=10000]
//       [--tls_ca=roots.pem] [--auth_token_file=token]
//       [--images_dir=test/images --sheet=results.png [--columns=5]
//        [--thumb_size=160]]
//
// Prints the model version and the category searched (for --category=auto,
// the one the server's model predicted), then a table (rank, score, image
// name, category, similarity) on stdout; score and similarity differ when
// the server re-ranks. With --images_dir and --sheet, also writes a PNG grid
// of the hits' thumbnails (read from DIR/<image name>; missing files are grey
// placeholders) titled with the query. Image names come from the server: a
// name that would leave DIR (absolute, or with a ".." component) is not
// opened but reported on stderr and drawn as a placeholder, and names are
// printed with control bytes escaped as \xNN.
//
// Exit status: 0 success; 1 the call or the sheet failed; 2 bad flags.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli_util.h"
#include "client/contact_sheet.h"
#include "client/grpc_client.h"
#include "common/exit_code.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/image_file.h"
#include "common/status_macros.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, server, "",
          "Server address HOST:PORT (or a gRPC URI such as dns:///host:port). "
          "Required.");
ABSL_FLAG(std::string, text, "",
          "The description to search for. Required unless --image is given.");
ABSL_FLAG(std::string, image, "",
          "Search by example instead: a JPEG, PNG, BMP or WebP file, sent as "
          "is and preprocessed by the server as its gallery was. Default: "
          "none.");
ABSL_FLAG(int, top_k, 10, "Number of hits, in [1, 1000]. Default: 10.");
ABSL_FLAG(int, offset, 0,
          "Skip this many best hits (paging): ranks offset+1 .. offset+top_k "
          "are printed. offset + top_k <= 1000. Default: 0.");
ABSL_FLAG(int64_t, model_version, 0,
          "Model version to answer with; 0: the server's default. Default: "
          "0.");
ABSL_FLAG(std::string, vehicle_color, "",
          "Keep only vehicles whose recorded colour is this word (the "
          "model's vocabulary, e.g. red). Default: any.");
ABSL_FLAG(std::string, vehicle_type, "",
          "Keep only vehicles of this recorded type (e.g. sedan). Default: "
          "any.");
ABSL_FLAG(std::string, vehicle_brand, "",
          "Keep only vehicles of this recorded brand (e.g. Audi). Default: "
          "any.");
ABSL_FLAG(std::string, pedestrian_flags, "",
          "Keep only pedestrians with these recorded flags: NAME=1 (present) "
          "or NAME=0 (absent), comma-separated, e.g. Hat=1,Backpack=0. "
          "Default: none.");
ABSL_FLAG(std::string, category, "",
          "Restrict hits to one category: pedestrian, vehicle, or auto (the "
          "server routes each text to the category its model predicts from "
          "the text; the whole gallery on a model without attribute heads). "
          "Default: none (whole gallery).");
ABSL_FLAG(int, deadline_ms, 10000,
          "Deadline of each call attempt in milliseconds. Default: 10000.");
ABSL_FLAG(int, retries, 2,
          "Retries after UNAVAILABLE or DEADLINE_EXCEEDED, with exponential "
          "backoff. Default: 2.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of root certificates; turns TLS on. Default: none "
          "(plaintext).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Host name to check the server certificate against, when it differs "
          "from the host in --server. Requires --tls_ca. Default: none.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token, sent as 'authorization: Bearer "
          "<token>'. Default: none.");
ABSL_FLAG(std::string, images_dir, "",
          "Directory holding the gallery images (DIR/<image name>). Used with "
          "--sheet. Default: none.");
ABSL_FLAG(std::string, sheet, "",
          "Write a contact sheet of the hits here (.png, .jpg or .jpeg). "
          "Requires --images_dir. Default: none.");
ABSL_FLAG(bool, health, false,
          "Instead of searching, ask the standard grpc.health.v1 service "
          "whether the server is SERVING; exit 0 if it is, 1 otherwise "
          "(container and Kubernetes health checks). --text is not needed.");
ABSL_FLAG(int, columns, 5, "Thumbnails per row of the sheet. Default: 5.");
ABSL_FLAG(int, thumb_size, 160,
          "Side of a thumbnail box of the sheet in pixels, in [32, 1024]. "
          "Default: 160.");

namespace {

struct QueryFlags {
  client::ConnectionOptions connection;
  client::CallOptions call;
  retrieval::v1::SearchRequest request;
  std::string images_dir;
  std::string sheet;
  client::ContactSheetOptions sheet_options;
  bool health = false;
};

// Asks grpc.health.v1.Health/Check about the retrieval service.
absl::Status CheckHealth(const QueryFlags& flags) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                   client::CreateChannel(flags.connection, flags.call.retry));
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(client::DeadlineFromNow(flags.call.deadline));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("retrieval.v1.TextImageRetrieval");
  grpc::health::v1::HealthCheckResponse response;
  RETURN_IF_ERROR(
      common::FromGrpcStatus(stub->Check(&ctx, request, &response)));
  std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                          response.status())
                          .c_str());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError("the server is not serving");
  }
  return absl::OkStatus();
}

absl::StatusOr<QueryFlags> FlagsToOptions() {
  QueryFlags flags;
  flags.connection.server = absl::GetFlag(FLAGS_server);
  flags.connection.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  flags.connection.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  flags.connection.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  RETURN_IF_ERROR(client::ValidateConnectionOptions(flags.connection));
  const std::string text = absl::GetFlag(FLAGS_text);
  const std::string image = absl::GetFlag(FLAGS_image);
  flags.health = absl::GetFlag(FLAGS_health);
  if (text.empty() == image.empty() && !flags.health) {
    return absl::InvalidArgumentError("give exactly one of --text and --image");
  }
  if (!image.empty()) {
    ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(image));
    flags.request.set_image(std::move(bytes));
  }
  flags.request.set_offset(absl::GetFlag(FLAGS_offset));
  flags.request.set_model_version(absl::GetFlag(FLAGS_model_version));
  retrieval::v1::AttributeFilter* filter = flags.request.mutable_filter();
  filter->set_vehicle_color(absl::GetFlag(FLAGS_vehicle_color));
  filter->set_vehicle_type(absl::GetFlag(FLAGS_vehicle_type));
  filter->set_vehicle_brand(absl::GetFlag(FLAGS_vehicle_brand));
  for (absl::string_view item : absl::StrSplit(
           absl::GetFlag(FLAGS_pedestrian_flags), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, '=');
    if (kv.first.empty() || (kv.second != "0" && kv.second != "1")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--pedestrian_flags: '", item, "' is not NAME=0 or NAME=1"));
    }
    (*filter->mutable_pedestrian_flags())[kv.first] = kv.second == "1";
  }
  if (filter->ByteSizeLong() == 0) flags.request.clear_filter();
  const int top_k = absl::GetFlag(FLAGS_top_k);
  if (top_k < 1 || top_k > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--top_k must be in [1, 1000], got ", top_k));
  }
  ASSIGN_OR_RETURN(const retrieval::v1::Category category,
                   client::ParseCategory(absl::GetFlag(FLAGS_category)));
  if (!text.empty()) flags.request.set_text(text);
  flags.request.set_top_k(top_k);
  flags.request.set_category(category);

  const int deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  if (deadline_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--deadline_ms must be positive, got ", deadline_ms));
  }
  flags.call.deadline = absl::Milliseconds(deadline_ms);
  flags.call.retry.max_retries = absl::GetFlag(FLAGS_retries);
  RETURN_IF_ERROR(client::ValidateRetryPolicy(flags.call.retry));

  flags.images_dir = absl::GetFlag(FLAGS_images_dir);
  flags.sheet = absl::GetFlag(FLAGS_sheet);
  if (flags.sheet.empty() != flags.images_dir.empty()) {
    return absl::InvalidArgumentError(
        "--sheet and --images_dir go together: give both or neither");
  }
  if (!flags.sheet.empty()) {
    RETURN_IF_ERROR(common::ImageExtension(flags.sheet).status());
  }
  flags.sheet_options.columns = absl::GetFlag(FLAGS_columns);
  flags.sheet_options.thumb_size = absl::GetFlag(FLAGS_thumb_size);
  flags.sheet_options.title = text.empty() ? "like " + image : text;
  RETURN_IF_ERROR(client::ValidateContactSheetOptions(flags.sheet_options));
  return flags;
}

// Names come from the server: printed escaped (client::EscapeForTerminal).
void PrintTable(const retrieval::v1::SearchResponse& response,
                int flags_offset) {
  std::vector<std::string> names;
  size_t name_width = 5;  // "image"
  for (const retrieval::v1::Hit& hit : response.hits()) {
    names.push_back(client::EscapeForTerminal(hit.image_name()));
    name_width = std::max(name_width, names.back().size());
  }
  const int width = static_cast<int>(name_width);
  std::printf("%4s  %8s  %-*s  %-11s  %s\n", "rank", "score", width, "image",
              "category", "similarity");
  for (int i = 0; i < response.hits_size(); ++i) {
    const retrieval::v1::Hit& hit = response.hits(i);
    std::printf("%4d  %8.4f  %-*s  %-11s  %.4f\n", i + 1 + flags_offset,
                hit.score(), width, names[i].c_str(),
                client::CategoryName(hit.category()), hit.similarity());
  }
}

absl::Status Run(const QueryFlags& flags) {
  if (flags.health) return CheckHealth(flags);
  ASSIGN_OR_RETURN(
      std::unique_ptr<client::RetrievalClient> retrieval,
      client::RetrievalClient::Connect(flags.connection, flags.call.retry));
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(const retrieval::v1::SearchResponse response,
                   retrieval->Search(flags.request, flags.call));
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  std::printf(
      "model version %lld: %d hits in %.1f ms, category %s, %lld candidates\n",
      static_cast<long long>(response.model_version()), response.hits_size(),
      ms, client::CategoryName(response.routed_category()),
      static_cast<long long>(response.num_candidates()));
  PrintTable(response, flags.request.offset());
  std::fflush(stdout);

  if (flags.sheet.empty()) return absl::OkStatus();
  std::vector<client::SheetEntry> entries;
  for (int i = 0; i < response.hits_size(); ++i) {
    const retrieval::v1::Hit& hit = response.hits(i);
    client::SheetEntry entry;
    entry.rank = i + 1 + flags.request.offset();
    entry.score = hit.score();
    entry.image_name = hit.image_name();
    if (hit.category() != retrieval::v1::CATEGORY_UNSPECIFIED) {
      entry.note = client::CategoryName(hit.category());
    }
    entries.push_back(std::move(entry));
  }
  std::vector<std::string> placeholders, refused;
  ASSIGN_OR_RETURN(
      const cv::Mat sheet,
      client::DrawContactSheet(flags.images_dir, entries, flags.sheet_options,
                               &placeholders, &refused));
  RETURN_IF_ERROR(common::WriteImageFile(flags.sheet, sheet));
  for (const std::string& name : placeholders) {
    std::fprintf(stderr,
                 "query: no readable image %s/%s (drawn as a placeholder)\n",
                 client::EscapeForTerminal(flags.images_dir).c_str(),
                 client::EscapeForTerminal(name).c_str());
  }
  for (const std::string& why : refused) {
    std::fprintf(stderr,
                 "query: refused the image name %s under %s (not opened; "
                 "drawn as a placeholder)\n",
                 client::EscapeForTerminal(why).c_str(),
                 client::EscapeForTerminal(flags.images_dir).c_str());
  }
  std::fprintf(stderr, "query: wrote %s (%dx%d)\n",
               client::EscapeForTerminal(flags.sheet).c_str(), sheet.cols,
               sheet.rows);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = common::ParseFlagsOrExit(
      argc, argv,
      "Sends one text or image query and prints the ranked images.\n"
      "  query --server=HOST:PORT --text=\"This is a white Audi.\" "
      "[--images_dir=DIR --sheet=out.png]\n"
      "  query --server=HOST:PORT --image=crop.jpg [--vehicle_color=red]");
  if (positional.size() > 1) {
    std::fprintf(stderr, "query: unexpected argument \"%s\" (see --help)\n",
                 positional[1]);
    return common::kExitUsage;
  }
  const absl::StatusOr<QueryFlags> flags = FlagsToOptions();
  if (!flags.ok()) {
    std::fprintf(stderr, "query: %s\n",
                 std::string(flags.status().message()).c_str());
    return common::kExitUsage;
  }
  const absl::Status status = Run(*flags);
  if (!status.ok()) {
    // The message may quote the server.
    std::fprintf(stderr, "query: %s\n",
                 client::EscapeForTerminal(status.ToString()).c_str());
    return common::kExitFailure;
  }
  return common::kExitOk;
}
