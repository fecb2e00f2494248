#include "index/gallery_index.h"

#include <faiss/AutoTune.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/clone_index.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/invlists/OnDiskInvertedLists.h>
#include <faiss/utils/distances.h>
#ifdef RETRIEVAL_WITH_FAISS_GPU
#include <faiss/gpu/GpuCloner.h>
#include <faiss/gpu/StandardGpuResources.h>
#endif

#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace gallery {
namespace {

constexpr Category kOrder[3] = {Category::kPedestrian, Category::kVehicle,
                                Category::kUnspecified};

int Slot(Category c) {
  for (int i = 0; i < 3; ++i) {
    if (kOrder[i] == c) return i;
  }
  return 2;
}

}  // namespace

std::string CleanFaissMessage(absl::string_view message) {
  // FaissException sizes its buffer one past snprintf's output.
  while (!message.empty() && message.back() == '\0') message.remove_suffix(1);
  // "Error in <function> at <file>:<line>: <message>"; the function's
  // signature may hold colons, so look for ":<digits>: " after " at ".
  if (absl::StartsWith(message, "Error in ")) {
    const size_t at = message.find(" at ");
    for (size_t colon = at == absl::string_view::npos ? absl::string_view::npos
                                                      : message.find(':', at);
         colon != absl::string_view::npos;
         colon = message.find(':', colon + 1)) {
      size_t end = colon + 1;
      while (end < message.size() && absl::ascii_isdigit(message[end])) ++end;
      if (end > colon + 1 && message.substr(end, 2) == ": ") {
        message.remove_prefix(end + 2);
        break;
      }
    }
  }
  return std::string(message);
}

namespace {

template <typename F>
absl::Status CatchFaiss(const std::string& what, F&& f) {
  try {
    f();
  } catch (const faiss::FaissException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", CleanFaissMessage(e.msg)));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(what, ": ", CleanFaissMessage(e.what())));
  }
  return absl::OkStatus();
}

// A failed write of `path` (fwrite, fflush, fsync or fclose) that left
// `err` in errno: a full disk or quota is RESOURCE_EXHAUSTED, and so is a
// short write that set no errno; other errors as common::ErrnoToStatus.
absl::Status WriteError(int err, const std::string& path,
                        absl::string_view detail) {
  const std::string what = absl::StrCat("cannot write FAISS index ", path,
                                        detail.empty() ? "" : " (", detail,
                                        detail.empty() ? "" : ")");
  if (err == 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": short write (disk full?)"));
  }
  return common::ErrnoToStatus(err, what);
}

}  // namespace

struct GalleryIndex::Impl {
  std::unique_ptr<faiss::Index> index;  // CPU index (always kept for saving)
  // Loaded with LoadOptions::mmap: the read-only mapping of the whole index
  // file that the inverted lists point into (owned by FAISS's
  // OnDiskInvertedLists, unmapped with the index); null otherwise.
  const uint8_t* mapped = nullptr;
  size_t mapped_size = 0;
#ifdef RETRIEVAL_WITH_FAISS_GPU
  std::unique_ptr<faiss::gpu::StandardGpuResources> gpu_resources;
  std::unique_ptr<faiss::Index> gpu_index;
#endif
  const faiss::Index& searcher() const {
#ifdef RETRIEVAL_WITH_FAISS_GPU
    if (gpu_index) return *gpu_index;
#endif
    return *index;
  }
  void MaybeToGpu(bool use_gpu) {
#ifdef RETRIEVAL_WITH_FAISS_GPU
    if (use_gpu) {
      gpu_resources = std::make_unique<faiss::gpu::StandardGpuResources>();
      gpu_index.reset(
          faiss::gpu::index_cpu_to_gpu(gpu_resources.get(), 0, index.get()));
    }
#else
    (void)use_gpu;
#endif
  }
};

const char* CategoryWord(Category c) { return common::CategoryName(c); }

absl::StatusOr<Category> ParseCategoryWord(const std::string& word) {
  for (Category c : kOrder) {
    if (word == CategoryWord(c)) return c;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown category '", word,
                   "' (expected pedestrian, vehicle or unspecified)"));
}

GalleryIndex::GalleryIndex(std::unique_ptr<Impl> impl, int64_t dim,
                           std::string factory, std::vector<std::string> names,
                           std::array<int64_t, 4> category_starts)
    : impl_(std::move(impl)),
      dim_(dim),
      factory_(std::move(factory)),
      names_(std::move(names)),
      starts_(category_starts) {}

GalleryIndex::~GalleryIndex() = default;

Category GalleryIndex::category(int64_t row) const {
  for (int s = 0; s < 3; ++s) {
    if (row >= starts_[s] && row < starts_[s + 1]) return kOrder[s];
  }
  return Category::kUnspecified;
}

int64_t GalleryIndex::CountOf(Category c) const {
  int s = Slot(c);
  return starts_[s + 1] - starts_[s];
}

bool GalleryIndex::exact() const {
  return dynamic_cast<const faiss::IndexFlat*>(impl_->index.get()) != nullptr;
}

