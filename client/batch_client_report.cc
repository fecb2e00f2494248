// The batch client's messages: progress lines, ETAs and the run's last
// line.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/batch_client.h"

namespace client {

std::string DescribeModelVersions(const std::vector<int64_t>& versions) {
  if (versions.empty()) return "no model version: no query was sent";
  return absl::StrCat(
      versions.size() == 1 ? "model version " : "model versions ",
      absl::StrJoin(versions, ", "));
}

std::string DescribeWrittenOutput(const BatchClientOptions& options,
                                  const BatchClientSummary& summary) {
  if (summary.queries == 0) {
    return absl::StrCat("wrote ", options.output_path,
                        ": an empty submission, since ", options.queries_path,
                        " holds no queries (nothing was sent)");
  }
  return absl::StrCat("wrote ", options.output_path, " (",
                      DescribeModelVersions(summary.model_versions), ")");
}

std::string FormatEta(int64_t seconds) {
  seconds = std::max<int64_t>(seconds, 0);
  const int64_t h = seconds / 3600;
  const int64_t m = (seconds / 60) % 60;
  const int64_t s = seconds % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, s);
  return absl::StrFormat("%d:%02d", m, s);
}

std::string FormatProgress(int64_t done, int64_t total, int64_t done_this_run,
                           double elapsed_s, bool bar) {
  const double fraction =
      total > 0 ? std::min(1.0, static_cast<double>(done) / total) : 1.0;
  const double rate = elapsed_s > 0 && done_this_run > 0
                          ? static_cast<double>(done_this_run) / elapsed_s
                          : 0.0;
  std::string eta = "--";
  if (done >= total) {
    eta = FormatEta(0);
  } else if (rate > 0) {
    eta = FormatEta(static_cast<int64_t>(
        std::ceil(static_cast<double>(total - done) / rate)));
  }
  if (bar) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string cells(kWidth, ' ');
    for (int i = 0; i < filled; ++i) cells[i] = '=';
    if (filled < kWidth) cells[filled] = '>';
    return absl::StrFormat("[%s] %5.1f%% %d/%d queries  %.1f q/s  ETA %s",
                           cells, 100.0 * fraction, done, total, rate, eta);
  }
  return absl::StrFormat("%d/%d queries (%.1f%%), %.1f queries/s, ETA %s", done,
                         total, 100.0 * fraction, rate, eta);
}

}  // namespace client
