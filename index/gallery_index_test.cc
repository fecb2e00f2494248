#include "index/gallery_index.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gallery {
namespace {

using ::common_testing::StatusIs;
using ::testing::HasSubstr;

std::vector<float> RandomUnitRows(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n * dim);
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int64_t j = 0; j < dim; ++j) {
      v[i * dim + j] = normal(rng);
      norm += v[i * dim + j] * v[i * dim + j];
    }
    for (int64_t j = 0; j < dim; ++j) v[i * dim + j] /= std::sqrt(norm);
  }
  return v;
}

struct Gallery {
  std::vector<float> data;
  std::vector<std::string> names;
  std::vector<Category> categories;
};

// Categories interleaved on purpose, so Build has to regroup them.
Gallery MakeGallery(int64_t n, int64_t dim) {
  Gallery g;
  g.data = RandomUnitRows(n, dim, 7);
  for (int64_t i = 0; i < n; ++i) {
    g.names.push_back("img" + std::to_string(i) + ".jpg");
    g.categories.push_back(i % 3 == 0   ? Category::kVehicle
                           : i % 3 == 1 ? Category::kPedestrian
                                        : Category::kUnspecified);
  }
  return g;
}

// Expected top-k names by brute force over the rows whose category passes.
std::vector<std::string> Expected(const Gallery& g, const float* q, int64_t dim,
                                  int k, Category filter) {
  std::vector<std::pair<float, std::string>> scored;
  for (size_t i = 0; i < g.names.size(); ++i) {
    if (filter != Category::kUnspecified && g.categories[i] != filter) continue;
    float s = 0;
    for (int64_t j = 0; j < dim; ++j) s += q[j] * g.data[i * dim + j];
    scored.push_back({s, g.names[i]});
  }
  std::sort(scored.begin(), scored.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (int i = 0; i < k && i < static_cast<int>(scored.size()); ++i) {
    out.push_back(scored[i].second);
  }
  return out;
}

TEST(GalleryIndexTest, FlatTopKMatchesBruteForceWithAndWithoutFilter) {
  constexpr int64_t kDim = 24, kN = 600, kQ = 15;
  Gallery g = MakeGallery(kN, kDim);
  auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, {});
  ASSERT_OK(index);
  EXPECT_TRUE((*index)->exact());
  EXPECT_EQ((*index)->CountOf(Category::kPedestrian), 200);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 99);
  for (Category filter :
       {Category::kUnspecified, Category::kPedestrian, Category::kVehicle}) {
    auto hits = (*index)->Search(queries.data(), kQ, 10, filter);
    ASSERT_OK(hits);
    for (int64_t q = 0; q < kQ; ++q) {
      std::vector<std::string> got;
      for (const Hit& h : (*hits)[q]) {
        got.push_back((*index)->names()[h.row]);
        if (filter != Category::kUnspecified) {
          EXPECT_EQ((*index)->category(h.row), filter);
        }
      }
      EXPECT_EQ(got, Expected(g, queries.data() + q * kDim, kDim, 10, filter))
          << "query " << q;
      for (size_t i = 1; i < (*hits)[q].size(); ++i) {
        EXPECT_GE((*hits)[q][i - 1].score, (*hits)[q][i].score);
      }
    }
  }
}

TEST(GalleryIndexTest, KLargerThanCategoryReturnsWholeCategory) {
  Gallery g = MakeGallery(9, 4);
  auto index = GalleryIndex::Build(g.data, 4, g.names, g.categories, {});
  ASSERT_OK(index);
  std::vector<float> q = RandomUnitRows(1, 4, 1);
  auto hits = (*index)->Search(q.data(), 1, 50, Category::kVehicle);
  ASSERT_OK(hits);
  EXPECT_EQ((*hits)[0].size(), 3u);
  EXPECT_THAT(
      (*index)->Search(q.data(), 1, 0),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("k must")));
}

TEST(GalleryIndexTest, SaveLoadRoundTripGivesSameResults) {
  constexpr int64_t kDim = 16, kN = 300;
  Gallery g = MakeGallery(kN, kDim);
  auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, {});
  ASSERT_OK(index);
  const std::string dir = ::testing::TempDir();
  ASSERT_OK((*index)->Save(dir + "/g.faiss", dir + "/g.txt"));
  auto loaded = GalleryIndex::Load(dir + "/g.faiss", dir + "/g.txt");
  ASSERT_OK(loaded);
  EXPECT_EQ((*loaded)->names(), (*index)->names());
  EXPECT_EQ((*loaded)->CountOf(Category::kVehicle), 100);
  std::vector<float> q = RandomUnitRows(3, kDim, 5);
  auto a = (*index)->Search(q.data(), 3, 5, Category::kVehicle);
  auto b = (*loaded)->Search(q.data(), 3, 5, Category::kVehicle);
  ASSERT_OK(a);
  ASSERT_OK(b);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 5; ++j) EXPECT_EQ((*a)[i][j].row, (*b)[i][j].row);
  }
}

