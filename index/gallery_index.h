// The gallery: image embeddings in a FAISS index, with image names and
// categories. FAISS types and names appear only in gallery_index.cc.
//
// Rows are kept grouped by category (pedestrian, vehicle, unspecified), so a
// category filter searches one contiguous range of rows: an exact (Flat)
// index scans only that range, other index types get a range selector.
//
// Thread safety: Search() is const and may be called from many threads at
// once; Build/Load produce immutable objects.
#ifndef INDEX_GALLERY_INDEX_H_
#define INDEX_GALLERY_INDEX_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/category.h"

namespace gallery {

using Category = common::Category;

struct Hit {
  int64_t row = -1;  // row in the gallery (line of images.txt)
  float score = 0;   // inner product; cosine for normalised embeddings
};

class GalleryIndex;

struct BuildOptions {
  // FAISS index_factory string: "Flat", "HNSW32", "IVF1024,Flat",
  // "IVF1024,PQ64", ... The metric is always inner product.
  std::string factory = "Flat";
  // Index types that need training (IVF, PQ) train on at most this many
  // rows, sampled with `seed`.
  int64_t max_training_rows = 100000;
  uint64_t seed = 1234;
  // IVF: lists probed per query (stored with the index). HNSW: efSearch.
  int nprobe = 16;
  int ef_search = 128;
  // Refined indexes (",RFlat"): exact re-ranking of refine_factor * k
  // candidates.
  int refine_factor = 4;
  // IVF types: k-means iterations of the coarse quantizer's training; 0
  // keeps FAISS's default (25). Training costs iterations x training rows
  // x lists x dim, which dominates the build of a large IVF index.
  int kmeans_iterations = 0;
  // Put the index on the GPU when the build has FAISS GPU support (CUDA
  // builds); ignored otherwise.
  bool use_gpu = false;
  // When set: start from a copy of this index's trained state (coarse
  // quantizer, PQ codebooks, OPQ rotation) emptied of its vectors, instead
  // of a new index trained on the gallery (the training options are then
  // unused; `factory` should name the trained index's type: it selects the
  // search parameters set below). The gallery's vectors are added to it in the
  // usual category-grouped order. For publishing a version that changes
  // some images of a trained one without retraining (exporter/export.h).
  // Must outlive Build only.
  const GalleryIndex* trained = nullptr;
};

struct LoadOptions {
  // Put the index on the GPU when the build has FAISS GPU support (CUDA
  // builds); ignored otherwise. The CPU index is kept (mapped or read).
  bool use_gpu = false;
  // Map the inverted lists of an IVF index (IVF*,Flat / SQ* / PQ*, also
  // under an RFlat refinement) from the file (read-only, shared) instead of
  // reading them: their pages are read on first touch, live in the page
  // cache, count as file-backed memory, and are shared by every process and
  // version mapping the same file. Everything else is still read into
  // memory: coarse centroids, quantizer tables, the direct map, Flat, PQ,
  // SQ and HNSW codes, the exact vectors of a refinement, FastScan lists.
  // The file must not be modified in place while loaded (versions are
  // written once and renamed into place). False reads the whole index.
  bool mmap = true;
};

// Search-time parameters of an approximate index; 0 leaves one unchanged,
// and each applies only to index types that have it.
struct SearchTuning {
  int nprobe = 0;         // IVF lists probed
  int ef_search = 0;      // HNSW efSearch (of an HNSW index, or of the
                          // HNSW coarse quantizer of an IVF index)
  int refine_factor = 0;  // refined indexes: candidates re-scored per hit
};

// Writes rows [begin, end) of a gallery to `out` ([end - begin, dim]
// float32 row-major, L2-normalised). A non-OK status stops the build and is
// returned by it.
using RowSource =
    std::function<absl::Status(int64_t begin, int64_t end, float* out)>;

class GalleryIndex {
 public:
  // Builds an index over `embeddings` ([n, dim] float32 row-major, expected
  // L2-normalised), with `names[i]` and `categories[i]` describing row i.
  // Rows are reordered so that categories are contiguous; names() gives the
  // final order. INVALID_ARGUMENT for size mismatches, an empty gallery, or a
  // factory string FAISS rejects (its message is included).
  static absl::StatusOr<std::unique_ptr<GalleryIndex>> Build(
      const std::vector<float>& embeddings, int64_t dim,
      std::vector<std::string> names, std::vector<Category> categories,
      const BuildOptions& options);

