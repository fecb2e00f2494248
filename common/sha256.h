// SHA-256 of files and byte strings (OpenSSL's libcrypto), as lowercase hex.
#ifndef COMMON_SHA256_H_
#define COMMON_SHA256_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace common {

std::string Sha256Hex(absl::string_view bytes);

// Streams the file in 1 MiB chunks; errors name the path.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace common

#endif  // COMMON_SHA256_H_