TEST(GalleryIndexTest, LoadErrorsNameTheFile) {
  constexpr int64_t kDim = 8;
  Gallery g = MakeGallery(30, kDim);
  auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, {});
  ASSERT_OK(index);
  const std::string dir = ::testing::TempDir();
  ASSERT_OK((*index)->Save(dir + "/e.faiss", dir + "/e.txt"));
  // One name too few.
  auto names = common::ReadFile(dir + "/e.txt");
  ASSERT_OK(names);
  std::string fewer =
      names->substr(0, names->rfind('\n', names->size() - 2) + 1);
  ASSERT_OK(common::WriteFileAtomically(dir + "/fewer.txt", fewer));
  EXPECT_THAT(GalleryIndex::Load(dir + "/e.faiss", dir + "/fewer.txt"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("fewer.txt"), HasSubstr("29"),
                                        HasSubstr("30"))));
  // Corrupt index bytes.
  auto bytes = common::ReadFile(dir + "/e.faiss");
  ASSERT_OK(bytes);
  ASSERT_OK(
      common::WriteFileAtomically(dir + "/bad.faiss", bytes->substr(0, 40)));
  EXPECT_THAT(GalleryIndex::Load(dir + "/bad.faiss", dir + "/e.txt"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bad.faiss")));
  EXPECT_THAT(GalleryIndex::Load(dir + "/none.faiss", dir + "/e.txt"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("none.faiss")));
  // Bad category word, with its line.
  ASSERT_OK(common::WriteFileAtomically(dir + "/cat.txt", "a.jpg\tbicycle\n"));
  EXPECT_THAT(GalleryIndex::Load(dir + "/e.faiss", dir + "/cat.txt"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cat.txt:1")));
}

TEST(GalleryIndexTest, BadFactoryAndSizesAreInvalidArgument) {
  Gallery g = MakeGallery(10, 4);
  BuildOptions opts;
  opts.factory = "NotAnIndex";
  EXPECT_THAT(
      GalleryIndex::Build(g.data, 4, g.names, g.categories, opts),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NotAnIndex")));
  EXPECT_THAT(
      GalleryIndex::Build(g.data, 5, g.names, g.categories, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected")));
}

// FAISS's exception text ends in a NUL byte and starts with "Error in
// <function> at <file>:<line>: "; statuses carry only the message.
TEST(GalleryIndexTest, FaissErrorsHaveNoNulByteOrSourceLocation) {
  Gallery g = MakeGallery(10, 4);
  BuildOptions opts;
  opts.factory = "NotAnIndex";
  absl::StatusOr<std::unique_ptr<GalleryIndex>> bad =
      GalleryIndex::Build(g.data, 4, g.names, g.categories, opts);
  ASSERT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("NotAnIndex")));
  const std::string message(bad.status().message());
  EXPECT_EQ(message.find('\0'), std::string::npos) << absl::CHexEscape(message);
  EXPECT_THAT(message, ::testing::Not(HasSubstr("Error in ")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr(".cpp:")));

  auto index = GalleryIndex::Build(g.data, 4, g.names, g.categories, {});
  ASSERT_OK(index);
  const std::string dir = ::testing::TempDir();
  ASSERT_OK((*index)->Save(dir + "/nul.faiss", dir + "/nul.txt"));
  auto bytes = common::ReadFile(dir + "/nul.faiss");
  ASSERT_OK(bytes);
  ASSERT_OK(common::WriteFileAtomically(dir + "/nul_bad.faiss",
                                        bytes->substr(0, 40)));
  absl::StatusOr<std::unique_ptr<GalleryIndex>> corrupt =
      GalleryIndex::Load(dir + "/nul_bad.faiss", dir + "/nul.txt");
  ASSERT_THAT(corrupt, StatusIs(absl::StatusCode::kDataLoss,
                                HasSubstr("nul_bad.faiss")));
  const std::string corrupt_message(corrupt.status().message());
  EXPECT_EQ(corrupt_message.find('\0'), std::string::npos)
      << absl::CHexEscape(corrupt_message);
  EXPECT_THAT(corrupt_message, ::testing::Not(HasSubstr("Error in ")));
}

TEST(CleanFaissMessageTest, DropsTheLocationAndTheNul) {
  EXPECT_EQ(
      CleanFaissMessage(std::string(
          "Error in faiss::Index* faiss::index_factory(int, const char*, "
          "faiss::MetricType) at /build/faiss/faiss/index_factory.cpp:880: "
          "could not parse index string NotAnIndex\0",
          166)),
      "could not parse index string NotAnIndex");
  EXPECT_EQ(CleanFaissMessage("plain message"), "plain message");
  EXPECT_EQ(CleanFaissMessage("Error in f at g: not a location"),
            "Error in f at g: not a location");
}

// /dev/full fails every write with ENOSPC, as a full disk does: small
// indexes fail when the buffered bytes are flushed, large ones inside FAISS.
TEST(GalleryIndexTest, WritingToAFullDiskIsResourceExhausted) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  for (int64_t n : {10, 4000}) {
    Gallery g = MakeGallery(n, 64);
    auto index = GalleryIndex::Build(g.data, 64, g.names, g.categories, {});
    ASSERT_OK(index);
    const absl::Status status = (*index)->WriteIndexFile("/dev/full");
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted,
                                 HasSubstr("/dev/full")))
        << n << " rows";
    EXPECT_EQ(status.message().find('\0'), absl::string_view::npos);
  }
}

TEST(GalleryIndexTest, ApproximateIndexesReachHighRecall) {
  constexpr int64_t kDim = 32, kN = 4000, kQ = 50;
  Gallery g = MakeGallery(kN, kDim);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 11);
  // ",RFlat" wraps the ANN index in an IndexRefine, which takes no search
  // parameters: the filtered path must reach through it.
  for (const char* factory :
       {"IVF16,Flat", "HNSW16", "IVF16,Flat,RFlat", "HNSW16,RFlat"}) {
    BuildOptions opts;
    opts.factory = factory;
    opts.nprobe = 8;
    auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
    ASSERT_OK(index);
    EXPECT_FALSE((*index)->exact());
    auto hits = (*index)->Search(queries.data(), kQ, 10);
    ASSERT_OK(hits);
    // Ground truth over the index's own (regrouped) row order: row r holds
    // the original vector named names()[r] ("img<i>.jpg").
    std::vector<float> rows(kN * kDim);
    for (int64_t r = 0; r < kN; ++r) {
      int64_t i = std::stoll((*index)->names()[r].substr(3));
      std::copy_n(g.data.begin() + i * kDim, kDim, rows.begin() + r * kDim);
    }
    auto truth = BruteForceTopK(rows.data(), kN, queries.data(), kQ, kDim, 10);
    EXPECT_GT(RecallAtK(truth, *hits, 10), 0.8) << factory;
    // The filter holds for approximate indexes too.
    auto filtered =
        (*index)->Search(queries.data(), kQ, 10, Category::kVehicle);
    ASSERT_OK(filtered);
    for (const auto& list : *filtered) {
      EXPECT_FALSE(list.empty());
      for (const Hit& h : list)
        EXPECT_EQ((*index)->category(h.row), Category::kVehicle);
    }
    // ...and ranks as well within the category as without a filter.
    std::vector<int64_t> vehicle_rows;
    std::vector<float> vehicles;
    for (int64_t r = 0; r < kN; ++r) {
      if ((*index)->category(r) != Category::kVehicle) continue;
      vehicle_rows.push_back(r);
      vehicles.insert(vehicles.end(), rows.begin() + r * kDim,
                      rows.begin() + (r + 1) * kDim);
    }
    auto local = BruteForceTopK(vehicles.data(), vehicle_rows.size(),
                                queries.data(), kQ, kDim, 10);
    for (auto& list : local) {
      for (auto& id : list) id = vehicle_rows[id];
    }
    EXPECT_GT(RecallAtK(local, *filtered, 10), 0.8) << factory << ", filtered";
  }
}

