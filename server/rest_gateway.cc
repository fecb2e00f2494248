#include "server/rest_gateway.h"

#include <glog/logging.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <sys/socket.h>

#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "clip/image_preprocess.h"
#include "common/file_util.h"
#include "common/mutex.h"
#include "server/auth.h"
#include "server/web/web_assets.h"

namespace server {
namespace {

namespace fs = std::filesystem;
namespace v1 = retrieval::v1;
using Clock = std::chrono::steady_clock;

constexpr char kJsonType[] = "application/json";
constexpr char kImagesPrefix[] = "/v1/images/";
constexpr char kTimeoutHeader[] = "X-Request-Timeout-Ms";
constexpr int64_t kMaxTimeoutMs = 3'600'000;
// Gallery images of a version do not change while it is served.
constexpr char kImageCacheControl[] = "private, max-age=3600";

std::string ToStdString(google::protobuf::StringPiece s) {
  return std::string(s.data(), s.size());
}

// The request fields that hold text but are declared bytes in the proto (so
// that gRPC delivers invalid UTF-8 to the validation instead of failing to
// parse): in JSON they are strings of text, not base64. JSON text is
// Unicode, so what arrives is valid UTF-8. Other values are left alone (the
// parser then names the field).
void TextFieldsToBase64(absl::string_view type, nlohmann::json& j) {
  const auto encode = [](nlohmann::json& v) {
    if (v.is_string()) v = absl::Base64Escape(v.get<std::string>());
  };
  if (!j.is_object()) return;
  if (type == "retrieval.v1.SearchRequest") {
    if (j.contains("text")) encode(j["text"]);
  } else if (type == "retrieval.v1.BatchSearchRequest") {
    if (!j.contains("requests") || !j["requests"].is_array()) return;
    for (nlohmann::json& r : j["requests"]) {
      if (r.is_object() && r.contains("text")) encode(r["text"]);
    }
  } else if (type == "retrieval.v1.EncodeRequest") {
    if (!j.contains("texts") || !j["texts"].is_array()) return;
    for (nlohmann::json& t : j["texts"]) encode(t);
  }
}

// Parses a JSON body into `out` by the proto3 JSON mapping (unknown fields
// refused, both field spellings accepted), except that text fields are
// strings (TextFieldsToBase64); an empty body is the empty message.
// INVALID_ARGUMENT naming the message type and the parser's reason (which
// names an unknown or mistyped field).
template <typename Message>
absl::Status ParseJson(const std::string& body, Message* out) {
  const std::string& type = Message::descriptor()->full_name();
  std::string json(absl::StripAsciiWhitespace(body));
  if (json.empty()) json = "{}";
  nlohmann::json tree = nlohmann::json::parse(json, nullptr, false);
  if (!tree.is_discarded()) {
    TextFieldsToBase64(type, tree);
    try {
      json = tree.dump();
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the request body is not JSON of ", type, ": ", e.what()));
    }
  }
  // Otherwise the protobuf parser reports what is wrong with the body.
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto st =
      google::protobuf::util::JsonStringToMessage(json, out, options);
  if (st.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the request body is not JSON of ", type, ": ",
                   ToStdString(st.message())));
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  const auto st =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot write ", message.GetDescriptor()->full_name(),
                     " as JSON: ", ToStdString(st.message())));
  }
  return out;
}

void Reply(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatusFor(status.code());
  res.set_content(StatusJson(status), kJsonType);
}

// Starts an asynchronous RetrievalApi call with a callback and waits for its
// answer (the callback runs exactly once, possibly inline).
template <typename Response, typename StartFn>
absl::StatusOr<Response> Await(StartFn start) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<Response>>>();
  std::future<absl::StatusOr<Response>> future = promise->get_future();
  start([promise](absl::StatusOr<Response> result) {
    promise->set_value(std::move(result));
  });
  return future.get();
}