namespace {

// Exact search of a few queries: FAISS's default scans with one thread per
// query, so a single query uses one core. Routing every query count through
// BLAS (a multi-threaded matrix-vector product for one query) uses all cores
// of this memory-bound scan.
void PreferBlasForExactSearch() {
  static const bool once = [] {
    faiss::distance_compute_blas_threshold = 1;
    return true;
  }();
  (void)once;
}

// The base index of a refined index and the index inside a transform: where
// IVF and HNSW parameters live.
faiss::Index* Inner(faiss::Index* index) {
  if (auto* refine = dynamic_cast<faiss::IndexRefine*>(index)) {
    index = refine->base_index;
  }
  if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) {
    index = pre->index;
  }
  return index;
}

// Training settings of `options`, and no polysemous training for IVF-PQ:
// FAISS's index_factory asks for it, and it costs minutes (simulated
// annealing over the PQ codebooks) for codes that only a search with a
// Hamming threshold (polysemous_ht, never set here) would use.
void PrepareTraining(faiss::Index* index, const BuildOptions& options) {
  auto* ivf = dynamic_cast<faiss::IndexIVF*>(Inner(index));
  if (ivf == nullptr) return;
  if (options.kmeans_iterations > 0) ivf->cp.niter = options.kmeans_iterations;
  if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(ivf)) {
    ivfpq->do_polysemous_training = false;
  }
}

// The search parameters of `options` that apply to options.factory.
// ParameterSpace reaches through wrappers such as RFlat refinement.
void SetSearchOptions(faiss::Index* index, const BuildOptions& options) {
  faiss::ParameterSpace space;
  const std::string& f = options.factory;
  if (f.find("IVF") != std::string::npos) {
    space.set_index_parameter(index, "nprobe", options.nprobe);
  }
  if (f.find("HNSW") != std::string::npos) {
    space.set_index_parameter(index, "efSearch", options.ef_search);
  }
  if (f.find("RFlat") != std::string::npos ||
      f.find("Refine") != std::string::npos) {
    space.set_index_parameter(index, "k_factor_rf", options.refine_factor);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GalleryIndex>> GalleryIndex::Build(
    const std::vector<float>& embeddings, int64_t dim,
    std::vector<std::string> names, std::vector<Category> categories,
    const BuildOptions& options) {
  PreferBlasForExactSearch();
  const int64_t n = static_cast<int64_t>(names.size());
  if (n == 0) return absl::InvalidArgumentError("the gallery is empty");
  if (dim <= 0 || static_cast<int64_t>(embeddings.size()) != n * dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("embeddings hold ", embeddings.size(),
                     " floats, expected ", n, " x ", dim));
  }
  if (static_cast<int64_t>(categories.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(categories.size(), " categories for ", n, " images"));
  }
  // Stable grouping by category.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return Slot(categories[a]) < Slot(categories[b]);
  });
  std::vector<float> data(n * dim);
  std::vector<std::string> sorted_names(n);
  std::array<int64_t, 4> starts = {0, 0, 0, n};
  std::array<int64_t, 3> counts = {0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(embeddings.begin() + order[i] * dim, dim,
                data.begin() + i * dim);
    sorted_names[i] = std::move(names[order[i]]);
    ++counts[Slot(categories[order[i]])];
  }
  starts[1] = counts[0];
  starts[2] = counts[0] + counts[1];

  if (options.trained != nullptr && options.trained->dim() != dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("the trained index holds vectors of dimension ",
                     options.trained->dim(), ", the gallery of ", dim));
  }
  auto impl = std::make_unique<Impl>();
  RETURN_IF_ERROR(CatchFaiss(
      absl::StrCat("cannot build FAISS index '", options.factory, "'"), [&] {
        if (options.trained != nullptr) {
          impl->index.reset(
              faiss::clone_index(options.trained->impl_->index.get()));
          impl->index->reset();
        } else {
          impl->index.reset(faiss::index_factory(static_cast<int>(dim),
                                                 options.factory.c_str(),
                                                 faiss::METRIC_INNER_PRODUCT));
        }
        if (!impl->index->is_trained) {
          int64_t nt = std::min<int64_t>(n, options.max_training_rows);
          std::vector<float> sample;
          const float* train = data.data();
          if (nt < n) {
            std::vector<int64_t> rows(n);
            std::iota(rows.begin(), rows.end(), 0);
            std::mt19937_64 rng(options.seed);
            std::shuffle(rows.begin(), rows.end(), rng);
            sample.resize(nt * dim);
            for (int64_t i = 0; i < nt; ++i) {
              std::copy_n(data.begin() + rows[i] * dim, dim,
                          sample.begin() + i * dim);
            }
            train = sample.data();
          }
          PrepareTraining(impl->index.get(), options);
          impl->index->train(nt, train);
        }
        impl->index->add(n, data.data());
        SetSearchOptions(impl->index.get(), options);
        impl->MaybeToGpu(options.use_gpu);
      }));
  return std::unique_ptr<GalleryIndex>(new GalleryIndex(
      std::move(impl), dim, options.factory, std::move(sorted_names), starts));
}