// Exact top-k rows among `selected` (index row order), by brute force.
std::vector<std::vector<int64_t>> SelectedTruth(
    const std::vector<float>& rows, const std::vector<int64_t>& selected,
    const std::vector<float>& queries, int64_t nq, int64_t dim, int k) {
  std::vector<float> subset;
  for (int64_t r : selected) {
    subset.insert(subset.end(), rows.begin() + r * dim,
                  rows.begin() + (r + 1) * dim);
  }
  auto truth = BruteForceTopK(subset.data(), selected.size(), queries.data(),
                              nq, dim, k);
  for (auto& list : truth) {
    for (auto& id : list) id = selected[id];
  }
  return truth;
}

// The gallery's vectors in the index's (regrouped) row order.
std::vector<float> IndexOrderRows(const GalleryIndex& index, const Gallery& g,
                                  int64_t dim) {
  std::vector<float> rows(index.size() * dim);
  for (int64_t r = 0; r < index.size(); ++r) {
    int64_t i = std::stoll(index.names()[r].substr(3));
    std::copy_n(g.data.begin() + i * dim, dim, rows.begin() + r * dim);
  }
  return rows;
}

TEST(GalleryIndexTest, SearchSelectedIsExactAtEverySelectivityOnFlat) {
  constexpr int64_t kDim = 16, kN = 3000, kQ = 12;
  Gallery g = MakeGallery(kN, kDim);
  auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, {});
  ASSERT_OK(index);
  const std::vector<float> rows = IndexOrderRows(**index, g, kDim);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 5);
  std::mt19937 rng(3);
  for (Category filter : {Category::kUnspecified, Category::kVehicle}) {
    const auto [begin, end] = (*index)->RangeOf(filter);
    for (double share : {0.01, 0.1, 0.5, 0.9, 1.0}) {
      std::vector<int64_t> selected;
      std::bernoulli_distribution keep(share);
      for (int64_t r = begin; r < end; ++r) {
        if (share == 1.0 || keep(rng)) selected.push_back(r);
      }
      GalleryIndex::Selection used;
      auto hits = (*index)->SearchSelected(queries.data(), kQ, 10, filter,
                                           selected, &used);
      ASSERT_OK(hits);
      // Flat scores a selection in place at every share.
      const auto expected_strategy =
          share == 1.0 ? GalleryIndex::Selection::kAll
                       : GalleryIndex::Selection::kExactSubset;
      EXPECT_EQ(used, expected_strategy) << "share " << share;
      auto truth = SelectedTruth(rows, selected, queries, kQ, kDim, 10);
      for (int64_t q = 0; q < kQ; ++q) {
        std::vector<int64_t> got;
        for (const Hit& h : (*hits)[q]) got.push_back(h.row);
        EXPECT_EQ(got, truth[q]) << "share " << share << ", query " << q;
      }
    }
  }
}

