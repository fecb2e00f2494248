#include "client/grpc_client.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "client/fake_retrieval_service.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace client {
namespace {

using ::client_testing::FakeImageNames;
using ::client_testing::FakeServer;
using ::common_testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/grpc_client_test_" + name;
  EXPECT_OK(common::WriteFileAtomically(path, contents));
  return path;
}

CallOptions FastRetries(int max_retries) {
  CallOptions options;
  options.deadline = absl::Seconds(5);
  options.retry.max_retries = max_retries;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_backoff = absl::Milliseconds(5);
  return options;
}

retrieval::v1::SearchRequest Request(const std::string& text, int top_k = 3) {
  retrieval::v1::SearchRequest request;
  request.set_text(text);
  request.set_top_k(top_k);
  return request;
}

TEST(ValidateServerAddressTest, AcceptsHostPortAndUris) {
  EXPECT_OK(ValidateServerAddress("127.0.0.1:50051"));
  EXPECT_OK(ValidateServerAddress("localhost:8080"));
  EXPECT_OK(ValidateServerAddress("[::1]:1"));
  EXPECT_OK(ValidateServerAddress("dns:///retrieval.svc:443"));
  EXPECT_OK(ValidateServerAddress("unix:/tmp/socket"));
}

TEST(ValidateServerAddressTest, RejectsMalformedAddresses) {
  EXPECT_THAT(ValidateServerAddress(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ValidateServerAddress("localhost"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"localhost\" has no port")));
  EXPECT_THAT(
      ValidateServerAddress("host:0"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1, 65535]")));
  EXPECT_THAT(
      ValidateServerAddress("host:65536"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1, 65535]")));
  EXPECT_THAT(
      ValidateServerAddress("host:http"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port \"http\"")));
  EXPECT_THAT(
      ValidateServerAddress(":50051"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no host")));
  EXPECT_THAT(
      ValidateServerAddress("::1:50051"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("brackets")));
}

TEST(ReadBearerTokenTest, StripsLineEndAndRejectsBadTokens) {
  ASSERT_THAT(ReadBearerToken(WriteTemp("token_ok", "abc.DEF-123\n")),
              ::testing::Eq(absl::StatusOr<std::string>("abc.DEF-123")));
  EXPECT_THAT(
      ReadBearerToken(WriteTemp("token_empty", " \n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is empty")));
  EXPECT_THAT(
      ReadBearerToken(WriteTemp("token_space", "two words\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 3")));
  EXPECT_THAT(
      ReadBearerToken(::testing::TempDir() + "/no_such_token"),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_token")));
}

TEST(RetryPolicyTest, BackoffGrowsExponentiallyUpToTheCap) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Seconds(1);
  policy.multiplier = 2.0;
  policy.jitter = 0.0;
  EXPECT_EQ(BackoffDelay(policy, 1, 0.5), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(policy, 2, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(policy, 4, 0.5), absl::Milliseconds(800));
  EXPECT_EQ(BackoffDelay(policy, 5, 0.5), absl::Seconds(1));
  EXPECT_EQ(BackoffDelay(policy, 1000, 0.5), absl::Seconds(1));
}

TEST(RetryPolicyTest, JitterSpreadsTheDelaySymmetrically) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.jitter = 0.2;
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), absl::Milliseconds(80));
  EXPECT_EQ(BackoffDelay(policy, 1, 0.5), absl::Milliseconds(100));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(BackoffDelay(policy, 1, 0.999999)),
              120.0, 1e-3);
}

TEST(RetryPolicyTest, OnlyTransientCodesAreRetried) {
  RetryPolicy policy;
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::UNAVAILABLE, policy));
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::DEADLINE_EXCEEDED, policy));
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::CANCELLED, policy));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::RESOURCE_EXHAUSTED, policy));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::INVALID_ARGUMENT, policy));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::UNAUTHENTICATED, policy));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::INTERNAL, policy));
  policy.retry_resource_exhausted = true;
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::RESOURCE_EXHAUSTED, policy));
}

TEST(RetryPolicyTest, ReconnectBackoffFollowsThePolicy) {
  RetryPolicy policy;  // 100 ms .. 5 s
  ReconnectBackoff backoff = ReconnectBackoffFor(policy);
  EXPECT_EQ(backoff.initial_ms, 100);
  EXPECT_EQ(backoff.max_ms, 5000);
  EXPECT_EQ(backoff.min_connect_timeout_ms, 5000);
  policy.initial_backoff = absl::Milliseconds(1);  // below gRPC's floor
  policy.max_backoff = absl::Milliseconds(20);
  backoff = ReconnectBackoffFor(policy);
  EXPECT_EQ(backoff.initial_ms, 100);
  EXPECT_EQ(backoff.max_ms, 100);
  EXPECT_EQ(backoff.min_connect_timeout_ms, 1000);
  policy.initial_backoff = absl::Seconds(2);
  policy.max_backoff = absl::InfiniteDuration();
  backoff = ReconnectBackoffFor(policy);
  EXPECT_EQ(backoff.initial_ms, 2000);
  EXPECT_EQ(backoff.max_ms, std::numeric_limits<int>::max());
}

