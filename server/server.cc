#include "server/server.h"

#include <glog/logging.h>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/support/server_interceptor.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "common/torch_threads.h"
#include "rerank/reranker.h"
#include "server/batcher.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/rest_gateway.h"
#include "server/retrieval_api.h"
#include "server/retrieval_service.h"
#include "server/text_cache.h"

namespace server {

namespace {
constexpr char kServiceName[] = "retrieval.v1.TextImageRetrieval";

absl::Status FileReadable(const std::string& path, const char* flag) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path, " is not a readable file"));
  }
  return absl::OkStatus();
}

// The oldest error OpenSSL queued on this thread, or "".
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

// INVALID_ARGUMENT naming the file when `cert_pem` holds no PEM certificate,
// `key_pem` no PEM private key, or the key does not belong to the first
// certificate: gRPC would only fail to listen, without the cause.
absl::Status CheckTlsMaterial(const ServerOptions& o,
                              const std::string& cert_pem,
                              const std::string& key_pem) {
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
      &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert: ", o.tls_cert, " holds no PEM certificate (",
                     OpenSslError(), ")"));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())),
      &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
      &EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key: ", o.tls_key, " holds no unencrypted PEM private key (",
        OpenSslError(), ")"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: ", o.tls_key,
                     " is not the private key of the certificate in ",
                     o.tls_cert, " (", OpenSslError(), ")"));
  }
  return absl::OkStatus();
}

constexpr char kReflectionPrefix[] = "/grpc.reflection.";

// Serves reflection from this builder or not. Linking grpc++_reflection
// registers its plugin for every server of the process (a static
// initializer calls InitProtoReflectionServerBuilderPlugin()), so the option
// removes that plugin and, when `enable`, adds one of its own.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enable) : enable_(enable) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    const std::string name =
        grpc::reflection::ProtoServerReflectionPlugin().name();
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [&](const auto& p) { return p->name() == name; }),
        plugins->end());
    if (enable_) {
      plugins->push_back(
          std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  const bool enable_;
};

// Ends reflection calls that lack the bearer token with UNAUTHENTICATED
// before the reflection handler reads anything. The interceptor API cannot
// set a call's status, so the call is cancelled with that status in core.
class ReflectionAuthInterceptor : public grpc::experimental::Interceptor {
 public:
  ReflectionAuthInterceptor(grpc::experimental::ServerRpcInfo* info,
                            const std::string* auth_header)
      : info_(info), auth_header_(auth_header) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                POST_RECV_INITIAL_METADATA)) {
      const absl::Status status =
          CheckAuthorization(*methods->GetRecvInitialMetadata(), *auth_header_);
      if (!status.ok()) {
        VLOG(1) << info_->method() << " refused: " << status;
        const std::string message(status.message());
        grpc_call_cancel_with_status(info_->server_context()->c_call(),
                                     GRPC_STATUS_UNAUTHENTICATED,
                                     message.c_str(), nullptr);
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  const std::string* auth_header_;
};

class ReflectionAuthFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ReflectionAuthFactory(std::string auth_header)
      : auth_header_(std::move(auth_header)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (!absl::StartsWith(info->method(), kReflectionPrefix)) return nullptr;
    return new ReflectionAuthInterceptor(info, &auth_header_);
  }

 private:
  const std::string auth_header_;  // "Bearer <token>"
};

ReflectionMode ResolveReflection(const ServerOptions& o) {
  if (o.reflection != ReflectionMode::kDefault) return o.reflection;
  return o.auth_token_file.empty() ? ReflectionMode::kOn
                                   : ReflectionMode::kAuth;
}

const char* ReflectionName(ReflectionMode mode) {
  switch (mode) {
    case ReflectionMode::kOff:
      return "off";
    case ReflectionMode::kOn:
      return "on";
    case ReflectionMode::kAuth:
      return "auth";
    default:
      return "default";
  }
}
}  // namespace

absl::StatusOr<ReflectionMode> ParseReflectionMode(const std::string& text) {
  if (text.empty()) return ReflectionMode::kDefault;
  if (text == "off") return ReflectionMode::kOff;
  if (text == "on") return ReflectionMode::kOn;
  if (text == "auth") return ReflectionMode::kAuth;
  return absl::InvalidArgumentError(
      absl::StrCat("--reflection: \"", absl::CHexEscape(text),
                   "\" is not one of off, on, auth"));
}