TEST(GalleryIndexTest, SearchSelectedReturnsWhatASmallSelectionHolds) {
  Gallery g = MakeGallery(300, 8);
  auto index = GalleryIndex::Build(g.data, 8, g.names, g.categories, {});
  ASSERT_OK(index);
  std::vector<float> q = RandomUnitRows(1, 8, 1);
  const auto [begin, end] = (*index)->RangeOf(Category::kPedestrian);
  auto hits = (*index)->SearchSelected(q.data(), 1, 10, Category::kPedestrian,
                                       {begin, begin + 7, end - 1});
  ASSERT_OK(hits);
  EXPECT_EQ((*hits)[0].size(), 3u);
  auto none =
      (*index)->SearchSelected(q.data(), 1, 10, Category::kPedestrian, {});
  ASSERT_OK(none);
  EXPECT_TRUE((*none)[0].empty());
  // Rows outside the category's range, or out of order, are refused.
  EXPECT_THAT(
      (*index)->SearchSelected(q.data(), 1, 10, Category::kPedestrian, {end}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("outside the rows")));
  EXPECT_THAT(
      (*index)->SearchSelected(q.data(), 1, 10, Category::kPedestrian,
                               {begin + 2, begin + 1}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of order")));
}

TEST(GalleryIndexTest, SearchSelectedOnApproximateIndexes) {
  constexpr int64_t kDim = 32, kN = 3000, kQ = 40;
  Gallery g = MakeGallery(kN, kDim);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 17);
  for (const char* factory :
       {"IVF16,Flat", "HNSW16", "IVF16,PQ4x4,RFlat", "PQ8x4"}) {
    BuildOptions opts;
    opts.factory = factory;
    opts.nprobe = 4;
    auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
    ASSERT_OK(index);
    const std::vector<float> rows = IndexOrderRows(**index, g, kDim);
    // What the index reaches without a selection: the bar for a broad one,
    // which searches the index deeper.
    auto plain = (*index)->Search(queries.data(), kQ, 10);
    ASSERT_OK(plain);
    const double plain_recall =
        RecallAtK(BruteForceTopK(rows.data(), kN, queries.data(), kQ, kDim, 10),
                  *plain, 10);
    for (double share : {0.02, 0.6}) {
      std::vector<int64_t> selected;
      for (int64_t r = 0; r < kN; ++r) {
        if ((r * 7919) % 1000 < share * 1000) selected.push_back(r);
      }
      GalleryIndex::Selection used;
      auto hits = (*index)->SearchSelected(
          queries.data(), kQ, 10, Category::kUnspecified, selected, &used);
      ASSERT_OK(hits);
      // A broad selection searches the ANN index deeper; a narrow one scores
      // the rows (unless the deep search fell short).
      EXPECT_EQ(used, share < 0.25 ? GalleryIndex::Selection::kExactSubset
                                   : GalleryIndex::Selection::kSearchThenFilter)
          << factory << ", share " << share;
      for (const auto& list : *hits) {
        ASSERT_EQ(list.size(), 10u) << factory << ", share " << share;
        for (const Hit& h : list) {
          EXPECT_TRUE(
              std::binary_search(selected.begin(), selected.end(), h.row));
        }
      }
      auto truth = SelectedTruth(rows, selected, queries, kQ, kDim, 10);
      // A narrow selection is scored exactly (the codes, for PQ), so it does
      // at least as well as the index; a broad one about as well.
      EXPECT_GT(RecallAtK(truth, *hits, 10), plain_recall - 0.1)
          << factory << ", share " << share;
    }
  }
}

// Hits of two indexes over the same data, compared exactly (row and score).
void ExpectSameHits(const std::vector<std::vector<Hit>>& a,
                    const std::vector<std::vector<Hit>>& b,
                    const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t q = 0; q < a.size(); ++q) {
    ASSERT_EQ(a[q].size(), b[q].size()) << what << ", query " << q;
    for (size_t j = 0; j < a[q].size(); ++j) {
      EXPECT_EQ(a[q][j].row, b[q][j].row) << what << ", query " << q;
      EXPECT_EQ(a[q][j].score, b[q][j].score) << what << ", query " << q;
    }
  }
}