TEST(RetryPolicyTest, ValidationNamesTheBadValue) {
  RetryPolicy policy;
  EXPECT_OK(ValidateRetryPolicy(policy));
  policy.max_retries = -1;
  EXPECT_THAT(ValidateRetryPolicy(policy),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-1")));
  policy = RetryPolicy();
  policy.jitter = 1.5;
  EXPECT_THAT(
      ValidateRetryPolicy(policy),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("jitter")));
}

TEST(CategoryTest, ParsesNamesAndRejectsOthers) {
  EXPECT_THAT(ParseCategory(""),
              ::testing::Eq(absl::StatusOr<retrieval::v1::Category>(
                  retrieval::v1::CATEGORY_UNSPECIFIED)));
  EXPECT_EQ(*ParseCategory("Vehicle"), retrieval::v1::CATEGORY_VEHICLE);
  EXPECT_EQ(*ParseCategory("pedestrian"), retrieval::v1::CATEGORY_PEDESTRIAN);
  EXPECT_THAT(ParseCategory("car"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("\"car\"")));
  EXPECT_STREQ(CategoryName(retrieval::v1::CATEGORY_VEHICLE), "vehicle");
  EXPECT_EQ(*ParseCategory("auto"), retrieval::v1::CATEGORY_AUTO);
  EXPECT_EQ(*ParseCategory("AUTO"), retrieval::v1::CATEGORY_AUTO);
  EXPECT_THAT(ParseCategory("automatic"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("auto")));
  // Every value's name reads back as that value (the batch client's journal
  // stores the name): AUTO is not "unspecified".
  for (retrieval::v1::Category c :
       {retrieval::v1::CATEGORY_UNSPECIFIED, retrieval::v1::CATEGORY_PEDESTRIAN,
        retrieval::v1::CATEGORY_VEHICLE, retrieval::v1::CATEGORY_AUTO}) {
    EXPECT_EQ(*ParseCategory(CategoryName(c)), c) << CategoryName(c);
  }
  EXPECT_STREQ(CategoryName(retrieval::v1::CATEGORY_AUTO), "auto");
}

