// Locating the project's shared data (../shared beside the checkout) from
// tests. Tests that need it skip with a message naming what is missing when
// it is absent, as on a fresh clone without ../shared.
#ifndef COMMON_TEST_DATA_H_
#define COMMON_TEST_DATA_H_

#include <string>

namespace common_testing {

// Returns the absolute path of the shared data directory: $RETRIEVAL_SHARED_DIR
// when set, else "<workspace root>/../shared" (found through the runfiles
// link of the WORKSPACE file). Returns "" when neither exists.
std::string SharedDir();

// Returns SharedDir() + "/" + relative when that path exists, else "".
std::string SharedPath(const std::string& relative);

// Absolute path of a file of this workspace from the test's runfiles
// (e.g. "tests/testdata/x.txt"); the file must be in the test's data.
std::string RunfilePath(const std::string& workspace_relative);

}  // namespace common_testing

// Skips the current test unless ../shared/<relative> exists; binds `var` to
// its absolute path otherwise.
#define REQUIRE_SHARED_PATH(var, relative)                                    \
  const std::string var = ::common_testing::SharedPath(relative);             \
  if (var.empty()) {                                                          \
    GTEST_SKIP() << "shared data missing: ../shared/" << (relative)           \
                 << " (set RETRIEVAL_SHARED_DIR or place the shared/ folder " \
                    "beside the checkout)";                                   \
  }

#endif  // COMMON_TEST_DATA_H_
