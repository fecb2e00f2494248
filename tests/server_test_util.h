// What the in-process server tests share: fresh scratch directories, the
// options of a quiet test server, and a self-signed TLS certificate.
#ifndef TESTS_SERVER_TEST_UTIL_H_
#define TESTS_SERVER_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "server/server.h"

namespace tests {

// An empty directory `name` under the test's temporary directory (removed
// first if it exists).
std::string FreshDir(const std::string& name);

// A server on `models_dir` with kernel-chosen gRPC and metrics ports, one
// compute thread, no reload polling and a 5 s grace period.
server::ServerOptions TestServerOptions(const std::string& models_dir);

// Writes a self-signed certificate for localhost and 127.0.0.1 and its
// unencrypted key with the openssl command-line tool. INTERNAL when openssl
// fails or is missing.
absl::Status WriteSelfSignedCertificate(const std::string& key_path,
                                        const std::string& cert_path);

}  // namespace tests

#endif  // TESTS_SERVER_TEST_UTIL_H_
