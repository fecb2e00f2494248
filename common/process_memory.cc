#include "common/process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace common {

absl::StatusOr<ProcessMemory> ParseProcessStatus(const std::string& text,
                                                 const std::string& source) {
  ProcessMemory out;
  bool have_rss = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    // "VmRSS:\t  123456 kB"
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = line.substr(0, colon);
    int64_t* field = nullptr;
    if (key == "VmRSS") {
      field = &out.rss_bytes;
    } else if (key == "RssAnon") {
      field = &out.anon_bytes;
    } else if (key == "RssFile") {
      field = &out.file_bytes;
    } else if (key == "RssShmem") {
      field = &out.shmem_bytes;
    } else {
      continue;
    }
    absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (!absl::ConsumeSuffix(&value, "kB")) continue;
    int64_t kib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &kib)) continue;
    *field = kib * 1024;
    if (field == &out.rss_bytes) have_rss = true;
  }
  if (!have_rss) {
    return absl::UnavailableError(
        absl::StrCat(source, " has no VmRSS line (not Linux?)"));
  }
  return out;
}

absl::StatusOr<ProcessMemory> ReadProcessMemory() {
  constexpr char kPath[] = "/proc/self/status";
  std::ifstream in(kPath);
  if (!in) {
    return absl::UnavailableError(absl::StrCat("cannot open ", kPath));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseProcessStatus(text.str(), kPath);
}

}  // namespace common