// The single value of query parameter `name` or of its lowerCamelCase
// spelling `camel`; nullopt when neither is given. INVALID_ARGUMENT when it
// is given more than once.
absl::StatusOr<std::optional<std::string>> QueryParam(
    const httplib::Request& req, const char* name, const char* camel) {
  std::optional<std::string> value;
  int count = 0;
  std::vector<std::string> keys = {name};
  if (keys[0] != camel) keys.push_back(camel);
  for (const std::string& key : keys) {
    const auto range = req.params.equal_range(key);
    for (auto it = range.first; it != range.second; ++it) {
      ++count;
      value = it->second;
    }
  }
  if (count > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("query parameter ", name, " is given ", count, " times"));
  }
  return value;
}

// INVALID_ARGUMENT naming the first query parameter not in `known`.
absl::Status CheckQueryParams(const httplib::Request& req,
                              std::initializer_list<const char*> known) {
  for (const auto& [key, value] : req.params) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter \"", absl::CHexEscape(key),
                       "\"; known: ", absl::StrJoin(known, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IntParam(const httplib::Request& req, const char* name,
                                 const char* camel, int64_t unset) {
  auto value = QueryParam(req, name, camel);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return unset;
  int64_t out = 0;
  if (!absl::SimpleAtoi(**value, &out)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": \"", absl::CHexEscape(**value), "\" is not an integer"));
  }
  return out;
}

// The Content-Type of a gallery file by its extension.
const char* ImageContentType(const std::string& name) {
  const std::string ext =
      absl::AsciiStrToLower(fs::path(name).extension().string());
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".png") return "image/png";
  if (ext == ".bmp") return "image/bmp";
  if (ext == ".webp") return "image/webp";
  return "application/octet-stream";
}

// `name` when it can be a file directly inside a directory: not empty, no
// '/', '\\', NUL or "..". INVALID_ARGUMENT otherwise.
absl::Status CheckImageName(const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("image name: empty");
  }
  if (name.find_first_of(std::string("/\\\0", 3)) != std::string::npos ||
      absl::StrContains(name, "..")) {
    return absl::InvalidArgumentError(
        absl::StrCat("image name: \"", absl::CHexEscape(name),
                     "\" is not a file name (it holds '/', '\\', NUL or "
                     "\"..\")"));
  }
  return absl::OkStatus();
}

// A JPEG of `rgb` scaled so that its longer side is `size` pixels.
absl::StatusOr<std::string> Thumbnail(const cv::Mat& rgb, int size) {
  try {
    const int longer = std::max(rgb.cols, rgb.rows);
    if (longer <= 0) return absl::DataLossError("the image is empty");
    const double scale = static_cast<double>(size) / longer;
    const int w =
        std::max(1, rgb.cols == longer
                        ? size
                        : static_cast<int>(std::lround(rgb.cols * scale)));
    const int h =
        std::max(1, rgb.rows == longer
                        ? size
                        : static_cast<int>(std::lround(rgb.rows * scale)));
    cv::Mat resized;
    cv::resize(rgb, resized, cv::Size(w, h), 0, 0,
               scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::Mat bgr;
    cv::cvtColor(resized, bgr, cv::COLOR_RGB2BGR);
    std::vector<uchar> jpeg;
    if (!cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85})) {
      return absl::InternalError("the thumbnail cannot be encoded as JPEG");
    }
    return std::string(jpeg.begin(), jpeg.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(
        absl::StrCat("the thumbnail cannot be made: ", e.what()));
  }
}

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string StatusJson(const absl::Status& status) {
  // The message is escaped as JSON requires: quote, backslash and control
  // bytes; the rest (UTF-8 included) is copied.
  std::string message;
  for (const char c : status.message()) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      message += '\\';
      message += c;
    } else if (u < 0x20) {
      absl::StrAppend(&message, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      message += c;
    }
  }
  return absl::StrCat("{\"code\":", static_cast<int>(status.code()),
                      ",\"status\":\"", absl::StatusCodeToString(status.code()),
                      "\",\"message\":\"", message, "\"}\n");
}

