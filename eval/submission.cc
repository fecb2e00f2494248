#include "eval/submission.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "eval/labels.h"
#include "nlohmann/json.hpp"

namespace eval {
namespace {

// nlohmann's messages quote the input near the error, which may be invalid
// UTF-8 itself: escape everything outside printable ASCII.
std::string Printable(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

absl::Status CheckGroundTruthField(absl::string_view value, size_t entry,
                                   absl::string_view what) {
  if (absl::Status s = ValidateUtf8(value); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ground truth entry ", entry, ": ", what, ": ", s.message()));
  }
  if (value.find_first_of("$\n\r") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("ground truth entry ", entry, ": ", what,
                     " contains '$' or a line break, which the format "
                     "cannot carry"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Submission> ParseSubmission(absl::string_view json,
                                           absl::string_view source) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not valid JSON: ", Printable(e.what())));
  }
  auto error = [&](absl::string_view where, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", where, ": ", what));
  };
  if (!root.is_object()) {
    return error("top level",
                 absl::StrCat("expected an object with \"results\", got ",
                              root.type_name()));
  }
  const auto results_it = root.find("results");
  if (results_it == root.end()) return error("top level", "no \"results\" key");
  if (!results_it->is_array()) {
    return error("results", absl::StrCat("expected an array, got ",
                                         results_it->type_name()));
  }
  Submission submission;
  submission.results.reserve(results_it->size());
  for (size_t i = 0; i < results_it->size(); ++i) {
    const nlohmann::json& item = (*results_it)[i];
    const std::string where = absl::StrCat("results[", i, "]");
    if (!item.is_object()) {
      return error(where,
                   absl::StrCat("expected an object, got ", item.type_name()));
    }
    SubmissionEntry entry;
    const auto text_it = item.find("text");
    if (text_it == item.end()) return error(where, "no \"text\" key");
    if (!text_it->is_string()) {
      return error(where + ".text", absl::StrCat("expected a string, got ",
                                                 text_it->type_name()));
    }
    entry.text = text_it->get<std::string>();
    const auto names_it = item.find("image_names");
    if (names_it == item.end()) return error(where, "no \"image_names\" key");
    if (!names_it->is_array()) {
      return error(
          where + ".image_names",
          absl::StrCat("expected an array, got ", names_it->type_name()));
    }
    entry.image_names.reserve(names_it->size());
    for (size_t j = 0; j < names_it->size(); ++j) {
      const nlohmann::json& name = (*names_it)[j];
      const std::string name_where =
          absl::StrCat(where, ".image_names[", j, "]");
      if (!name.is_string()) {
        return error(name_where,
                     absl::StrCat("expected a string, got ", name.type_name()));
      }
      entry.image_names.push_back(name.get<std::string>());
      if (entry.image_names.back().empty()) {
        return error(name_where, "empty image name");
      }
    }
    submission.results.push_back(std::move(entry));
  }
  return submission;
}

absl::StatusOr<Submission> ReadSubmission(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  return ParseSubmission(contents, path);
}

absl::StatusOr<std::string> SubmissionToJson(const Submission& submission) {
  // ordered_json keeps "text" before "image_names", as the official
  // infer_json.py writes them.
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (size_t i = 0; i < submission.results.size(); ++i) {
    const SubmissionEntry& entry = submission.results[i];
    if (absl::Status s = ValidateUtf8(entry.text); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("results[", i, "].text: ", s.message()));
    }
    nlohmann::ordered_json names = nlohmann::ordered_json::array();
    for (size_t j = 0; j < entry.image_names.size(); ++j) {
      if (absl::Status s = ValidateUtf8(entry.image_names[j]); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "results[", i, "].image_names[", j, "]: ", s.message()));
      }
      names.push_back(entry.image_names[j]);
    }
    nlohmann::ordered_json item;
    item["text"] = entry.text;
    item["image_names"] = std::move(names);
    results.push_back(std::move(item));
  }
  nlohmann::ordered_json root;
  root["results"] = std::move(results);
  std::string out = root.dump(4);
  out.push_back('\n');
  return out;
}

absl::Status WriteSubmission(const std::string& path,
                             const Submission& submission) {
  absl::StatusOr<std::string> json = SubmissionToJson(submission);
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not writing ", path, ": ", json.status().message()));
  }
  return common::WriteFileAtomically(path, *json);
}