absl::StatusOr<std::string> ReadAuthToken(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  const absl::string_view token = absl::StripAsciiWhitespace(contents);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_token_file: ", path, " is empty"));
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(token[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--auth_token_file: ", path, ": the token holds byte 0x",
          absl::Hex(c, absl::kZeroPad2), " at offset ", i,
          " (a control byte, space or non-ASCII byte, such as an embedded "
          "newline), which no client can send in the authorization header; "
          "a token is one word of printable ASCII"));
    }
  }
  return std::string(token);
}

absl::Status ValidateServerOptions(const ServerOptions& o) {
  if (o.models_dir.empty()) {
    return absl::InvalidArgumentError("--models_dir is required");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(o.models_dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--models_dir: ", o.models_dir, " is not a directory"));
  }
  if (o.port < 0 || o.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port: ", o.port, " is not in [0, 65535]"));
  }
  if (o.metrics_port < -1 || o.metrics_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_port: ", o.metrics_port, " is not in [-1, 65535]"));
  }
  if (o.http_port < -1 || o.http_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_port: ", o.http_port, " is not in [-1, 65535]"));
  }
  if (o.http_threads < 1 || o.http_threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_threads: ", o.http_threads, " is not in [1, 1024]"));
  }
  if (!(o.http_timeout_s > 0 && o.http_timeout_s <= 3600)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_timeout_s: ", o.http_timeout_s, " is not in (0, 3600]"));
  }
  if (!o.gallery_images_dir.empty()) {
    std::error_code dir_ec;
    if (!std::filesystem::is_directory(o.gallery_images_dir, dir_ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gallery_images_dir: ", o.gallery_images_dir,
                       " is not a directory"));
    }
  }
  if (o.max_batch_size < 1 || o.max_batch_size > 4096) {
    return absl::InvalidArgumentError("--max_batch_size must be in [1, 4096]");
  }
  if (o.batch_timeout_us < 0) {
    return absl::InvalidArgumentError("--batch_timeout_us must be >= 0");
  }
  if (o.max_queue < 1)
    return absl::InvalidArgumentError("--max_queue must be >= 1");
  if (o.max_queue_per_connection < 0 ||
      o.max_queue_per_connection > o.max_queue) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_queue_per_connection: ", o.max_queue_per_connection,
                     " is not in [0, --max_queue] (0: half of --max_queue)"));
  }
  if (o.threads < 0)
    return absl::InvalidArgumentError("--threads must be >= 0");
  if (o.reload_interval_s < 0) {
    return absl::InvalidArgumentError("--reload_interval_s must be >= 0");
  }
  if (o.cache_size < 0)
    return absl::InvalidArgumentError("--cache_size must be >= 0");
  if (o.grace_period_s < 0) {
    return absl::InvalidArgumentError("--grace_period_s must be >= 0");
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!o.tls_cert.empty()) {
    RETURN_IF_ERROR(FileReadable(o.tls_cert, "tls_cert"));
    RETURN_IF_ERROR(FileReadable(o.tls_key, "tls_key"));
    ASSIGN_OR_RETURN(const std::string cert, common::ReadFile(o.tls_cert));
    ASSIGN_OR_RETURN(const std::string key, common::ReadFile(o.tls_key));
    RETURN_IF_ERROR(CheckTlsMaterial(o, cert, key));
  }
  if (!o.auth_token_file.empty()) {
    RETURN_IF_ERROR(FileReadable(o.auth_token_file, "auth_token_file"));
    absl::StatusOr<std::string> token = ReadAuthToken(o.auth_token_file);
    if (absl::IsInvalidArgument(token.status())) return token.status();
  }
  if (o.reflection == ReflectionMode::kAuth && o.auth_token_file.empty()) {
    return absl::InvalidArgumentError(
        "--reflection=auth needs --auth_token_file (the token it checks)");
  }
  if (o.rerank_candidates < -1 || o.rerank_candidates > kMaxRerankCandidates) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rerank_candidates: ", o.rerank_candidates,
                     " is not in [-1, ", kMaxRerankCandidates,
                     "] (-1: each version's manifest, 0: no re-ranking)"));
  }
  if (!o.rerank_weights.empty()) {
    absl::StatusOr<rerank::RerankWeights> w =
        rerank::RerankWeights::Parse(o.rerank_weights);
    if (!w.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rerank_weights: ", w.status().message()));
    }
  }
  ASSIGN_OR_RETURN(const VersionPolicy policy,
                   ParseVersionPolicy(o.model_versions));
  RETURN_IF_ERROR(ValidateDefaultVersion(policy, o.default_version));
  return absl::OkStatus();
}

