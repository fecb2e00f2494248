#include "common/test_data.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace common_testing {
namespace fs = std::filesystem;

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return workspace_relative;
  return std::string(srcdir) + "/" + workspace + "/" + workspace_relative;
}

std::string SharedDir() {
  std::error_code ec;
  if (const char* env = std::getenv("RETRIEVAL_SHARED_DIR");
      env != nullptr && *env != '\0') {
    return fs::is_directory(env, ec) ? fs::absolute(env, ec).string() : "";
  }
  // The runfiles tree links WORKSPACE back to the source checkout.
  fs::path ws = fs::canonical(RunfilePath("WORKSPACE"), ec);
  if (ec) return "";
  fs::path shared = ws.parent_path().parent_path() / "shared";
  if (!fs::is_directory(shared, ec)) return "";
  return fs::canonical(shared, ec).string();
}

std::string SharedPath(const std::string& relative) {
  std::string dir = SharedDir();
  if (dir.empty()) return "";
  std::error_code ec;
  fs::path p = fs::path(dir) / relative;
  return fs::exists(p, ec) ? p.string() : "";
}

}  // namespace common_testing