absl::StatusOr<bool> GalleryIndex::FactoryNeedsTraining(
    const std::string& factory, int64_t dim) {
  bool needs = false;
  RETURN_IF_ERROR(
      CatchFaiss(absl::StrCat("cannot build FAISS index '", factory, "'"), [&] {
        std::unique_ptr<faiss::Index> probe(
            faiss::index_factory(static_cast<int>(dim), factory.c_str(),
                                 faiss::METRIC_INNER_PRODUCT));
        needs = !probe->is_trained;
      }));
  return needs;
}

absl::StatusOr<std::unique_ptr<GalleryIndex>> GalleryIndex::BuildFromSource(
    int64_t n, int64_t dim, const RowSource& source,
    std::vector<std::string> names, std::vector<Category> categories,
    const BuildOptions& options, int64_t chunk_rows) {
  PreferBlasForExactSearch();
  if (n <= 0) return absl::InvalidArgumentError("the gallery is empty");
  if (dim <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding size must be positive, got ", dim));
  }
  if (chunk_rows <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_rows must be positive, got ", chunk_rows));
  }
  if (static_cast<int64_t>(names.size()) != n ||
      static_cast<int64_t>(categories.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(names.size(), " names and ", categories.size(),
                     " categories for ", n, " images"));
  }
  std::array<int64_t, 4> starts = {0, 0, 0, n};
  std::array<int64_t, 3> counts = {0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    const int slot = Slot(categories[i]);
    if (i > 0 && slot < Slot(categories[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "row ", i, " (", CategoryWord(categories[i]), ") follows a ",
          CategoryWord(categories[i - 1]),
          " row: rows must be grouped by category (pedestrian, vehicle, "
          "unspecified)"));
    }
    ++counts[slot];
  }
  starts[1] = counts[0];
  starts[2] = counts[0] + counts[1];
  categories.clear();
  categories.shrink_to_fit();

  auto impl = std::make_unique<Impl>();
  absl::Status source_status = absl::OkStatus();
  RETURN_IF_ERROR(CatchFaiss(
      absl::StrCat("cannot build FAISS index '", options.factory, "'"), [&] {
        impl->index.reset(faiss::index_factory(static_cast<int>(dim),
                                               options.factory.c_str(),
                                               faiss::METRIC_INNER_PRODUCT));
        if (!impl->index->is_trained) {
          // Training rows as Build samples them, fetched one by one.
          std::vector<int64_t> rows(n);
          std::iota(rows.begin(), rows.end(), 0);
          const int64_t nt = std::min<int64_t>(n, options.max_training_rows);
          if (nt < n) {
            std::mt19937_64 rng(options.seed);
            std::shuffle(rows.begin(), rows.end(), rng);
            rows.resize(nt);
          }
          std::vector<float> sample(nt * dim);
          for (int64_t i = 0; i < nt && source_status.ok(); ++i) {
            source_status = source(rows[i], rows[i] + 1, &sample[i * dim]);
          }
          if (!source_status.ok()) return;
          PrepareTraining(impl->index.get(), options);
          impl->index->train(nt, sample.data());
        }
        std::vector<float> chunk(std::min(n, chunk_rows) * dim);
        for (int64_t begin = 0; begin < n; begin += chunk_rows) {
          const int64_t end = std::min(n, begin + chunk_rows);
          source_status = source(begin, end, chunk.data());
          if (!source_status.ok()) return;
          impl->index->add(end - begin, chunk.data());
        }
        SetSearchOptions(impl->index.get(), options);
        impl->MaybeToGpu(options.use_gpu);
      }));
  RETURN_IF_ERROR(source_status);
  return std::unique_ptr<GalleryIndex>(new GalleryIndex(
      std::move(impl), dim, options.factory, std::move(names), starts));
}

absl::Status GalleryIndex::SetSearchTuning(const SearchTuning& tuning) {
#ifdef RETRIEVAL_WITH_FAISS_GPU
  if (impl_->gpu_index) {
    return absl::FailedPreconditionError(
        "search parameters of an index on the GPU cannot be changed");
  }
#endif
  faiss::Index* index = impl_->index.get();
  if (auto* refine = dynamic_cast<faiss::IndexRefine*>(index)) {
    if (tuning.refine_factor > 0) {
      refine->k_factor = static_cast<float>(tuning.refine_factor);
    }
  }
  index = Inner(index);
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index)) {
    if (tuning.nprobe > 0) {
      ivf->nprobe = std::min<size_t>(tuning.nprobe, ivf->nlist);
    }
    index = ivf->quantizer;
  }
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index)) {
    if (tuning.ef_search > 0) hnsw->hnsw.efSearch = tuning.ef_search;
  }
  return absl::OkStatus();
}