struct RestGateway::Impl {
  RestGatewayOptions options;
  RetrievalApi* api = nullptr;
  Metrics* metrics = nullptr;
  std::function<bool()> serving;
  std::string auth_header;  // "Bearer <token>"; empty: no authentication
  std::unique_ptr<httplib::Server> http;
  int port = 0;
  std::thread thread;

  // The gallery names of each version seen, for GET /v1/images: built once
  // per version, dropped when a newer load replaces it.
  struct Gallery {
    std::weak_ptr<const ServedModel> model;
    std::shared_ptr<const absl::flat_hash_set<std::string>> names;
  };
  common::Mutex mu;
  std::map<int64_t, Gallery> galleries ABSL_GUARDED_BY(mu);

  void Dispatch(const httplib::Request& req, httplib::Response& res);
  // Answers 405 and returns false unless the method is one of `allow` (a
  // comma-separated list; GET also allows HEAD).
  bool Allowed(const httplib::Request& req, httplib::Response& res,
               const char* allow) const;
  absl::Status Authenticate(const httplib::Request& req) const;
  absl::StatusOr<ApiCall> MakeCall(const httplib::Request& req) const;
  // Authenticates and runs `handle`, which returns the JSON body, and
  // records the request's metrics as `method`.
  template <typename Handle>
  void Api(const httplib::Request& req, httplib::Response& res,
           const char* method, Handle handle);
  // Parses the body as `Request`, runs `run` and writes its Response as
  // JSON.
  template <typename Request, typename Run>
  void JsonApi(const httplib::Request& req, httplib::Response& res,
               const char* method, Run run);
  absl::Status Image(const httplib::Request& req, httplib::Response& res);
  std::shared_ptr<const absl::flat_hash_set<std::string>> GalleryNames(
      const std::shared_ptr<const ServedModel>& model);
};

bool RestGateway::Impl::Allowed(const httplib::Request& req,
                                httplib::Response& res,
                                const char* allow) const {
  for (absl::string_view m : absl::StrSplit(allow, ", ")) {
    if (req.method == m || (m == "GET" && req.method == "HEAD")) return true;
  }
  res.set_header("Allow", allow);
  Reply(res,
        absl::UnimplementedError(absl::StrCat(req.method, " is not allowed on ",
                                              req.path, "; use ", allow)));
  res.status = 405;
  return false;
}

absl::Status RestGateway::Impl::Authenticate(
    const httplib::Request& req) const {
  if (auth_header.empty()) return absl::OkStatus();
  std::vector<absl::string_view> values;
  const auto range = req.headers.equal_range("Authorization");
  for (auto it = range.first; it != range.second; ++it) {
    values.push_back(it->second);
  }
  return CheckBearerToken(values, auth_header, "header");
}

absl::StatusOr<ApiCall> RestGateway::Impl::MakeCall(
    const httplib::Request& req) const {
  ApiCall call;
  std::chrono::milliseconds timeout = options.default_timeout;
  if (req.get_header_value_count(kTimeoutHeader) > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(kTimeoutHeader, ": given more than once"));
  }
  if (req.has_header(kTimeoutHeader)) {
    const std::string value = req.get_header_value(kTimeoutHeader);
    int64_t ms = 0;
    if (!absl::SimpleAtoi(value, &ms) || ms < 1 || ms > kMaxTimeoutMs) {
      return absl::InvalidArgumentError(
          absl::StrCat(kTimeoutHeader, ": \"", absl::CHexEscape(value),
                       "\" is not a whole number of milliseconds in [1, ",
                       kMaxTimeoutMs, "]"));
    }
    timeout = std::chrono::milliseconds(ms);
  }
  call.deadline = Clock::now() + timeout;
  call.connection =
      absl::StrCat("rest:", req.remote_addr, ":", req.remote_port);
  return call;
}

