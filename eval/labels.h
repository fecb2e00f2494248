// Readers for the competition's label and query files, and the relevance
// rules that turn labels into ground truth.
//
// Label file (train_label.txt, val_label.txt): one pair per line,
//   image$attribute$text
// The relation is many-to-many: an image can have several texts and a text
// several images. A vehicle attribute is a short string ("white Audi."); a
// pedestrian attribute is 21 comma-separated 0/1 flags in the order of
// kPedestrianFlagNames (PA-100K without its five lower-body flags).
//
// Query file (test_text.txt): one query text per line.
//
// Both readers accept a UTF-8 byte order mark at the start of the file and
// CRLF line ends, and require valid UTF-8. Everything here is a plain value
// or a const-after-construction object: safe to share between threads for
// reading.
#ifndef EVAL_LABELS_H_
#define EVAL_LABELS_H_

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/category.h"
#include "common/utf8.h"

namespace eval {

using Category = common::Category;
using common::CategoryName;

inline constexpr int kNumPedestrianFlags = 21;

// Names of the pedestrian attribute flags, in file order: Female, AgeOver60,
// Age18-60, AgeLess18, Front, Side, Back, Hat, Glasses, HandBag, ShoulderBag,
// Backpack, HoldObjectsInFront, ShortSleeve, LongSleeve, UpperStride,
// UpperLogo, UpperPlaid, UpperSplice, LongCoat, Skirt&Dress.
extern const std::array<const char*, kNumPedestrianFlags> kPedestrianFlagNames;

// One line of a label file.
struct LabelRecord {
  std::string image;      // image file name, e.g. "000055.jpg"
  std::string attribute;  // byte-identical to the file
  std::string text;       // byte-identical to the file
  Category category = Category::kUnspecified;
  int line = 0;  // 1-based line number in the file
  // Fields after the third ('$'-separated), only with
  // LabelReaderOptions::allow_extra_fields; empty otherwise.
  std::vector<std::string> extra_fields;
};

struct LabelReaderOptions {
  // Accept lines with more than three fields and keep the rest in
  // LabelRecord::extra_fields (the baseline's infer.txt carries its top-10
  // image names in fields 4-13). Default: exactly three fields.
  bool allow_extra_fields = false;
};

using common::ValidateUtf8;

// Splits file contents into lines the way both readers see them: a leading
// UTF-8 byte order mark is dropped, lines end at "\n", one "\r" before it is
// dropped, and the final line end does not start another line (so "a\n" is
// one line, "a\n\n" two, "" none). The views point into `contents`.
std::vector<absl::string_view> SplitLines(absl::string_view contents);

// Decides the category of an attribute and checks it. An attribute that
// contains a comma or consists only of digits is a pedestrian attribute and
// must be exactly 21 flags, each "0" or "1"; anything else non-empty is a
// vehicle attribute. INVALID_ARGUMENT (message without location) for an empty
// attribute or a malformed pedestrian one.
absl::StatusOr<Category> ClassifyAttribute(absl::string_view attribute);

// Parses label-file contents. `source` names the input in error messages,
// which read "<source>:<line>: <what is wrong>". INVALID_ARGUMENT for a line
// with the wrong number of fields, an empty field, a malformed pedestrian
// attribute, invalid UTF-8, or a blank line followed by more data (blank
// lines at the very end are ignored).
absl::StatusOr<std::vector<LabelRecord>> ParseLabels(
    absl::string_view contents, absl::string_view source,
    const LabelReaderOptions& options = LabelReaderOptions());

// ReadFile + ParseLabels with `path` as the source; NOT_FOUND for a missing
// file.
absl::StatusOr<std::vector<LabelRecord>> ReadLabelFile(
    const std::string& path,
    const LabelReaderOptions& options = LabelReaderOptions());

// Parses query-file contents: one query per line, texts byte-identical
// (only the line end, "\n" or "\r\n", and a leading byte order mark are
// removed). Duplicates are kept. The final line end does not start another
// query, but an empty line anywhere else is a query with empty text (as
// Python's readlines() sees it). INVALID_ARGUMENT "<source>:<line>: ..." for
// invalid UTF-8.
absl::StatusOr<std::vector<std::string>> ParseQueries(
    absl::string_view contents, absl::string_view source);

// ReadFile + ParseQueries with `path` as the source.
absl::StatusOr<std::vector<std::string>> ReadQueryFile(const std::string& path);

// Which gallery images count as relevant for a query attribute.
enum class Relevance {
  // The image's attribute is byte-identical to the query's attribute.
  kExact,
  // kExact, or both are pedestrian attributes, the first flag (Female) is
  // equal, and every flag that is 1 in the query is 1 in the image (the rule
  // of the official baseline's val evaluation, Open-TransMind track2
  // test.py). Vehicle attributes match exactly only.
  kPedestrianSubset,
};

// "exact" or "pedestrian_subset".
const char* RelevanceName(Relevance relevance);

// Parses RelevanceName's output; INVALID_ARGUMENT listing the valid names
// otherwise.
absl::StatusOr<Relevance> ParseRelevance(absl::string_view name);

// Whether an image whose attribute is `image_attribute` is relevant to a
// query whose attribute is `query_attribute`.
bool IsRelevant(Relevance relevance, absl::string_view query_attribute,
                absl::string_view image_attribute);

// Answers "which images are relevant to this attribute" over a fixed set of
// label records (the gallery is every distinct image of the records).
// Immutable after construction; thread-safe for concurrent reads.
class RelevanceIndex {
 public:
  RelevanceIndex(const std::vector<LabelRecord>& records, Relevance relevance);

  // Distinct images relevant to `query_attribute`, in order of first
  // appearance in the records. An image listed with several attributes is
  // relevant when any of them is.
  std::vector<std::string> RelevantImages(
      absl::string_view query_attribute) const;

  // Same, as indices into images().
  std::vector<int> RelevantImageIndices(
      absl::string_view query_attribute) const;

  // Every distinct image of the records, in order of first appearance.
  const std::vector<std::string>& images() const { return images_; }

  Relevance relevance() const { return relevance_; }

 private:
  Relevance relevance_;
  std::vector<std::string> images_;
  std::vector<std::string> attributes_;  // distinct, first-appearance order
  std::unordered_map<std::string, int> attribute_index_;
  std::vector<std::vector<int>> images_of_attribute_;  // indices into images_
  // For pedestrian attributes: bit i = flag i; -1 for vehicle attributes.
  std::vector<int64_t> pedestrian_mask_;
};

// A query text of a label file together with its ground truth.
struct TextGroup {
  std::string text;
  Category category = Category::kUnspecified;  // of the text's first record
  // Distinct attributes the text is labelled with, in order of first
  // appearance (a generic text such as "A walking man ... wearing a hat." can
  // describe several flag vectors).
  std::vector<std::string> attributes;
  // Distinct images relevant to any of `attributes`, in order of first
  // appearance in the records.
  std::vector<std::string> relevant_images;
};

// The distinct texts of `records` in order of first appearance, each with
// its relevant images under `relevance` (the gallery is every image of
// `records`).
std::vector<TextGroup> GroupByText(const std::vector<LabelRecord>& records,
                                   Relevance relevance);

}  // namespace eval

#endif  // EVAL_LABELS_H_