namespace {

// The IVF indexes inside `index`: itself, or under a transform, an id map
// or a refinement (whose base and refine indexes FAISS reads with the same
// flags).
void CollectIvf(faiss::Index* index, std::vector<faiss::IndexIVF*>* out) {
  if (index == nullptr) return;
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index)) {
    out->push_back(ivf);
  } else if (auto* pt = dynamic_cast<faiss::IndexPreTransform*>(index)) {
    CollectIvf(pt->index, out);
  } else if (auto* map = dynamic_cast<faiss::IndexIDMap*>(index)) {
    CollectIvf(map->index, out);
  } else if (auto* refine = dynamic_cast<faiss::IndexRefine*>(index)) {
    CollectIvf(refine->base_index, out);
    CollectIvf(refine->refine_index, out);
  }
}

// The mapping of an index file that inverted lists read from.
struct Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// After a read with IO_FLAG_MMAP: FAISS checks only that the lists start
// inside the file, so a truncated file would fault (SIGBUS) on the first
// search touching a list past its end; refuse it here. Also turns off the
// prefetching FAISS does for on-disk lists (up to 32 threads started per
// search to pre-read the probed lists): the search reads them anyway.
// Returns the mapping (none when no lists are mapped).
absl::StatusOr<Mapping> CheckMappedLists(const std::string& index_path,
                                         faiss::Index* index) {
  Mapping mapping;
  std::vector<faiss::IndexIVF*> ivfs;
  CollectIvf(index, &ivfs);
  for (faiss::IndexIVF* ivf : ivfs) {
    auto* lists = dynamic_cast<faiss::OnDiskInvertedLists*>(ivf->invlists);
    if (lists == nullptr || lists->ptr == nullptr) continue;
    lists->prefetch_nthread = 0;
    const uint64_t entry = lists->code_size + sizeof(int64_t);
    for (size_t l = 0; l < lists->lists.size(); ++l) {
      const faiss::OnDiskOneList& list = lists->lists[l];
      if (list.size == 0) continue;
      if (list.offset > lists->totsize ||
          list.size > (lists->totsize - list.offset) / entry) {
        return absl::DataLossError(absl::StrCat(
            "cannot read FAISS index ", index_path,
            ": truncated: inverted list ", l, " of ", list.size, " entries (",
            entry, " bytes each) at byte ", list.offset,
            " runs past the end of the ", lists->totsize, "-byte file"));
      }
    }
    mapping.data = lists->ptr;
    mapping.size = lists->totsize;
  }
  return mapping;
}

// Counts the bytes FAISS would write.
struct CountingWriter : faiss::IOWriter {
  int64_t bytes = 0;
  size_t operator()(const void*, size_t size, size_t nitems) override {
    bytes += static_cast<int64_t>(size * nitems);
    return nitems;
  }
};

}  // namespace

absl::StatusOr<int64_t> GalleryIndex::IndexBytes() const {
  CountingWriter writer;
  RETURN_IF_ERROR(CatchFaiss("cannot measure the index", [&] {
    faiss::write_index(impl_->index.get(), &writer);
  }));
  return writer.bytes;
}

absl::StatusOr<std::unique_ptr<GalleryIndex>> GalleryIndex::Load(
    const std::string& index_path, const std::string& names_path,
    const LoadOptions& options) {
  PreferBlasForExactSearch();
  auto impl = std::make_unique<Impl>();
  {
    // Check presence first so a missing file is NOT_FOUND, not DATA_LOSS.
    std::ifstream probe(index_path);
    if (!probe) {
      return absl::NotFoundError(
          absl::StrCat("index file ", index_path, " does not exist"));
    }
  }
  absl::Status st = absl::UnknownError("not read");
  if (options.mmap) {
    st = CatchFaiss("", [&] {
      impl->index.reset(
          faiss::read_index(index_path.c_str(), faiss::IO_FLAG_MMAP));
    });
    if (st.ok()) {
      ASSIGN_OR_RETURN(const Mapping mapping,
                       CheckMappedLists(index_path, impl->index.get()));
      impl->mapped = mapping.data;
      impl->mapped_size = mapping.size;
    }
  }
  if (!st.ok()) {
    // Not mapped, or the mapped read failed (a file system without mmap, a
    // corrupt file): a plain read, whose error is the one reported.
    impl->index.reset();
    st = CatchFaiss(
        "", [&] { impl->index.reset(faiss::read_index(index_path.c_str())); });
  }
  if (!st.ok()) {
    return absl::DataLossError(
        absl::StrCat("cannot read FAISS index ", index_path, st.message()));
  }
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(names_path));
  std::vector<std::string> names;
  std::array<int64_t, 3> counts = {0, 0, 0};
  int last_slot = 0;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) {
      if (line_no ==
          static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1)
        break;
      return absl::DataLossError(
          absl::StrCat(names_path, ":", line_no, ": empty image name"));
    }
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    Category c = Category::kUnspecified;
    if (fields.size() == 2) {
      auto parsed = ParseCategoryWord(fields[1]);
      if (!parsed.ok()) {
        return absl::DataLossError(absl::StrCat(names_path, ":", line_no, ": ",
                                                parsed.status().message()));
      }
      c = *parsed;
    } else if (fields.size() != 1) {
      return absl::DataLossError(
          absl::StrCat(names_path, ":", line_no,
                       ": expected 'name' or 'name<TAB>category'"));
    }
    int slot = Slot(c);
    if (slot < last_slot) {
      return absl::DataLossError(
          absl::StrCat(names_path, ":", line_no,
                       ": rows are not grouped by category (pedestrian, "
                       "vehicle, unspecified)"));
    }
    last_slot = slot;
    ++counts[slot];
    names.push_back(std::move(fields[0]));
  }
  const int64_t n = impl->index->ntotal;
  if (static_cast<int64_t>(names.size()) != n) {
    return absl::FailedPreconditionError(
        absl::StrCat(names_path, " lists ", names.size(), " images but ",
                     index_path, " holds ", n, " vectors"));
  }
  std::array<int64_t, 4> starts = {0, counts[0], counts[0] + counts[1], n};
  const int64_t dim = impl->index->d;
  std::string factory = "Flat";
  if (!dynamic_cast<const faiss::IndexFlat*>(impl->index.get())) factory = "";
  RETURN_IF_ERROR(CatchFaiss(
      absl::StrCat("cannot copy FAISS index ", index_path, " to the GPU"),
      [&] { impl->MaybeToGpu(options.use_gpu); }));
  return std::unique_ptr<GalleryIndex>(new GalleryIndex(
      std::move(impl), dim, std::move(factory), std::move(names), starts));
}

