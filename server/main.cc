// retrieval_server: answers text queries with ranked gallery images over
// gRPC (retrieval.v1.TextImageRetrieval), from the model versions that
// //exporter:export published (by default the newest one).
//
// Usage:
//   retrieval_server --models_dir=models/traffic-clip --port=8500
//   retrieval_server --models_dir=... --host=0.0.0.0 --port=0
//       --tls_cert=server.crt --tls_key=server.key --auth_token_file=token
//       [--reflection=off|on|auth]
//       [--rerank_candidates=-1|0|N] [--rerank_weights=category=W,...]
//       [--model_versions=latest|latest:N|specific:V,...]
//       [--default_version=V] [--noimage_queries] [--nommap_index]
//       [--http_port=8080 [--gallery_images_dir=DIR]]
//
// Prints "listening on HOST:PORT" (the port actually bound; --port=0 picks a
// free one) once ready to accept calls. Health (grpc.health.v1) reports
// NOT_SERVING until a model version is loaded. SIGTERM or SIGINT: stop
// accepting calls, finish in-flight ones within --grace_period_s, exit 0.
#include <glog/logging.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "clip/precision.h"
#include "common/exit_code.h"
#include "server/server.h"

ABSL_FLAG(std::string, models_dir, "",
          "Directory holding the model's integer version directories "
          "(models/<name>); --model_versions says which are served (the "
          "newest complete one by default). Required.");
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on; 0.0.0.0 for every interface (containers).");
ABSL_FLAG(int, port, 8500, "gRPC port; 0 picks a free one (printed).");
ABSL_FLAG(int, metrics_port, 9090,
          "Port of the Prometheus endpoint http://HOST:PORT/metrics; 0 picks "
          "a free one, -1 disables it.");
ABSL_FLAG(int, http_port, -1,
          "Port of the REST/JSON gateway and the web search page "
          "(http://HOST:PORT/, docs/server.md \"REST\"); HTTPS with "
          "--tls_cert, the same bearer token as gRPC. 0 picks a free one, -1 "
          "(default) disables it.");
ABSL_FLAG(int, http_threads, 16,
          "REST connections served at once (each open connection holds one "
          "worker while kept alive); more wait for a free worker.");
ABSL_FLAG(double, http_timeout_s, 30,
          "Deadline of a REST request that sends no X-Request-Timeout-Ms "
          "header.");
ABSL_FLAG(std::string, gallery_images_dir, "",
          "Directory of the gallery images GET /v1/images serves, for every "
          "version; empty = each version's manifest `dataset` (the images "
          "directory export read).");
ABSL_FLAG(int, max_batch_size, 64,
          "Most texts encoded together in one model call.");
ABSL_FLAG(int, batch_timeout_us, 2000,
          "Longest the batcher waits for the clients of the previous batch "
          "to send their next texts before encoding what is queued (a lone "
          "client never waits).");
ABSL_FLAG(int, max_queue, 1024,
          "Most texts waiting; beyond it calls fail at once with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_queue_per_connection, 0,
          "Most texts waiting for one client connection, so that one client "
          "cannot fill the queue for the others; 0 = half of --max_queue.");
ABSL_FLAG(int, threads, 0, "Model compute threads; 0 = all cores.");
ABSL_FLAG(double, reload_interval_s, 30,
          "Seconds between checks for a newer version; 0 = never reload.");
ABSL_FLAG(int, cache_size, 10000,
          "Text embeddings kept in an LRU cache; 0 disables it.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain; enables TLS with --tls_key.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token (one word of printable ASCII; "
          "surrounding whitespace such as a trailing newline is ignored, any "
          "other control byte is refused at start-up); when set, calls must "
          "send 'authorization: Bearer <token>' exactly once: calls with "
          "several authorization headers are refused (UNAUTHENTICATED). "
          "Health checks need no token; for reflection see --reflection.");
ABSL_FLAG(std::string, reflection, "",
          "Who may use gRPC server reflection (what grpcurl and grpc_cli list "
          "and describe the services with): off (not served), on (every "
          "caller, even with --auth_token_file), or auth (only calls that "
          "send the bearer token; requires --auth_token_file). Default: auth "
          "when --auth_token_file is set, otherwise on.");