template <typename Handle>
void RestGateway::Impl::Api(const httplib::Request& req, httplib::Response& res,
                            const char* method, Handle handle) {
  const Clock::time_point start = Clock::now();
  absl::Status status = Authenticate(req);
  int64_t version = 0;  // the version that answered, for the metrics
  if (status.ok()) status = handle(&version);
  if (!status.ok()) {
    VLOG(1) << "REST " << method << " failed: " << status;
    Reply(res, status);
  }
  metrics->RecordRequest(
      absl::StrCat("rest:", method), absl::StatusCodeToString(status.code()),
      std::chrono::duration<double>(Clock::now() - start).count(),
      status.ok() ? version : 0);
}

template <typename Request, typename Run>
void RestGateway::Impl::JsonApi(const httplib::Request& req,
                                httplib::Response& res, const char* method,
                                Run run) {
  Api(req, res, method, [&](int64_t* version) -> absl::Status {
    absl::StatusOr<ApiCall> call = MakeCall(req);
    if (!call.ok()) return call.status();
    Request request;
    if (absl::Status st = ParseJson(req.body, &request); !st.ok()) return st;
    auto response = run(request, *call);
    if (!response.ok()) return response.status();
    *version = AnsweringVersion(*response);
    absl::StatusOr<std::string> json = ToJson(*response);
    if (!json.ok()) return json.status();
    res.set_content(std::move(*json), kJsonType);
    return absl::OkStatus();
  });
}

std::shared_ptr<const absl::flat_hash_set<std::string>>
RestGateway::Impl::GalleryNames(
    const std::shared_ptr<const ServedModel>& model) {
  common::MutexLock lock(&mu);
  Gallery& g = galleries[model->version];
  if (g.names == nullptr || g.model.lock() != model) {
    auto names = std::make_shared<absl::flat_hash_set<std::string>>(
        model->index->names().begin(), model->index->names().end());
    g.model = model;
    g.names = std::move(names);
  }
  auto out = g.names;
  for (auto it = galleries.begin(); it != galleries.end();) {
    it = it->second.model.expired() ? galleries.erase(it) : std::next(it);
  }
  return out;
}

absl::Status RestGateway::Impl::Image(const httplib::Request& req,
                                      httplib::Response& res) {
  const std::string name = req.path.substr(sizeof(kImagesPrefix) - 1);
  if (absl::Status st = CheckImageName(name); !st.ok()) return st;
  if (absl::Status st =
          CheckQueryParams(req, {"model_version", "modelVersion", "size"});
      !st.ok()) {
    return st;
  }
  absl::StatusOr<int64_t> version =
      IntParam(req, "model_version", "modelVersion", 0);
  if (!version.ok()) return version.status();
  absl::StatusOr<int64_t> size =
      IntParam(req, "size", "size", kDefaultThumbnail);
  if (!size.ok()) return size.status();
  if (*size != 0 && (*size < kMinThumbnail || *size > kMaxThumbnail)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "size: ", *size, " is neither 0 (the original file) nor in [",
        kMinThumbnail, ", ", kMaxThumbnail, "] (a thumbnail's longer side)"));
  }
  if (*version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_version: ", *version, " is negative"));
  }
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      api->ResolveVersion(*version);
  if (!model.ok()) return model.status();
  const int64_t served = (*model)->version;
  const std::string& dir = options.gallery_images_dir.empty()
                               ? (*model)->manifest.dataset
                               : options.gallery_images_dir;
  if (dir.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model version ", served,
        " records no image directory (its manifest's dataset is empty) and "
        "the server was started without --gallery_images_dir"));
  }
  if (!GalleryNames(*model)->contains(name)) {
    return absl::NotFoundError(
        absl::StrCat("image \"", absl::CHexEscape(name),
                     "\" is not in the gallery of model version ", served));
  }
  // The file must resolve to a path inside the directory: a symbolic link
  // out of it (or a directory component that is one) is refused.
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) {
    LOG_EVERY_N(WARNING, 100) << "image directory " << dir << " of version "
                              << served << ": " << ec.message();
    return absl::FailedPreconditionError(
        absl::StrCat("the image directory of model version ", served,
                     " cannot be read on the server"));
  }
  const fs::path file = fs::canonical(root / name, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("image \"", name,
                                            "\" of model version ", served,
                                            " is not in its image directory"));
  }
  const std::string root_prefix = root.string() + "/";
  if (!absl::StartsWith(file.string(), root_prefix)) {
    return absl::PermissionDeniedError(
        absl::StrCat("image \"", name, "\" of model version ", served,
                     " resolves outside its image directory"));
  }
  if (*size == 0) {
    absl::StatusOr<std::string> bytes = common::ReadFile(file.string());
    if (!bytes.ok()) {
      LOG_EVERY_N(WARNING, 100) << bytes.status();
      return absl::Status(bytes.status().code(),
                          absl::StrCat("image \"", name, "\" cannot be read"));
    }
    res.set_header("Cache-Control", kImageCacheControl);
    res.set_content(std::move(*bytes), ImageContentType(name));
    return absl::OkStatus();
  }
  absl::StatusOr<cv::Mat> rgb = clip::DecodeImageFile(file.string());
  if (!rgb.ok()) {
    LOG_EVERY_N(WARNING, 100) << rgb.status();
    return absl::DataLossError(
        absl::StrCat("image \"", name, "\" cannot be decoded"));
  }
  absl::StatusOr<std::string> jpeg = Thumbnail(*rgb, static_cast<int>(*size));
  if (!jpeg.ok()) return jpeg.status();
  res.set_header("Cache-Control", kImageCacheControl);
  res.set_content(std::move(*jpeg), "image/jpeg");
  return absl::OkStatus();
}

