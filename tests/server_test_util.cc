#include "tests/server_test_util.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tests {

std::string FreshDir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

server::ServerOptions TestServerOptions(const std::string& models_dir) {
  server::ServerOptions o;
  o.models_dir = models_dir;
  o.port = 0;
  o.metrics_port = 0;
  o.threads = 1;
  o.reload_interval_s = 0;
  o.grace_period_s = 5;
  return o;
}

absl::Status WriteSelfSignedCertificate(const std::string& key_path,
                                        const std::string& cert_path) {
  const std::string cmd = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '",
      key_path, "' -out '", cert_path, "' 2>/dev/null");
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(
        "openssl could not make a test certificate (", cert_path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace tests