struct Server::Impl {
  ServerOptions options;
  Metrics metrics;
  std::unique_ptr<TextCache> cache;
  std::unique_ptr<ModelManager> models;
  std::unique_ptr<Batcher> batcher;
  std::unique_ptr<RetrievalApi> api;
  std::unique_ptr<RetrievalService> service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<MetricsHttpServer> http;
  std::unique_ptr<RestGateway> rest;
  std::atomic<bool> stopping{false};
  int port = 0;
  common::Mutex shutdown_mu;
  bool shutdown_started ABSL_GUARDED_BY(shutdown_mu) = false;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;

  // The loaded versions and the default into the metrics' gauges.
  void UpdateModelMetrics() {
    std::vector<Metrics::LoadedModel> loaded;
    for (int64_t version : models->LoadedVersions()) {
      absl::StatusOr<std::shared_ptr<const ServedModel>> m =
          models->Get(version);
      if (!m.ok()) continue;
      Metrics::LoadedModel entry;
      entry.version = version;
      entry.gallery_images = (*m)->index->size();
      entry.memory_bytes = (*m)->memory_bytes;
      entry.memory_file_bytes = (*m)->memory_file_bytes;
      entry.index_mapped_bytes = (*m)->index->mapped_bytes();
      loaded.push_back(entry);
    }
    metrics.SetModels(std::move(loaded), models->DefaultVersion());
  }