int64_t GalleryIndex::mapped_bytes() const {
  return static_cast<int64_t>(impl_->mapped_size);
}

absl::Status GalleryIndex::WriteIndexFile(const std::string& path) const {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return common::ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
  }
  errno = 0;
  std::string faiss_error;
  bool logic_error = false;
  if (impl_->mapped != nullptr) {
    // FAISS would write mapped lists as a reference to an on-disk lists
    // file; the mapping holds the bytes the index was read from.
    if (std::fwrite(impl_->mapped, 1, impl_->mapped_size, file) !=
        impl_->mapped_size) {
      const int err = errno;
      std::fclose(file);
      return WriteError(err, path, "");
    }
  } else {
    try {
      faiss::write_index(impl_->index.get(), file);
    } catch (const faiss::FaissException& e) {
      faiss_error = CleanFaissMessage(e.msg);
      // FAISS throws for short writes and for index types it cannot write.
      logic_error = std::ferror(file) == 0;
    }
  }
  int err = errno;
  if (logic_error) {
    std::fclose(file);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write FAISS index ", path, ": ", faiss_error));
  }
  if (!faiss_error.empty()) {
    std::fclose(file);
    return WriteError(err, path, faiss_error);
  }
  if (std::fflush(file) != 0) {
    err = errno;
    std::fclose(file);
    return WriteError(err, path, "");
  }
  // Character devices and some file systems cannot sync; that is no error.
  if (::fsync(::fileno(file)) != 0 && errno != EINVAL && errno != EROFS) {
    err = errno;
    std::fclose(file);
    return WriteError(err, path, "");
  }
  if (std::fclose(file) != 0) return WriteError(errno, path, "");
  return absl::OkStatus();
}

absl::Status GalleryIndex::Save(const std::string& index_path,
                                const std::string& names_path) const {
  const std::string tmp = common::TempPathFor(index_path);
  absl::Status st = WriteIndexFile(tmp);
  if (!st.ok()) {
    std::remove(tmp.c_str());
    return st;
  }
  RETURN_IF_ERROR(common::RenameFile(tmp, index_path));
  std::string text;
  for (int64_t i = 0; i < size(); ++i) {
    absl::StrAppend(&text, names_[i], "\t", CategoryWord(category(i)), "\n");
  }
  return common::WriteFileAtomically(names_path, text);
}