ABSL_FLAG(double, grace_period_s, 20,
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish.");
ABSL_FLAG(std::string, device, "cpu", "cpu, or cuda on CUDA builds.");
ABSL_FLAG(
    std::string, precision, "auto",
    "Query encoding precision: auto (bf16 on CPUs with AVX512_BF16 or AMX, "
    "else fp32; fp16 on CUDA), fp32, bf16, or fp16 (CUDA). Independent of "
    "the precision the gallery was exported in.");

ABSL_FLAG(int, rerank_candidates, -1,
          "Versions with attribute heads: how many of the best images by "
          "cosine each query re-ranks by attribute agreement (the top "
          "max(top_k, N)); -1 = the version's manifest (fitted at training), "
          "0 = no re-ranking, at most 1000.");
ABSL_FLAG(std::string, rerank_weights, "",
          "Re-ranking weights \"category=W,pedestrian=W,vehicle=W\" "
          "(non-negative; omitted ones are 0) replacing those in each "
          "version's manifest; empty = the manifest's. All zero turns "
          "re-ranking off.");

ABSL_FLAG(std::string, model_versions, "latest",
          "Model versions served at once: latest (the newest complete version "
          "that loads), latest:N (the newest N, N in [1, 16]; a new version "
          "drops the oldest once it is loaded and warmed up), or "
          "specific:V,V,... (exactly these versions, each loaded when it "
          "appears; \"specific:\" may be omitted). Requests choose one with "
          "model_version. Each loaded version holds its own weights and "
          "index in memory.");
ABSL_FLAG(int64_t, default_version, 0,
          "Version answering requests that name none; 0 = the newest loaded "
          "one. Must be one of --model_versions=specific:...; with latest:N "
          "it is the default while it is among the loaded versions, and the "
          "newest loaded one stands in (with a warning) while it is not.");
ABSL_FLAG(bool, image_queries, true,
          "Load each version's image tower too, so that Search and Encode "
          "accept images; --noimage_queries loads only the text tower (less "
          "memory) and answers image queries with UNIMPLEMENTED.");
ABSL_FLAG(bool, mmap_index, true,
          "Map the inverted lists of IVF indexes (IVF*,Flat/SQ*/PQ*, also "
          "under RFlat) from index.faiss instead of reading them: they are "
          "paged in as searches touch them and shared through the page cache "
          "by every process serving the same files. Other index types (Flat, "
          "HNSW, PQ, FastScan) are read either way. --nommap_index reads the "
          "whole index into private memory.");

int main(int argc, char** argv) {
  common::ParseFlagsOrExit(argc, argv,
                           "Serves text-to-image retrieval over gRPC.");
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // Signals are taken by one thread with sigwait; block them everywhere else
  // (threads inherit this mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServerOptions o;
  o.models_dir = absl::GetFlag(FLAGS_models_dir);
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  o.http_port = absl::GetFlag(FLAGS_http_port);
  o.http_threads = absl::GetFlag(FLAGS_http_threads);
  o.http_timeout_s = absl::GetFlag(FLAGS_http_timeout_s);
  o.gallery_images_dir = absl::GetFlag(FLAGS_gallery_images_dir);
  o.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  o.batch_timeout_us = absl::GetFlag(FLAGS_batch_timeout_us);
  o.max_queue = absl::GetFlag(FLAGS_max_queue);
  o.max_queue_per_connection = absl::GetFlag(FLAGS_max_queue_per_connection);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.reload_interval_s = absl::GetFlag(FLAGS_reload_interval_s);
  o.cache_size = absl::GetFlag(FLAGS_cache_size);
  o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key = absl::GetFlag(FLAGS_tls_key);
  o.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  absl::StatusOr<server::ReflectionMode> reflection =
      server::ParseReflectionMode(absl::GetFlag(FLAGS_reflection));
  if (!reflection.ok()) {
    std::cerr << "retrieval_server: " << reflection.status() << "\n";
    return common::kExitUsage;
  }
  o.reflection = *reflection;
  o.grace_period_s = absl::GetFlag(FLAGS_grace_period_s);
  o.device = absl::GetFlag(FLAGS_device);
  auto precision = clip::ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok()) {
    std::cerr << "retrieval_server: --precision: " << precision.status()
              << "\n";
    return common::kExitUsage;
  }
  o.precision = *precision;
  o.rerank_candidates = absl::GetFlag(FLAGS_rerank_candidates);
  o.rerank_weights = absl::GetFlag(FLAGS_rerank_weights);
  o.model_versions = absl::GetFlag(FLAGS_model_versions);
  o.default_version = absl::GetFlag(FLAGS_default_version);
  o.image_queries = absl::GetFlag(FLAGS_image_queries);
  o.mmap_index = absl::GetFlag(FLAGS_mmap_index);
  if (absl::Status st = server::ValidateServerOptions(o); !st.ok()) {
    std::cerr << "retrieval_server: " << st << "\n";
    return common::kExitUsage;
  }
  auto srv = server::Server::Create(o);
  if (!srv.ok()) {
    std::cerr << "retrieval_server: " << srv.status() << "\n";
    return common::kExitFailure;
  }
  std::printf("listening on %s\n", (*srv)->address().c_str());
  if ((*srv)->metrics_port() >= 0) {
    std::printf("metrics on http://%s:%d/metrics\n", o.host.c_str(),
                (*srv)->metrics_port());
  }
  if ((*srv)->http_port() >= 0) {
    std::printf("REST on %s://%s:%d/\n", o.tls_cert.empty() ? "http" : "https",
                o.host.c_str(), (*srv)->http_port());
  }
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  LOG(INFO) << "signal " << sig << ": shutting down (grace " << o.grace_period_s
            << "s)";
  (*srv)->Shutdown(
      std::chrono::milliseconds(static_cast<int64_t>(o.grace_period_s * 1000)));
  LOG(INFO) << "stopped";
  return common::kExitOk;
}