void RestGateway::Impl::Dispatch(const httplib::Request& req,
                                 httplib::Response& res) {
  const std::string& path = req.path;
  if (path == "/healthz") {
    if (!Allowed(req, res, "GET")) return;
    const bool ok = serving();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "SERVING\n" : "NOT_SERVING\n",
                    "text/plain; charset=utf-8");
    return;
  }
  if (path == "/" || absl::StartsWith(path, "/static/")) {
    const web::WebAsset* asset = web::FindWebAsset(path);
    if (asset == nullptr) {
      Reply(res, absl::NotFoundError(absl::StrCat("no page ", path)));
      return;
    }
    if (!Allowed(req, res, "GET")) return;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(asset->body.data(), asset->body.size(),
                    std::string(asset->content_type).c_str());
    return;
  }
  if (path == "/v1/search") {
    if (!Allowed(req, res, "POST")) return;
    JsonApi<v1::SearchRequest>(
        req, res, "Search", [this](const auto& request, const ApiCall& call) {
          return Await<v1::SearchResponse>(
              [&](auto done) { api->Search(request, call, std::move(done)); });
        });
    return;
  }
  if (path == "/v1/batchSearch") {
    if (!Allowed(req, res, "POST")) return;
    JsonApi<v1::BatchSearchRequest>(
        req, res, "BatchSearch",
        [this](const auto& request, const ApiCall& call) {
          return Await<v1::BatchSearchResponse>([&](auto done) {
            api->BatchSearch(request, call, std::move(done));
          });
        });
    return;
  }
  if (path == "/v1/encode") {
    if (!Allowed(req, res, "POST")) return;
    JsonApi<v1::EncodeRequest>(
        req, res, "Encode", [this](const auto& request, const ApiCall& call) {
          return Await<v1::EncodeResponse>(
              [&](auto done) { api->Encode(request, call, std::move(done)); });
        });
    return;
  }
  if (path == "/v1/modelInfo") {
    if (!Allowed(req, res, "GET, POST")) return;
    JsonApi<v1::GetModelInfoRequest>(
        req, res, "GetModelInfo",
        [this, &req](v1::GetModelInfoRequest request, const ApiCall&)
            -> absl::StatusOr<v1::GetModelInfoResponse> {
          if (req.method != "POST") {
            if (!absl::StripAsciiWhitespace(req.body).empty()) {
              return absl::InvalidArgumentError(
                  "GET /v1/modelInfo takes no body; send model_version as a "
                  "query parameter or POST the GetModelInfoRequest");
            }
            if (absl::Status st =
                    CheckQueryParams(req, {"model_version", "modelVersion"});
                !st.ok()) {
              return st;
            }
            absl::StatusOr<int64_t> version =
                IntParam(req, "model_version", "modelVersion", 0);
            if (!version.ok()) return version.status();
            request.set_model_version(*version);
          }
          return api->GetModelInfo(request);
        });
    return;
  }
  if (absl::StartsWith(path, kImagesPrefix)) {
    if (!Allowed(req, res, "GET")) return;
    Api(req, res, "GetImage", [&](int64_t*) { return Image(req, res); });
    return;
  }
  Reply(res, absl::NotFoundError(absl::StrCat("no route ", path)));
}