absl::StatusOr<std::vector<std::vector<Hit>>> GalleryIndex::Search(
    const float* queries, int64_t nq, int k, Category filter) const {
  if (k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("k must be >= 1, got ", k));
  }
  if (nq < 0) return absl::InvalidArgumentError("negative query count");
  std::vector<std::vector<Hit>> out(nq);
  if (nq == 0) return out;
  int64_t begin = 0, end = size();
  if (filter != Category::kUnspecified) {
    begin = starts_[Slot(filter)];
    end = starts_[Slot(filter) + 1];
  }
  const int64_t range = end - begin;
  if (range == 0) return out;
  const int64_t kk = std::min<int64_t>(k, range);
  std::vector<float> scores(nq * kk);
  std::vector<int64_t> ids(nq * kk);
  absl::Status st = CatchFaiss("search failed", [&] {
    const faiss::Index& index = impl_->searcher();
    auto* flat = dynamic_cast<const faiss::IndexFlat*>(&index);
    if (filter == Category::kUnspecified) {
      index.search(nq, queries, kk, scores.data(), ids.data());
    } else if (flat != nullptr) {
      // Exact search over the category's contiguous rows only.
      faiss::float_minheap_array_t heaps = {static_cast<size_t>(nq),
                                            static_cast<size_t>(kk), ids.data(),
                                            scores.data()};
      faiss::knn_inner_product(queries, flat->get_xb() + begin * dim_, dim_, nq,
                               range, &heaps);
      for (auto& id : ids) {
        if (id >= 0) id += begin;
      }
    } else {
      faiss::IDSelectorRange sel(begin, end, /*assume_sorted=*/true);
      // Searches `idx` over the category's rows only: its own search
      // parameters (nprobe, efSearch) plus the selector.
      auto search_selected = [&](const faiss::Index& idx, int64_t k_sel,
                                 float* d, int64_t* l) {
        faiss::SearchParametersIVF ivf_params;
        faiss::SearchParametersHNSW hnsw_params;
        faiss::SearchParameters plain;
        faiss::SearchParameters* params = &plain;
        if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&idx)) {
          ivf_params.nprobe = ivf->nprobe;
          params = &ivf_params;
        } else if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&idx)) {
          hnsw_params.efSearch = hnsw->hnsw.efSearch;
          params = &hnsw_params;
        }
        params->sel = &sel;
        idx.search(nq, queries, k_sel, d, l, params);
      };
      if (auto* refine = dynamic_cast<const faiss::IndexRefine*>(&index)) {
        // IndexRefine refuses search parameters (FAISS 1.7.3), so do its two
        // steps here: k_factor * k candidates from the base index over the
        // selected rows, re-scored exactly by the refine index.
        const int64_t kb = std::min<int64_t>(
            range,
            std::max<int64_t>(kk, static_cast<int64_t>(kk * refine->k_factor)));
        std::vector<float> base_scores(nq * kb);
        std::vector<int64_t> base_ids(nq * kb);
        search_selected(*refine->base_index, kb, base_scores.data(),
                        base_ids.data());
        std::unique_ptr<faiss::DistanceComputer> dc(
            refine->refine_index->get_distance_computer());
        std::vector<std::pair<float, int64_t>> scored;
        for (int64_t q = 0; q < nq; ++q) {
          dc->set_query(queries + q * dim_);
          scored.clear();
          for (int64_t j = 0; j < kb; ++j) {
            const int64_t id = base_ids[q * kb + j];
            if (id >= 0) scored.push_back({(*dc)(id), id});
          }
          const size_t keep = std::min<size_t>(scored.size(), kk);
          std::partial_sort(scored.begin(), scored.begin() + keep, scored.end(),
                            [](const auto& a, const auto& b) {
                              return a.first > b.first || (a.first == b.first &&
                                                           a.second < b.second);
                            });
          for (int64_t j = 0; j < kk; ++j) {
            const bool have = static_cast<size_t>(j) < keep;
            scores[q * kk + j] = have ? scored[j].first : 0.0f;
            ids[q * kk + j] = have ? scored[j].second : -1;
          }
        }
      } else {
        search_selected(index, kk, scores.data(), ids.data());
      }
    }
  });
  RETURN_IF_ERROR(st);
  for (int64_t q = 0; q < nq; ++q) {
    out[q].reserve(kk);
    for (int64_t j = 0; j < kk; ++j) {
      const auto id = ids[q * kk + j];
      if (id < 0) continue;  // fewer results than asked (ANN indexes)
      out[q].push_back(Hit{id, scores[q * kk + j]});
    }
  }
  return out;
}

namespace {

// The k best of `scored` (score, row), best first (ties: lower row first),
// into scores[0..k) and ids[0..k).
void TopK(std::vector<std::pair<float, int64_t>>& scored, int64_t k,
          float* scores, int64_t* ids) {
  auto better = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::nth_element(scored.begin(), scored.begin() + (k - 1), scored.end(),
                   better);
  std::sort(scored.begin(), scored.begin() + k, better);
  for (int64_t j = 0; j < k; ++j) {
    scores[j] = scored[j].first;
    ids[j] = scored[j].second;
  }
}

}  // namespace

double GalleryIndex::ExactSubsetShare() const { return exact() ? 1.0 : 0.25; }

std::pair<int64_t, int64_t> GalleryIndex::RangeOf(Category c) const {
  if (c == Category::kUnspecified) return {0, size()};
  return {starts_[Slot(c)], starts_[Slot(c) + 1]};
}