// An index loaded with its inverted lists mapped answers every search path
// exactly as the same file read into memory does; index types without
// inverted lists are read whatever the option says.
TEST(GalleryIndexTest, MappedIndexesAnswerLikeReadOnes) {
  constexpr int64_t kDim = 32, kN = 3000, kQ = 20;
  Gallery g = MakeGallery(kN, kDim);
  const std::vector<float> queries = RandomUnitRows(kQ, kDim, 23);
  const std::string dir = ::testing::TempDir();
  struct Case {
    const char* factory;
    bool mapped;
  };
  const Case cases[] = {{"IVF16,Flat", true},  {"IVF16,SQ8", true},
                        {"IVF16,PQ8x4", true}, {"IVF16,PQ4x4,RFlat", true},
                        {"Flat", false},       {"HNSW16", false}};
  int n = 0;
  for (const Case& c : cases) {
    const std::string what = c.factory;
    BuildOptions opts;
    opts.factory = c.factory;
    opts.nprobe = 4;
    auto built = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
    ASSERT_OK(built);
    const std::string base = dir + "/mapped" + std::to_string(n++);
    ASSERT_OK((*built)->Save(base + ".faiss", base + ".txt"));
    LoadOptions read_options;
    read_options.mmap = false;
    auto read =
        GalleryIndex::Load(base + ".faiss", base + ".txt", read_options);
    ASSERT_OK(read);
    auto mapped = GalleryIndex::Load(base + ".faiss", base + ".txt");
    ASSERT_OK(mapped);
    auto bytes = common::ReadFile(base + ".faiss");
    ASSERT_OK(bytes);
    EXPECT_EQ((*read)->mapped_bytes(), 0) << what;
    EXPECT_EQ((*built)->mapped_bytes(), 0) << what;
    EXPECT_EQ((*mapped)->mapped_bytes(),
              c.mapped ? static_cast<int64_t>(bytes->size()) : 0)
        << what;

    for (Category filter :
         {Category::kUnspecified, Category::kPedestrian, Category::kVehicle}) {
      auto a = (*read)->Search(queries.data(), kQ, 10, filter);
      auto b = (*mapped)->Search(queries.data(), kQ, 10, filter);
      ASSERT_OK(a) << what;
      ASSERT_OK(b);
      ExpectSameHits(*a, *b, what + ", filter " + CategoryWord(filter));
    }
    // Narrow and broad selections, over the whole gallery and a category.
    for (Category filter : {Category::kUnspecified, Category::kVehicle}) {
      const auto [begin, end] = (*read)->RangeOf(filter);
      for (double share : {0.02, 0.6}) {
        std::vector<int64_t> selected;
        for (int64_t r = begin; r < end; ++r) {
          if ((r * 7919) % 1000 < share * 1000) selected.push_back(r);
        }
        GalleryIndex::Selection used_read, used_mapped;
        auto a = (*read)->SearchSelected(queries.data(), kQ, 10, filter,
                                         selected, &used_read);
        auto b = (*mapped)->SearchSelected(queries.data(), kQ, 10, filter,
                                           selected, &used_mapped);
        ASSERT_OK(a);
        ASSERT_OK(b);
        EXPECT_EQ(used_read, used_mapped) << what << ", share " << share;
        ExpectSameHits(*a, *b,
                       what + ", selected share " + std::to_string(share));
      }
    }
    // Reconstruct gives the same vectors, or the same refusal (IVF indexes
    // without a direct map).
    const std::vector<int64_t> rows = {0, 7, kN - 1};
    auto ra = (*read)->Reconstruct(rows);
    auto rb = (*mapped)->Reconstruct(rows);
    EXPECT_EQ(ra.status().code(), rb.status().code()) << what;
    if (ra.ok() && rb.ok()) {
      EXPECT_EQ(*ra, *rb) << what;
    }

    // Concurrent searches of the mapped index agree with a single one.
    auto single = (*mapped)->Search(queries.data(), kQ, 10);
    ASSERT_OK(single);
    std::vector<absl::StatusOr<std::vector<std::vector<Hit>>>> concurrent(
        4, absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (auto& result : concurrent) {
      threads.emplace_back(
          [&, r = &result] { *r = (*mapped)->Search(queries.data(), kQ, 10); });
    }
    for (auto& t : threads) t.join();
    for (const auto& result : concurrent) {
      ASSERT_OK(result);
      ExpectSameHits(*single, *result, what + ", concurrent");
    }

    // Saving a mapped index writes an index that loads and answers alike.
    ASSERT_OK((*mapped)->Save(base + "_again.faiss", base + "_again.txt"));
    auto again_bytes = common::ReadFile(base + "_again.faiss");
    ASSERT_OK(again_bytes);
    if (c.mapped) {
      EXPECT_EQ(*again_bytes, *bytes) << what;
    }
    auto again = GalleryIndex::Load(base + "_again.faiss", base + "_again.txt");
    ASSERT_OK(again);
    auto c_hits = (*again)->Search(queries.data(), kQ, 10);
    ASSERT_OK(c_hits);
    ExpectSameHits(*single, *c_hits, what + ", saved again");
  }
}

// FAISS maps lists that run past the end of a cut-short file (and would
// fault on the first search touching them); Load refuses such a file.
TEST(GalleryIndexTest, MappedIndexCutShortIsDataLoss) {
  constexpr int64_t kDim = 16;
  Gallery g = MakeGallery(500, kDim);
  BuildOptions opts;
  opts.factory = "IVF8,Flat";
  auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
  ASSERT_OK(index);
  const std::string dir = ::testing::TempDir();
  ASSERT_OK((*index)->Save(dir + "/whole.faiss", dir + "/whole.txt"));
  auto bytes = common::ReadFile(dir + "/whole.faiss");
  ASSERT_OK(bytes);
  ASSERT_OK(common::WriteFileAtomically(dir + "/cut.faiss",
                                        bytes->substr(0, bytes->size() - 100)));
  EXPECT_THAT(GalleryIndex::Load(dir + "/cut.faiss", dir + "/whole.txt"),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("cut.faiss"),
                                        HasSubstr("truncated"))));
  LoadOptions read_options;
  read_options.mmap = false;
  EXPECT_THAT(
      GalleryIndex::Load(dir + "/cut.faiss", dir + "/whole.txt", read_options),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cut.faiss")));
}