absl::StatusOr<std::unique_ptr<RestGateway>> RestGateway::Start(
    const RestGatewayOptions& options, RetrievalApi* api, Metrics* metrics,
    std::function<bool()> serving) {
  if (options.threads < 1) {
    return absl::InvalidArgumentError("--http_threads must be >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->api = api;
  impl->metrics = metrics;
  impl->serving = std::move(serving);
  if (!options.auth_token.empty()) {
    impl->auth_header = "Bearer " + options.auth_token;
  }
  if (!options.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(),
                                                    options.tls_key.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls_cert/--tls_key: ", options.tls_cert, " and ", options.tls_key,
          " cannot be loaded as the HTTPS certificate and key"));
    }
    impl->http = std::move(ssl);
  } else {
    impl->http = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *impl->http;
  const int threads = options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // A request must arrive without a 5 s pause in its bytes; an idle
  // kept-alive connection is closed after kKeepAliveSeconds.
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_keep_alive_timeout(kKeepAliveSeconds);
  http.set_keep_alive_max_count(1000);
  http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  // SO_REUSEADDR only: cpp-httplib's default SO_REUSEPORT would let a second
  // server share the port unnoticed.
  http.set_socket_options([](socket_t sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  // cpp-httplib writes a response's headers and body separately: without
  // TCP_NODELAY, Nagle's algorithm holds the body until the client's delayed
  // ACK (some 40 ms on Linux) on every kept-alive request.
  http.set_tcp_nodelay(true);
  Impl* raw = impl.get();
  const auto dispatch = [raw](const httplib::Request& req,
                              httplib::Response& res) {
    raw->Dispatch(req, res);
  };
  http.Get(".*", dispatch);
  http.Post(".*", dispatch);
  http.Put(".*", dispatch);
  http.Patch(".*", dispatch);
  http.Delete(".*", dispatch);
  http.Options(".*", dispatch);
  const int64_t max_body = options.max_body_bytes;
  // Errors cpp-httplib answers itself (a body over the limit, a malformed
  // request line) get a google.rpc.Status body too.
  http.set_error_handler(
      [max_body](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string message =
            res.status == 413
                ? absl::StrCat("the request body exceeds ", max_body, " bytes")
                : absl::StrCat("the request cannot be served (HTTP ",
                               res.status, ")");
        const absl::StatusCode code =
            res.status == 404  ? absl::StatusCode::kNotFound
            : res.status < 500 ? absl::StatusCode::kInvalidArgument
                               : absl::StatusCode::kInternal;
        res.set_content(StatusJson(absl::Status(code, message)), kJsonType);
      });
  if (options.port == 0) {
    impl->port = http.bind_to_any_port(options.host);
  } else if (http.bind_to_port(options.host, options.port)) {
    impl->port = options.port;
  } else {
    impl->port = -1;
  }
  if (impl->port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on HTTP port ", options.host, ":", options.port,
        ": the port is in use or the host is not an address of this machine"));
  }
  impl->thread = std::thread([raw] { raw->http->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it.
  while (!http.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<RestGateway>(new RestGateway(std::move(impl)));
}

RestGateway::RestGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestGateway::~RestGateway() { Stop(); }

int RestGateway::port() const { return impl_->port; }

void RestGateway::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->http->stop();
  impl_->thread.join();
}

}  // namespace server