absl::StatusOr<std::vector<std::vector<Hit>>> GalleryIndex::SearchSelected(
    const float* queries, int64_t nq, int k, Category filter,
    const std::vector<int64_t>& rows, Selection* used) const {
  if (k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("k must be >= 1, got ", k));
  }
  const auto [begin, end] = RangeOf(filter);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < begin || rows[i] >= end ||
        (i > 0 && rows[i] <= rows[i - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("selected row ", rows[i], " at position ", i,
                       " is out of order or outside the rows [", begin, ", ",
                       end, ") of ", CategoryWord(filter)));
    }
  }
  const int64_t range = end - begin;
  const int64_t m = static_cast<int64_t>(rows.size());
  Selection dummy;
  Selection& how = used != nullptr ? *used : dummy;
  if (m == range) {
    how = Selection::kAll;
    return Search(queries, nq, k, filter);
  }
  if (m <= ExactSubsetShare() * static_cast<double>(range)) {
    how = Selection::kExactSubset;
    return SearchRows(queries, nq, k, rows);
  }
  // A broad selection: search deeper, keep the selected hits. With a share
  // s of the range selected, k / s hits hold about k selected ones; twice
  // that plus a margin rarely falls short.
  how = Selection::kSearchThenFilter;
  const double share = static_cast<double>(m) / static_cast<double>(range);
  const int64_t deep = std::min<int64_t>(
      range, static_cast<int64_t>(std::ceil(2.0 * k / share)) + 32);
  ASSIGN_OR_RETURN(auto hits,
                   Search(queries, nq, static_cast<int>(deep), filter));
  const size_t want = static_cast<size_t>(std::min<int64_t>(k, m));
  bool short_of_hits = false;
  for (auto& list : hits) {
    std::vector<Hit> kept;
    kept.reserve(want);
    for (const Hit& h : list) {
      if (std::binary_search(rows.begin(), rows.end(), h.row)) {
        kept.push_back(h);
        if (kept.size() == want) break;
      }
    }
    if (kept.size() < want) short_of_hits = true;
    list = std::move(kept);
  }
  if (!short_of_hits) return hits;
  how = Selection::kExactSubset;
  return SearchRows(queries, nq, k, rows);
}

absl::StatusOr<std::vector<std::vector<Hit>>> GalleryIndex::SearchRows(
    const float* queries, int64_t nq, int k,
    const std::vector<int64_t>& rows) const {
  const int64_t m = static_cast<int64_t>(rows.size());
  const int64_t kk = std::min<int64_t>(k, m);
  std::vector<std::vector<Hit>> out(nq);
  if (kk == 0 || nq == 0) return out;
  std::vector<float> scores(nq * kk, 0.0f);
  std::vector<int64_t> ids(nq * kk, -1);
  absl::Status st = CatchFaiss("search failed", [&] {
    // The CPU index holds the vectors (or codes) to score.
    const faiss::Index* storage = impl_->index.get();
    if (auto* refine = dynamic_cast<const faiss::IndexRefine*>(storage)) {
      storage = refine->refine_index;
    } else if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(storage)) {
      storage = hnsw->storage;
    }
    if (auto* flat = dynamic_cast<const faiss::IndexFlat*>(storage)) {
      // One BLAS dot product per selected row (OpenBLAS's vectorised
      // kernels), read in place: no copy of the rows.
      const float* xb = flat->get_xb();
      const int d = static_cast<int>(dim_);
      std::vector<std::pair<float, int64_t>> scored(m);
      for (int64_t q = 0; q < nq; ++q) {
        const float* query = queries + q * dim_;
        for (int64_t j = 0; j < m; ++j) {
          scored[j] = {cblas_sdot(d, query, 1, xb + rows[j] * dim_, 1),
                       rows[j]};
        }
        TopK(scored, kk, scores.data() + q * kk, ids.data() + q * kk);
      }
      return;
    }
    if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(storage)) {
      // No per-row access to IVF lists: the index's own search with the
      // rows as a selector, probing more lists the fewer rows are selected
      // (nprobe / share, at most every list), so that as many selected rows
      // are seen as an unfiltered search sees rows.
      std::vector<uint8_t> bitmap((size() + 7) / 8, 0);
      for (int64_t r : rows)
        bitmap[r / 8] |= static_cast<uint8_t>(1u << (r % 8));
      faiss::IDSelectorBitmap sel(bitmap.size(), bitmap.data());
      const double share = static_cast<double>(m) /
                           static_cast<double>(std::max<int64_t>(1, size()));
      faiss::SearchParametersIVF params;
      params.sel = &sel;
      params.nprobe = static_cast<size_t>(std::min<double>(
          static_cast<double>(ivf->nlist),
          std::ceil(static_cast<double>(ivf->nprobe) / share)));
      ivf->search(nq, queries, kk, scores.data(), ids.data(), &params);
      return;
    }
    std::unique_ptr<faiss::DistanceComputer> dc(
        storage->get_distance_computer());
    std::vector<std::pair<float, int64_t>> scored(m);
    for (int64_t q = 0; q < nq; ++q) {
      dc->set_query(queries + q * dim_);
      for (int64_t j = 0; j < m; ++j) scored[j] = {(*dc)(rows[j]), rows[j]};
      TopK(scored, kk, scores.data() + q * kk, ids.data() + q * kk);
    }
  });
  RETURN_IF_ERROR(st);
  for (int64_t q = 0; q < nq; ++q) {
    out[q].reserve(kk);
    for (int64_t j = 0; j < kk; ++j) {
      const auto id = ids[q * kk + j];
      if (id >= 0) out[q].push_back(Hit{id, scores[q * kk + j]});
    }
  }
  return out;
}

absl::StatusOr<std::vector<float>> GalleryIndex::Reconstruct(
    const std::vector<int64_t>& rows) const {
  std::vector<float> out(rows.size() * dim_);
  RETURN_IF_ERROR(CatchFaiss("cannot reconstruct rows", [&] {
    for (size_t i = 0; i < rows.size(); ++i) {
      impl_->index->reconstruct(rows[i], out.data() + i * dim_);
    }
  }));
  return out;
}