absl::StatusOr<std::vector<GroundTruthEntry>> ParseGroundTruth(
    absl::string_view contents, absl::string_view source) {
  const std::vector<absl::string_view> lines = SplitLines(contents);
  std::vector<GroundTruthEntry> entries;
  entries.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", i + 1, ": ", what));
    };
    if (absl::Status s = ValidateUtf8(lines[i]); !s.ok()) {
      return error(s.message());
    }
    const std::vector<absl::string_view> fields = absl::StrSplit(lines[i], '$');
    GroundTruthEntry entry;
    entry.text = std::string(fields[0]);
    for (size_t f = 1; f < fields.size(); ++f) {
      if (fields[f].empty()) {
        return error(
            absl::StrCat("image name ", f, " (field ", f + 1, ") is empty"));
      }
      entry.relevant_images.emplace_back(fields[f]);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<GroundTruthEntry>> ReadGroundTruth(
    const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, common::ReadFile(path));
  return ParseGroundTruth(contents, path);
}

absl::StatusOr<std::string> FormatGroundTruth(
    const std::vector<GroundTruthEntry>& entries) {
  std::string out;
  for (size_t i = 0; i < entries.size(); ++i) {
    const GroundTruthEntry& entry = entries[i];
    RETURN_IF_ERROR(CheckGroundTruthField(entry.text, i, "text"));
    if (i == 0 && absl::StartsWith(entry.text, "\xEF\xBB\xBF")) {
      // SplitLines drops a byte order mark at the start of the file.
      return absl::InvalidArgumentError(
          "ground truth entry 0: text starts with a byte order mark, which "
          "readers drop");
    }
    out += entry.text;
    for (size_t j = 0; j < entry.relevant_images.size(); ++j) {
      const std::string& name = entry.relevant_images[j];
      const std::string what = absl::StrCat("image ", j);
      if (name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ground truth entry ", i, ": ", what, " is an empty name"));
      }
      RETURN_IF_ERROR(CheckGroundTruthField(name, i, what));
      out.push_back('$');
      out += name;
    }
    out.push_back('\n');
  }
  return out;
}

absl::Status WriteGroundTruth(const std::string& path,
                              const std::vector<GroundTruthEntry>& entries) {
  absl::StatusOr<std::string> contents = FormatGroundTruth(entries);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not writing ", path, ": ", contents.status().message()));
  }
  return common::WriteFileAtomically(path, *contents);
}

absl::StatusOr<double> TopKOverlap(const Submission& a, const Submission& b,
                                   int k) {
  if (a.results.size() != b.results.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the submissions hold ", a.results.size(), " and ",
                     b.results.size(), " results"));
  }
  int64_t shared = 0, total = 0;
  for (size_t i = 0; i < a.results.size(); ++i) {
    if (a.results[i].text != b.results[i].text) {
      return absl::InvalidArgumentError(
          absl::StrCat("results[", i, "] are for different texts"));
    }
    const auto& x = a.results[i].image_names;
    const auto& y = b.results[i].image_names;
    const size_t kx = std::min<size_t>(k, x.size()),
                 ky = std::min<size_t>(k, y.size());
    for (size_t r = 0; r < kx; ++r) {
      ++total;
      shared += std::find(y.begin(), y.begin() + ky, x[r]) != y.begin() + ky;
    }
  }
  return total == 0 ? 1.0 : static_cast<double>(shared) / total;
}

}  // namespace eval