// A gallery already grouped by category (as BuildFromSource requires).
Gallery MakeGroupedGallery(int64_t n, int64_t dim) {
  Gallery g;
  g.data = RandomUnitRows(n, dim, 23);
  for (int64_t i = 0; i < n; ++i) {
    g.names.push_back("img" + std::to_string(i) + ".jpg");
    g.categories.push_back(i < n / 4   ? Category::kPedestrian
                           : i < n / 2 ? Category::kVehicle
                                       : Category::kUnspecified);
  }
  return g;
}

RowSource SourceOf(const Gallery& g, int64_t dim, int* calls = nullptr) {
  return [&g, dim, calls](int64_t begin, int64_t end, float* out) {
    if (calls != nullptr) ++*calls;
    std::copy(g.data.begin() + begin * dim, g.data.begin() + end * dim, out);
    return absl::OkStatus();
  };
}

TEST(GalleryIndexTest, BuildFromSourceGivesTheIndexBuildGives) {
  constexpr int64_t kDim = 16, kN = 1000, kQ = 20;
  Gallery g = MakeGroupedGallery(kN, kDim);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 29);
  for (const char* factory : {"Flat", "IVF16,Flat", "IVF16,PQ4,Refine(SQ8)"}) {
    BuildOptions opts;
    opts.factory = factory;
    opts.nprobe = 4;
    opts.max_training_rows = 600;  // sampled, not all rows
    auto whole = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
    ASSERT_OK(whole);
    int calls = 0;
    auto chunked = GalleryIndex::BuildFromSource(
        kN, kDim, SourceOf(g, kDim, &calls), g.names, g.categories, opts,
        /*chunk_rows=*/300);
    ASSERT_OK(chunked);
    EXPECT_GE(calls, 4) << factory;  // 300 + 300 + 300 + 100 rows
    EXPECT_EQ((*chunked)->names(), (*whole)->names());
    EXPECT_EQ((*chunked)->CountOf(Category::kVehicle), kN / 4);
    for (Category filter : {Category::kUnspecified, Category::kVehicle}) {
      auto a = (*whole)->Search(queries.data(), kQ, 10, filter);
      auto b = (*chunked)->Search(queries.data(), kQ, 10, filter);
      ASSERT_OK(a);
      ASSERT_OK(b);
      for (int64_t q = 0; q < kQ; ++q) {
        ASSERT_EQ((*a)[q].size(), (*b)[q].size()) << factory;
        for (size_t j = 0; j < (*a)[q].size(); ++j) {
          EXPECT_EQ((*a)[q][j].row, (*b)[q][j].row) << factory;
        }
      }
    }
  }
}