  // Whether indexes of `factory` over vectors of `dim` must be trained
  // before vectors are added (IVF, PQ, OPQ, SQ: true; Flat, HNSW32: false).
  // INVALID_ARGUMENT for a factory string FAISS rejects.
  static absl::StatusOr<bool> FactoryNeedsTraining(const std::string& factory,
                                                   int64_t dim);
  // Like Build, for a gallery too large to hold as float32 (10M x 512 is
  // 20 GB): the n rows come from `source`, `chunk_rows` at a time and in
  // order, and are added chunk by chunk; training rows (as in Build, at most
  // options.max_training_rows, sampled with options.seed) are fetched one
  // by one. Rows are not reordered: they must already be grouped by
  // category (pedestrian, vehicle, unspecified), INVALID_ARGUMENT
  // otherwise. Other errors as Build's, or the source's status. Memory is
  // the index's plus one chunk; an exact (Flat) index still holds every
  // vector, so this pays off for compressed types (PQ, SQ8).
  static absl::StatusOr<std::unique_ptr<GalleryIndex>> BuildFromSource(
      int64_t n, int64_t dim, const RowSource& source,
      std::vector<std::string> names, std::vector<Category> categories,
      const BuildOptions& options, int64_t chunk_rows = 100000);

  // Reads an index written by Save: `index_path` (FAISS binary) and
  // `names_path` (images.txt: "name" or "name\tcategory" per line, row order).
  // DATA_LOSS for a corrupt index (with `mmap`, also for inverted lists that
  // run past the end of the file); FAILED_PRECONDITION when the number of
  // names differs from the index's row count; errors name the file.
  static absl::StatusOr<std::unique_ptr<GalleryIndex>> Load(
      const std::string& index_path, const std::string& names_path,
      const LoadOptions& options = {});

  // Writes the index and images.txt atomically (WriteIndexFile on a
  // temporary name, then a rename). Errors as WriteIndexFile's and
  // common::WriteFileAtomically's.
  absl::Status Save(const std::string& index_path,
                    const std::string& names_path) const;

  // Writes the FAISS binary to `path` in place (no temporary name), synced.
  // RESOURCE_EXHAUSTED naming the path when the disk or quota is full
  // (ENOSPC, EDQUOT, or a short write without errno); other I/O errors as
  // common::ErrnoToStatus; INVALID_ARGUMENT when FAISS cannot serialise the
  // index type. A mapped index (mapped_bytes() > 0) writes the bytes of the
  // file it was loaded from.
  absl::Status WriteIndexFile(const std::string& path) const;

  ~GalleryIndex();

  // Changes the search parameters of the CPU index (those set by Build from
  // BuildOptions; Save stores them with the index). Not thread-safe: call it
  // only while no Search runs. FAILED_PRECONDITION for an index placed on
  // the GPU.
  absl::Status SetSearchTuning(const SearchTuning& tuning);

  // The index's size in bytes as FAISS serialises it (vectors or codes,
  // lists, graph links, trained parameters): about its memory footprint.
  // INVALID_ARGUMENT when FAISS cannot serialise the type.
  absl::StatusOr<int64_t> IndexBytes() const;

  // queries: [nq, dim] float32 row-major. Returns nq lists of up to k hits,
  // best first, restricted to `filter` unless kUnspecified.
  // INVALID_ARGUMENT when k < 1 or the query size is wrong.
  absl::StatusOr<std::vector<std::vector<Hit>>> Search(
      const float* queries, int64_t nq, int k,
      Category filter = Category::kUnspecified) const;

  // How SearchSelected searched.
  enum class Selection {
    kAll,              // every row of the range was selected: plain Search
    kExactSubset,      // only the selected rows were scored
    kSearchThenFilter  // the range was searched deeper, then filtered
  };

  // Like Search with `filter`, restricted further to `rows`: ascending,
  // distinct rows of that category's range (of the whole gallery for
  // kUnspecified). A selection that keeps at most ExactSubsetShare() of the
  // range's rows is searched exactly over those rows only: each is scored
  // from the stored vectors (a Flat index, the exact vectors of a refined
  // or HNSW-over-Flat index, the codes of a PQ index), or for an IVF index
  // by its own search with the rows as a selector and proportionally more
  // lists probed. A broader one searches the range for more hits than asked
  // (k over the selected share, doubled, plus a margin), keeps those
  // selected, and falls back to the exact subset search when that leaves
  // fewer than k. `used`, when given, says which was done. INVALID_ARGUMENT
  // for rows outside the range or out of order.
  absl::StatusOr<std::vector<std::vector<Hit>>> SearchSelected(
      const float* queries, int64_t nq, int k, Category filter,
      const std::vector<int64_t>& rows, Selection* used = nullptr) const;

  // The share of a range up to which SearchSelected scores only the
  // selected rows: every share below 1 for an exact index (scoring m rows
  // in place costs less than the full scan for any m below the range), 0.25
  // for approximate ones (whose search costs less than a scan).
  double ExactSubsetShare() const;

  // First and one-past-last row of category `c` (the whole gallery for
  // kUnspecified).
  std::pair<int64_t, int64_t> RangeOf(Category c) const;