TEST(CreateChannelTest, ChecksTlsFiles) {
  ConnectionOptions options;
  options.server = "127.0.0.1:1";
  options.tls_ca_file = ::testing::TempDir() + "/no_such_ca.pem";
  EXPECT_THAT(CreateChannel(options), StatusIs(absl::StatusCode::kNotFound,
                                               HasSubstr("no_such_ca.pem")));
  options.tls_ca_file = WriteTemp("not_pem.pem", "hello");
  EXPECT_THAT(CreateChannel(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no PEM certificate")));
  options.tls_ca_file.clear();
  options.tls_server_name = "localhost";
  EXPECT_THAT(CreateChannel(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TLS")));
  options.tls_server_name.clear();
  options.server = "nowhere";
  EXPECT_THAT(CreateChannel(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
}

std::unique_ptr<RetrievalClient> ConnectTo(const std::string& address,
                                           const std::string& token_file = "") {
  ConnectionOptions options;
  options.server = address;
  options.auth_token_file = token_file;
  absl::StatusOr<std::unique_ptr<RetrievalClient>> client =
      RetrievalClient::Connect(options);
  EXPECT_OK(client);
  return client.ok() ? std::move(*client) : nullptr;
}

TEST(RetrievalClientTest, SearchReturnsTheServersHits) {
  FakeServer server;
  ASSERT_FALSE(server.address().empty());
  auto client = ConnectTo(server.address());
  ASSERT_NE(client, nullptr);
  CallStats stats;
  absl::StatusOr<retrieval::v1::SearchResponse> response =
      client->Search(Request("a white Audi", 2), FastRetries(0), &stats);
  ASSERT_OK(response);
  const std::vector<std::string> expected = FakeImageNames("a white Audi", 2);
  ASSERT_EQ(response->hits_size(), 2);
  EXPECT_EQ(response->hits(0).image_name(), expected[0]);
  EXPECT_EQ(response->hits(1).image_name(), expected[1]);
  EXPECT_EQ(response->model_version(), client_testing::kFakeModelVersion);
  EXPECT_EQ(stats.attempts, 1);
}

TEST(RetrievalClientTest, RetriesUnavailableUntilItSucceeds) {
  FakeServer server;
  auto client = ConnectTo(server.address());
  server.service().FailNextCalls(2);
  CallStats stats;
  ASSERT_OK(client->Search(Request("x"), FastRetries(5), &stats));
  EXPECT_EQ(stats.attempts, 3);
  EXPECT_EQ(server.service().total_calls(), 3);
}

TEST(RetrievalClientTest, GivesUpAfterMaxRetries) {
  FakeServer server;
  auto client = ConnectTo(server.address());
  server.service().FailNextCalls(100);
  CallStats stats;
  EXPECT_THAT(client->Search(Request("x"), FastRetries(2), &stats),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("(after 3 attempts)")));
  EXPECT_EQ(stats.attempts, 3);
  EXPECT_EQ(server.service().total_calls(), 3);
}

TEST(RetrievalClientTest, DoesNotRetryInvalidArgument) {
  FakeServer server;
  auto client = ConnectTo(server.address());
  CallStats stats;
  EXPECT_THAT(client->Search(Request("   "), FastRetries(5), &stats),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "text: empty or only whitespace"));
  EXPECT_EQ(stats.attempts, 1);
  EXPECT_EQ(server.service().total_calls(), 1);
}

TEST(RetrievalClientTest, DeadlineExceededIsRetriedThenReported) {
  FakeServer server;
  auto client = ConnectTo(server.address());
  server.service().SetDelay(absl::Milliseconds(300));
  CallOptions options = FastRetries(1);
  options.deadline = absl::Milliseconds(50);
  CallStats stats;
  EXPECT_THAT(
      client->Search(Request("x"), options, &stats),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("after 2")));
  EXPECT_EQ(stats.attempts, 2);
}

TEST(RetrievalClientTest, SendsTheBearerToken) {
  FakeServer server;
  server.service().RequireToken("s3cret");
  auto with_token =
      ConnectTo(server.address(), WriteTemp("token_fake", "s3cret\n"));
  ASSERT_NE(with_token, nullptr);
  ASSERT_OK(with_token->GetModelInfo(FastRetries(0)));
  auto without_token = ConnectTo(server.address());
  CallStats stats;
  EXPECT_THAT(without_token->Search(Request("x"), FastRetries(3), &stats),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("token")));
  EXPECT_EQ(stats.attempts, 1);
  EXPECT_THAT(server.service().authorizations(),
              ElementsAre("Bearer s3cret", ""));
}

// A self-signed certificate for localhost and 127.0.0.1 with its key, PEM.
struct TestCertificate {
  std::string key_pem;
  std::string cert_pem;
};

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

TestCertificate MakeSelfSignedCertificate() {
  TestCertificate result;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_subject_alt_name,
                                    "DNS:localhost,IP:127.0.0.1"},
        std::pair<int, const char*>{NID_basic_constraints,
                                    "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension =
        X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert, key, EVP_sha256());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  result.key_pem = BioToString(key_bio);
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  result.cert_pem = BioToString(cert_bio);
  BIO_free(key_bio);
  BIO_free(cert_bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return result;
}

TEST(RetrievalClientTest, TlsWithCustomRootsAndToken) {
  const TestCertificate certificate = MakeSelfSignedCertificate();
  ASSERT_THAT(certificate.cert_pem, HasSubstr("BEGIN CERTIFICATE"));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({certificate.key_pem, certificate.cert_pem});
  FakeServer server(grpc::SslServerCredentials(ssl));
  ASSERT_FALSE(server.address().empty());
  server.service().RequireToken("tls-token");

  ConnectionOptions options;
  options.server = server.address();
  options.tls_ca_file = WriteTemp("ca.pem", certificate.cert_pem);
  options.auth_token_file = WriteTemp("tls_token", "tls-token");
  absl::StatusOr<std::unique_ptr<RetrievalClient>> client =
      RetrievalClient::Connect(options);
  ASSERT_OK(client);
  absl::StatusOr<retrieval::v1::SearchResponse> response =
      (*client)->Search(Request("over tls"), FastRetries(0));
  ASSERT_OK(response);
  EXPECT_EQ(response->hits(0).image_name(), FakeImageNames("over tls", 3)[0]);

  // The same server through a name the certificate does not carry fails the
  // handshake.
  options.tls_server_name = "other.example";
  client = RetrievalClient::Connect(options);
  ASSERT_OK(client);
  EXPECT_THAT((*client)->Search(Request("x"), FastRetries(0)),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));

  // A plaintext client cannot talk to the TLS server.
  auto plaintext = ConnectTo(server.address());
  EXPECT_THAT(plaintext->Search(Request("x"), FastRetries(0)),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

}  // namespace
}  // namespace client