TEST(GalleryIndexTest, BuildFromSourceErrors) {
  constexpr int64_t kDim = 8, kN = 100;
  Gallery g = MakeGallery(kN, kDim);  // categories interleaved
  EXPECT_THAT(GalleryIndex::BuildFromSource(kN, kDim, SourceOf(g, kDim),
                                            g.names, g.categories, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("grouped by category")));
  std::vector<Category> all(kN, Category::kUnspecified);
  EXPECT_THAT(GalleryIndex::BuildFromSource(kN, kDim,
                                            [](int64_t, int64_t, float*) {
                                              return absl::DataLossError(
                                                  "embeddings.bin: truncated");
                                            },
                                            g.names, all, {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  EXPECT_THAT(GalleryIndex::BuildFromSource(kN - 1, kDim, SourceOf(g, kDim),
                                            g.names, all, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("99")));
}

TEST(GalleryIndexTest, SetSearchTuningChangesNprobe) {
  constexpr int64_t kDim = 16, kN = 2000, kQ = 30;
  Gallery g = MakeGallery(kN, kDim);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 31);
  BuildOptions opts;
  opts.factory = "IVF32,Flat";
  opts.nprobe = 1;
  auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
  ASSERT_OK(index);
  const std::vector<float> rows = IndexOrderRows(**index, g, kDim);
  auto truth = BruteForceTopK(rows.data(), kN, queries.data(), kQ, kDim, 10);
  auto narrow = (*index)->Search(queries.data(), kQ, 10);
  ASSERT_OK(narrow);
  // Uniform random vectors: one list of 32 holds few true neighbours.
  EXPECT_LT(RecallAtK(truth, *narrow, 10), 0.9);
  SearchTuning all_lists;
  all_lists.nprobe = 1000;  // capped at the 32 lists: exact
  ASSERT_OK((*index)->SetSearchTuning(all_lists));
  auto wide = (*index)->Search(queries.data(), kQ, 10);
  ASSERT_OK(wide);
  EXPECT_GT(RecallAtK(truth, *wide, 10), 0.999);
}

TEST(GalleryIndexTest, IndexBytesCountsTheStoredVectors) {
  constexpr int64_t kDim = 16, kN = 500;
  Gallery g = MakeGallery(kN, kDim);
  auto flat = GalleryIndex::Build(g.data, kDim, g.names, g.categories, {});
  ASSERT_OK(flat);
  auto bytes = (*flat)->IndexBytes();
  ASSERT_OK(bytes);
  EXPECT_GE(*bytes, kN * kDim * 4);
  EXPECT_LT(*bytes, kN * kDim * 4 + 1024);
  BuildOptions sq8;
  sq8.factory = "SQ8";
  auto compressed =
      GalleryIndex::Build(g.data, kDim, g.names, g.categories, sq8);
  ASSERT_OK(compressed);
  auto sq8_bytes = (*compressed)->IndexBytes();
  ASSERT_OK(sq8_bytes);
  EXPECT_GE(*sq8_bytes, kN * kDim);
  EXPECT_LT(*sq8_bytes, kN * kDim + 1024);
}

TEST(ExactTopKTest, ChunksInAnyOrderMatchBruteForce) {
  constexpr int64_t kDim = 24, kN = 1500, kQ = 15;
  std::vector<float> base = RandomUnitRows(kN, kDim, 37);
  std::vector<float> queries = RandomUnitRows(kQ, kDim, 41);
  ExactTopK exact(queries.data(), kQ, kDim, 10);
  // Chunks of unequal size, the last first, one smaller than k.
  exact.Add(base.data() + 1000 * kDim, 500, 1000);
  exact.Add(base.data() + 3 * kDim, 997, 3);
  exact.Add(base.data(), 3, 0);
  EXPECT_EQ(exact.Ids(),
            BruteForceTopK(base.data(), kN, queries.data(), kQ, kDim, 10));
}

TEST(DefaultIndexChoiceTest, ExactUpToTheThresholdThenApproximate) {
  for (int64_t dim : {64, 512}) {
    EXPECT_EQ(DefaultIndexFactory(1, dim), "Flat");
    EXPECT_EQ(DefaultIndexFactory(17611, dim), "Flat");
    bool approximate = false;
    int64_t last_lists = 0;
    for (int64_t n = 1000; n <= 10000000000LL; n = n * 3 / 2) {
      const IndexChoice c = DefaultIndexChoice(n, dim);
      if (c.factory != "Flat") approximate = true;
      // Monotonic: once approximate, larger galleries stay approximate,
      // with at least as many IVF lists.
      EXPECT_EQ(c.factory == "Flat", !approximate) << n << " x " << dim;
      if (approximate) {
        const int64_t lists = std::stoll(c.factory.substr(3));
        EXPECT_GE(lists, last_lists) << c.factory;
        last_lists = lists;
        EXPECT_GT(c.nprobe, 0);
        EXPECT_GT(c.refine_factor, 0);
        // SQ8 up to kMaxSq8Gallery, refined PQ above.
        EXPECT_EQ(c.factory.find("Refine(SQ8)") != std::string::npos,
                  n > kMaxSq8Gallery)
            << c.factory;
      }
    }
    EXPECT_TRUE(approximate);
  }
  EXPECT_EQ(DefaultIndexFactory(kMaxExactGallery, 512), "Flat");
  EXPECT_NE(DefaultIndexFactory(kMaxExactGallery + 1, 512), "Flat");
}

TEST(DefaultIndexChoiceTest, ChosenFactoriesBuildAndSearch) {
  // The string chosen for a large gallery, built on a small one (as many
  // rows as IVF lists, which k-means needs); two k-means iterations keep
  // the test fast.
  constexpr int64_t kDim = 64, kQ = 10;
  for (int64_t size : {int64_t{1000}, int64_t{1000000}, kMaxSq8Gallery + 1,
                       int64_t{10000000}, int64_t{5000000000}}) {
    const IndexChoice c = DefaultIndexChoice(size, kDim);
    int64_t n = 1000;
    if (c.factory != "Flat") n = std::stoll(c.factory.substr(3));
    Gallery g = MakeGallery(n, kDim);
    BuildOptions opts;
    opts.factory = c.factory;
    opts.nprobe = c.nprobe;
    opts.ef_search = c.ef_search;
    opts.refine_factor = c.refine_factor;
    opts.kmeans_iterations = 2;
    auto index = GalleryIndex::Build(g.data, kDim, g.names, g.categories, opts);
    ASSERT_OK(index) << c.factory;
    std::vector<float> queries = RandomUnitRows(kQ, kDim, 43);
    auto hits = (*index)->Search(queries.data(), kQ, 10);
    ASSERT_OK(hits);
    for (const auto& list : *hits) EXPECT_EQ(list.size(), 10u) << c.factory;
  }
}

}  // namespace
}  // namespace gallery