  int64_t size() const { return static_cast<int64_t>(names_.size()); }
  int64_t dim() const { return dim_; }
  const std::string& factory() const { return factory_; }
  const std::vector<std::string>& names() const { return names_; }
  Category category(int64_t row) const;
  int64_t CountOf(Category c) const;
  // Whether search is exact (a Flat index).
  bool exact() const;
  // Bytes of the index file mapped by Load with LoadOptions::mmap (the
  // whole file, of which the inverted lists are read from the mapping); 0
  // when nothing is mapped (built, read, or an index type without inverted
  // lists). Mapped bytes are address space, resident only once touched.
  int64_t mapped_bytes() const;

  // Reconstructs stored row vectors (exact for Flat; approximate for PQ):
  // [rows.size(), dim]. INVALID_ARGUMENT for index types that cannot
  // (IVF without a direct map).
  absl::StatusOr<std::vector<float>> Reconstruct(
      const std::vector<int64_t>& rows) const;

 private:
  struct Impl;
  GalleryIndex(std::unique_ptr<Impl> impl, int64_t dim, std::string factory,
               std::vector<std::string> names,
               std::array<int64_t, 4> category_starts);
  // Exact (or code-exact) scores of `rows` only.
  absl::StatusOr<std::vector<std::vector<Hit>>> SearchRows(
      const float* queries, int64_t nq, int k,
      const std::vector<int64_t>& rows) const;

  std::unique_ptr<Impl> impl_;
  int64_t dim_;
  std::string factory_;
  std::vector<std::string> names_;
  // Rows of category c are [starts_[c], starts_[c + 1]) in the order
  // pedestrian, vehicle, unspecified.
  std::array<int64_t, 4> starts_;
};

// A FaissException's text as a status message: without the trailing NUL
// bytes and the "Error in <function> at <file>:<line>: " prefix.
std::string CleanFaissMessage(absl::string_view message);

// Category <-> the word stored in images.txt.
const char* CategoryWord(Category c);
absl::StatusOr<Category> ParseCategoryWord(const std::string& word);

// Exact top-k by brute force over row-major float32 data; used to measure
// the recall of approximate indexes. Returns row ids per query, best first.
std::vector<std::vector<int64_t>> BruteForceTopK(const float* base, int64_t n,
                                                 const float* queries,
                                                 int64_t nq, int64_t dim,
                                                 int k);

// Exact top-k over a gallery seen in chunks (of any size, in any order),
// for galleries too large to hold: the running k best (row, score) per
// query. Row ids are chunk offsets plus `first_row`.
class ExactTopK {
 public:
  // queries: [nq, dim] float32 row-major (copied).
  ExactTopK(const float* queries, int64_t nq, int64_t dim, int k);
  // Scores rows [first_row, first_row + n) held in `rows` ([n, dim]).
  void Add(const float* rows, int64_t n, int64_t first_row);
  // Row ids per query, best first.
  std::vector<std::vector<int64_t>> Ids() const;

 private:
  std::vector<float> queries_;
  int64_t nq_, dim_;
  int k_;
  std::vector<std::vector<Hit>> best_;
};

// The index a gallery of `num_images` embeddings of size `dim` gets when the
// user names none, and its search parameters; chosen from the measurements
// in docs/scale.md (synthetic low-rank set: recall@10 0.98 for IVF-SQ8 at
// 1M; 0.88 for refined IVF-PQ at 10M, below the 0.95 aimed at):
// - Flat (exact) while num_images x dim <= kMaxExactGallery x 512;
// - "IVF<lists>,SQ8" up to kMaxSq8Gallery images, nprobe 16;
// - "IVF<lists>_HNSW32,PQ<dim/8>,Refine(SQ8)" above, nprobe 16, efSearch
//   128, refine_factor 16;
// with <lists> the power of two at or above 4 sqrt(num_images), from 1024
// to 16384. Every factory string builds with GalleryIndex::Build on a
// gallery of at least <lists> rows.
struct IndexChoice {
  std::string factory;
  int nprobe = 16;
  int ef_search = 128;
  int refine_factor = 4;
};
IndexChoice DefaultIndexChoice(int64_t num_images, int64_t dim);
// DefaultIndexChoice(num_images, dim).factory.
std::string DefaultIndexFactory(int64_t num_images, int64_t dim);
// Exact search up to this many 512-d images (Flat: 16 ms per query at batch
// 1 on 2 cores at 100k; 160 ms at 1M).
constexpr int64_t kMaxExactGallery = 100000;
// IVF-SQ8 up to this many images; IVF-PQ with SQ8 refinement above.
constexpr int64_t kMaxSq8Gallery = 2000000;

// Mean fraction of `truth[q]`'s first k ids found in `got[q]`'s first k.
double RecallAtK(const std::vector<std::vector<int64_t>>& truth,
                 const std::vector<std::vector<Hit>>& got, int k);

}  // namespace gallery

#endif  // INDEX_GALLERY_INDEX_H_