  void SetHealth(bool serving) {
    if (grpc_server == nullptr) return;
    auto* health = grpc_server->GetHealthCheckService();
    if (health == nullptr) return;
    health->SetServingStatus(serving);
    health->SetServingStatus(kServiceName, serving);
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

absl::StatusOr<std::unique_ptr<Server>> Server::Create(
    const ServerOptions& options) {
  RETURN_IF_ERROR(ValidateServerOptions(options));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string token;
  if (!options.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(token, ReadAuthToken(options.auth_token_file));
  }
  const ReflectionMode reflection = ResolveReflection(options);
  const int threads = common::SetComputeThreads(options.threads);
  impl->cache = std::make_unique<TextCache>(options.cache_size);
  Impl* raw = impl.get();
  ModelManager::Options mopts;
  mopts.models_dir = options.models_dir;
  ASSIGN_OR_RETURN(mopts.policy, ParseVersionPolicy(options.model_versions));
  mopts.default_version = options.default_version;
  mopts.image_tower = options.image_queries;
  mopts.mmap_index = options.mmap_index;
  mopts.device = options.device;
  mopts.precision = options.precision;
  mopts.max_batch_size = options.max_batch_size;
  mopts.rerank_candidates = options.rerank_candidates;
  if (!options.rerank_weights.empty()) {
    ASSIGN_OR_RETURN(mopts.rerank_weights,
                     rerank::RerankWeights::Parse(options.rerank_weights));
  }
  // A version that failed is tried again from the next poll on, backing
  // off to at most ten intervals (a minute when reloads are manual).
  mopts.retry_initial = std::chrono::milliseconds(
      static_cast<int64_t>(1000 * std::max(options.reload_interval_s, 1.0)));
  mopts.retry_max =
      std::max(mopts.retry_initial * 10, std::chrono::milliseconds(60'000));
  impl->models = std::make_unique<ModelManager>(
      mopts, [raw](const ServedModel* loaded, const absl::Status& error) {
        if (loaded == nullptr) {
          raw->metrics.RecordReloadFailure();
          return;
        }
        raw->cache->Clear();
        raw->UpdateModelMetrics();
        raw->SetHealth(true);
      });
  Batcher::Options bopts;
  bopts.max_batch_size = options.max_batch_size;
  bopts.batch_timeout = std::chrono::microseconds(options.batch_timeout_us);
  bopts.max_queue = options.max_queue;
  bopts.max_queue_per_connection = options.max_queue_per_connection;
  bopts.delay_for_testing =
      std::chrono::microseconds(options.batch_delay_for_testing_us);
  impl->batcher = std::make_unique<Batcher>(bopts, impl->models.get(),
                                            impl->cache.get(), &impl->metrics);
  impl->api = std::make_unique<RetrievalApi>(
      impl->batcher.get(), impl->models.get(), options.image_queries);
  impl->service = std::make_unique<RetrievalService>(impl->api.get(),
                                                     &impl->metrics, token);

  grpc::EnableDefaultHealthCheckService(true);
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::InsecureServerCredentials();
  if (!options.tls_cert.empty()) {
    ASSIGN_OR_RETURN(std::string cert, common::ReadFile(options.tls_cert));
    ASSIGN_OR_RETURN(std::string key, common::ReadFile(options.tls_key));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  const std::string listen = absl::StrCat(
      options.host.find(':') != std::string::npos ? "[" + options.host + "]"
                                                  : options.host,
      ":", options.port);
  builder.AddListeningPort(listen, creds, &impl->port);
  builder.RegisterService(impl->service.get());
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // Without SO_REUSEPORT a second server (or a stale one) on the same port
  // fails to start instead of silently sharing the port's connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetOption(
      std::make_unique<ReflectionOption>(reflection != ReflectionMode::kOff));
  if (reflection == ReflectionMode::kAuth) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<ReflectionAuthFactory>("Bearer " + token));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  impl->grpc_server = builder.BuildAndStart();
  if (impl->grpc_server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen,
        ": the port is in use or the host is not an address of this machine"));
  }
  impl->SetHealth(false);
  if (options.metrics_port >= 0) {
    ASSIGN_OR_RETURN(impl->http, MetricsHttpServer::Start(
                                     options.host, options.metrics_port,
                                     [raw] { return raw->metrics.Render(); }));
  }
  if (options.http_port >= 0) {
    RestGatewayOptions ropts;
    ropts.host = options.host;
    ropts.port = options.http_port;
    ropts.threads = options.http_threads;
    ropts.tls_cert = options.tls_cert;
    ropts.tls_key = options.tls_key;
    ropts.auth_token = token;
    ropts.default_timeout = std::chrono::milliseconds(
        static_cast<int64_t>(options.http_timeout_s * 1000));
    ropts.gallery_images_dir = options.gallery_images_dir;
    ASSIGN_OR_RETURN(
        impl->rest,
        RestGateway::Start(ropts, impl->api.get(), &impl->metrics, [raw] {
          return !raw->stopping.load() && raw->models->Current() != nullptr;
        }));
  }
  LOG(INFO) << "retrieval server: models_dir=" << options.models_dir
            << " threads=" << threads
            << " max_batch_size=" << options.max_batch_size
            << " batch_timeout_us=" << options.batch_timeout_us
            << " max_queue=" << options.max_queue
            << " cache_size=" << options.cache_size
            << " reload_interval_s=" << options.reload_interval_s
            << " model_versions=" << mopts.policy.ToString()
            << " default_version=" << options.default_version
            << " image_queries=" << options.image_queries
            << " mmap_index=" << options.mmap_index
            << " tls=" << (!options.tls_cert.empty())
            << " auth=" << !token.empty()
            << " reflection=" << ReflectionName(reflection)
            << " rerank_candidates=" << options.rerank_candidates
            << " rerank_weights="
            << (options.rerank_weights.empty() ? "manifest"
                                               : options.rerank_weights)
            << " metrics_port=" << (impl->http ? impl->http->port() : -1)
            << " http_port=" << (impl->rest ? impl->rest->port() : -1);
  const absl::Status initial = impl->models->Poll();
  if (!initial.ok()) LOG(ERROR) << "initial model load failed: " << initial;
  if (impl->models->Current() == nullptr) {
    LOG(WARNING) << (initial.ok() ? "no model version in "
                                  : "no loadable model version in ")
                 << options.models_dir
                 << " yet; health is NOT_SERVING until one loads";
  }
  impl->models->StartPolling(options.reload_interval_s);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::address() const {
  return absl::StrCat(impl_->options.host, ":", impl_->port);
}
int Server::port() const { return impl_->port; }
int Server::metrics_port() const {
  return impl_->http ? impl_->http->port() : -1;
}
int Server::http_port() const { return impl_->rest ? impl_->rest->port() : -1; }
bool Server::serving() const { return impl_->models->Current() != nullptr; }

int64_t Server::queued_texts() const { return impl_->batcher->queued_texts(); }
std::string Server::metrics_text() const { return impl_->metrics.Render(); }

absl::Status Server::ReloadNow() { return impl_->models->Poll(); }

void Server::Wait() {
  common::MutexLock lock(&impl_->shutdown_mu);
  impl_->shutdown_mu.Await(absl::Condition(&impl_->shut_down));
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  {
    common::MutexLock lock(&impl_->shutdown_mu);
    if (impl_->shutdown_started) {  // by another thread: wait for it
      impl_->shutdown_mu.Await(absl::Condition(&impl_->shut_down));
      return;
    }
    impl_->shutdown_started = true;
  }
  impl_->SetHealth(false);
  impl_->stopping.store(true);
  if (impl_->grpc_server) {
    impl_->grpc_server->Shutdown(std::chrono::system_clock::now() + grace);
  }
  // REST requests being answered finish before the batcher stops.
  if (impl_->rest) impl_->rest->Stop();
  impl_->batcher->Stop();
  impl_->models->Stop();
  if (impl_->http) impl_->http->Stop();
  {
    common::MutexLock lock(&impl_->shutdown_mu);
    impl_->shut_down = true;
  }
}

}  // namespace server