std::vector<std::vector<int64_t>> BruteForceTopK(const float* base, int64_t n,
                                                 const float* queries,
                                                 int64_t nq, int64_t dim,
                                                 int k) {
  const int64_t kk = std::min<int64_t>(k, n);
  std::vector<float> scores(nq * kk);
  std::vector<int64_t> ids(nq * kk);
  faiss::float_minheap_array_t heaps = {static_cast<size_t>(nq),
                                        static_cast<size_t>(kk), ids.data(),
                                        scores.data()};
  faiss::knn_inner_product(queries, base, dim, nq, n, &heaps);
  std::vector<std::vector<int64_t>> out(nq);
  for (int64_t q = 0; q < nq; ++q) {
    out[q].assign(ids.begin() + q * kk, ids.begin() + (q + 1) * kk);
  }
  return out;
}

double RecallAtK(const std::vector<std::vector<int64_t>>& truth,
                 const std::vector<std::vector<Hit>>& got, int k) {
  if (truth.empty()) return 0;
  double total = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    const size_t kt = std::min<size_t>(k, truth[q].size());
    if (kt == 0) continue;
    int found = 0;
    for (size_t i = 0; i < kt; ++i) {
      for (size_t j = 0; j < std::min<size_t>(k, got[q].size()); ++j) {
        if (got[q][j].row == truth[q][i]) {
          ++found;
          break;
        }
      }
    }
    total += static_cast<double>(found) / kt;
  }
  return total / truth.size();
}

ExactTopK::ExactTopK(const float* queries, int64_t nq, int64_t dim, int k)
    : queries_(queries, queries + nq * dim),
      nq_(nq),
      dim_(dim),
      k_(k),
      best_(nq) {}

void ExactTopK::Add(const float* rows, int64_t n, int64_t first_row) {
  if (n <= 0 || nq_ == 0) return;
  const int64_t kk = std::min<int64_t>(k_, n);
  std::vector<float> scores(nq_ * kk);
  std::vector<int64_t> ids(nq_ * kk);
  faiss::float_minheap_array_t heaps = {static_cast<size_t>(nq_),
                                        static_cast<size_t>(kk), ids.data(),
                                        scores.data()};
  faiss::knn_inner_product(queries_.data(), rows, dim_, nq_, n, &heaps);
  auto better = [](const Hit& a, const Hit& b) {
    return a.score > b.score || (a.score == b.score && a.row < b.row);
  };
  for (int64_t q = 0; q < nq_; ++q) {
    std::vector<Hit>& best = best_[q];
    for (int64_t j = 0; j < kk; ++j) {
      if (ids[q * kk + j] >= 0) {
        best.push_back(Hit{ids[q * kk + j] + first_row, scores[q * kk + j]});
      }
    }
    std::sort(best.begin(), best.end(), better);
    if (static_cast<int64_t>(best.size()) > k_) best.resize(k_);
  }
}

std::vector<std::vector<int64_t>> ExactTopK::Ids() const {
  std::vector<std::vector<int64_t>> out(nq_);
  for (int64_t q = 0; q < nq_; ++q) {
    for (const Hit& h : best_[q]) out[q].push_back(h.row);
  }
  return out;
}

IndexChoice DefaultIndexChoice(int64_t num_images, int64_t dim) {
  IndexChoice c;
  // Exact search costs num_images x dim per query: the threshold is for
  // dim 512, scaled for other sizes.
  if (dim <= 0 || num_images * dim <= kMaxExactGallery * 512) {
    c.factory = "Flat";
    return c;
  }
  // About 4 sqrt(n) IVF lists, a power of two from 1024 to 16384 (beyond
  // that a gallery is better split into shards, docs/scale.md).
  int64_t lists = 1024;
  while (lists < 16384 &&
         static_cast<double>(lists) <
             4.0 * std::sqrt(static_cast<double>(num_images))) {
    lists *= 2;
  }
  c.nprobe = 16;
  if (num_images <= kMaxSq8Gallery) {
    // One byte per dimension, scanned in the probed lists.
    c.factory = absl::StrCat("IVF", lists, ",SQ8");
    return c;
  }
  // The lists found through an HNSW graph over their centres (assigning
  // 10M vectors to 16384 centres exactly is 1.7e14 flops, half an hour of
  // BLAS on 2 cores), PQ codes
  // of one byte per 8 dimensions scanned, and the best refine_factor x k
  // re-scored from SQ8 copies.
  const int64_t pq = dim % 8 == 0 ? dim / 8 : dim;
  c.factory = absl::StrCat("IVF", lists, "_HNSW32,PQ", pq, ",Refine(SQ8)");
  c.ef_search = 128;
  c.refine_factor = 16;
  return c;
}

std::string DefaultIndexFactory(int64_t num_images, int64_t dim) {
  return DefaultIndexChoice(num_images, dim).factory;
}

}  // namespace gallery
