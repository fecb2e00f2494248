#include "clip/onednn_linear.h"

#include <dnnl.hpp>

#include <algorithm>
#include <cstring>
#include <list>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"

namespace clip {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

const dnnl::engine& CpuEngine() {
  static const dnnl::engine* engine =
      new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

Dt DataType(GemmType type) {
  return type == GemmType::kBf16 ? Dt::bf16 : Dt::f32;
}

// Primitive descriptor for m rows. Weights are given as `weights_md` (the
// packed layout) or left to oneDNN (format any) when it is null.
dnnl::matmul::primitive_desc MakePd(int64_t m, int64_t k, int64_t n, Dt in,
                                    Dt out, const memory::desc* weights_md,
                                    Epilogue epilogue) {
  memory::desc src({m, k}, in, Tag::ab);
  memory::desc wei =
      weights_md ? *weights_md : memory::desc({k, n}, in, Tag::any);
  memory::desc bias({1, n}, Dt::f32, Tag::ab);
  memory::desc dst({m, n}, out, Tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  if (epilogue == Epilogue::kQuickGelu) {
    // swish(z) = z * sigmoid(alpha z).
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.702f, 0.0f);
  } else if (epilogue == Epilogue::kAccumulate) {
    ops.append_sum(1.0f);
  }
  attr.set_post_ops(ops);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, bias, dst),
                                      attr, CpuEngine());
}

struct Kernel {
  dnnl::matmul primitive;
  memory::desc scratchpad;
  std::string name;
};

// Per-thread scratch space and stream, reused across calls.
struct ThreadState {
  std::vector<uint8_t> scratch;
  dnnl::stream stream{CpuEngine()};
};

ThreadState& LocalState() {
  thread_local ThreadState state;
  return state;
}

// Compiled kernels, shared by every layer of the process: a kernel depends
// only on the shape (m, n, k), the types and the epilogue, never on the
// weights, so the twelve layers of a tower share one per row count. Row
// counts (texts x tokens of a length bucket) vary with every batch, so the
// cache is an LRU of bounded size: memory stays flat however varied the
// traffic, and a kernel evicted while in use lives until its call ends.
class KernelCache {
 public:
  using Key = std::tuple<int64_t, int64_t, int64_t, int, int, bool>;

  static KernelCache& Get() {
    static KernelCache* cache = new KernelCache();
    return *cache;
  }

  template <typename Make>
  std::shared_ptr<const Kernel> Find(const Key& key, Make make) {
    {
      common::MutexLock lock(&mu_);
      auto it = index_.find(key);
      if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      }
    }
    // Created outside the lock: oneDNN's JIT takes a while and other shapes
    // may run meanwhile. Two threads racing on one key both build; the
    // first insert is kept.
    std::shared_ptr<const Kernel> kernel = make();
    common::MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second->second;
    lru_.emplace_front(key, std::move(kernel));
    index_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return lru_.front().second;
  }

  size_t size() const {
    common::MutexLock lock(&mu_);
    return lru_.size();
  }

  void SetCapacity(size_t capacity) {
    common::MutexLock lock(&mu_);
    capacity_ = std::max<size_t>(capacity, 1);
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

 private:
  using Entry = std::pair<Key, std::shared_ptr<const Kernel>>;
  mutable common::Mutex mu_;
  size_t capacity_ ABSL_GUARDED_BY(mu_) =
      OneDnnLinear::kDefaultKernelCacheCapacity;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // front = most recent
  absl::flat_hash_map<Key, std::list<Entry>::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

size_t OneDnnLinear::CachedKernels() { return KernelCache::Get().size(); }

void OneDnnLinear::SetKernelCacheCapacity(size_t capacity) {
  KernelCache::Get().SetCapacity(capacity);
}

struct OneDnnLinear::Impl {
  int64_t n = 0, k = 0;
  GemmType type = GemmType::kF32;
  memory::desc packed_md;
  memory packed;  // weights in packed_md
  memory bias;    // [1, n] float32 (zeros when the layer has none)
  std::vector<float> bias_data;

  std::shared_ptr<const Kernel> GetKernel(int64_t m, Epilogue e,
                                          bool y_bf16) const {
    return KernelCache::Get().Find(
        {m, n, k, static_cast<int>(type), static_cast<int>(e), y_bf16}, [&] {
          auto pd = MakePd(m, k, n, DataType(type), y_bf16 ? Dt::bf16 : Dt::f32,
                           &packed_md, e);
          auto kernel = std::make_shared<Kernel>();
          kernel->primitive = dnnl::matmul(pd);
          kernel->scratchpad = pd.scratchpad_desc();
          kernel->name = pd.impl_info_str();
          return kernel;
        });
  }
};

OneDnnLinear::OneDnnLinear(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
OneDnnLinear::~OneDnnLinear() = default;

int64_t OneDnnLinear::in_features() const { return impl_->k; }
int64_t OneDnnLinear::out_features() const { return impl_->n; }
GemmType OneDnnLinear::type() const { return impl_->type; }
int64_t OneDnnLinear::packed_bytes() const {
  return static_cast<int64_t>(impl_->packed_md.get_size() +
                              impl_->bias_data.size() * sizeof(float));
}

absl::StatusOr<std::unique_ptr<OneDnnLinear>> OneDnnLinear::Create(
    const float* weight, const float* bias, int64_t n, int64_t k,
    GemmType type) {
  if (weight == nullptr || n <= 0 || k <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("linear layer needs a [n, k] weight with n, k > 0; got [",
                     n, ", ", k, "]"));
  }
  auto impl = std::make_unique<Impl>();
  impl->n = n;
  impl->k = k;
  impl->type = type;
  try {
    // The weights layout oneDNN prefers does not depend on the row count
    // (checked on AVX-512 and AVX512_BF16 CPUs), so one packed copy serves
    // every row count; kernels for other counts are created for it.
    auto probe =
        MakePd(64, k, n, DataType(type), Dt::f32, nullptr, Epilogue::kNone);
    if (absl::StrContains(probe.impl_info_str(), "ref")) {
      return absl::UnimplementedError(absl::StrCat(
          "oneDNN has only its reference kernel for ",
          type == GemmType::kBf16 ? "bf16" : "fp32", " matmul on this CPU"));
    }
    impl->packed_md = probe.weights_desc();
    impl->packed = memory(impl->packed_md, CpuEngine());
    // torch's [n, k] row-major weight is the [k, n] matrix in "ba" order.
    memory plain({{k, n}, Dt::f32, Tag::ba}, CpuEngine(),
                 const_cast<float*>(weight));
    dnnl::stream s(CpuEngine());
    dnnl::reorder(plain, impl->packed).execute(s, plain, impl->packed);
    s.wait();
    impl->bias_data.assign(n, 0.0f);
    if (bias != nullptr)
      std::memcpy(impl->bias_data.data(), bias, n * sizeof(float));
    impl->bias =
        memory({{1, n}, Dt::f32, Tag::ab}, CpuEngine(), impl->bias_data.data());
  } catch (const dnnl::error& e) {
    return absl::UnimplementedError(absl::StrCat(
        "oneDNN cannot pack a [", n, ", ", k, "] linear layer: ", e.what()));
  }
  return std::unique_ptr<OneDnnLinear>(new OneDnnLinear(std::move(impl)));
}

absl::Status OneDnnLinear::Run(const void* x, int64_t m, void* y,
                               Epilogue epilogue, bool y_bf16) const {
  if (m == 0) return absl::OkStatus();
  if (m < 0 || x == nullptr || y == nullptr) {
    return absl::InvalidArgumentError("linear layer: bad rows or null buffers");
  }
  if (y_bf16 &&
      (impl_->type != GemmType::kBf16 || epilogue == Epilogue::kAccumulate)) {
    return absl::InvalidArgumentError(
        "bf16 output needs a bf16 layer and no accumulation");
  }
  try {
    std::shared_ptr<const Kernel> kernel =
        impl_->GetKernel(m, epilogue, y_bf16);
    ThreadState& state = LocalState();
    const size_t scratch_bytes = kernel->scratchpad.get_size();
    if (state.scratch.size() < scratch_bytes)
      state.scratch.resize(scratch_bytes);
    const Dt in = DataType(impl_->type);
    memory src({{m, impl_->k}, in, Tag::ab}, CpuEngine(), const_cast<void*>(x));
    memory dst({{m, impl_->n}, y_bf16 ? Dt::bf16 : Dt::f32, Tag::ab},
               CpuEngine(), y);
    memory scratch(kernel->scratchpad, CpuEngine(), state.scratch.data());
    kernel->primitive.execute(state.stream, {{DNNL_ARG_SRC, src},
                                             {DNNL_ARG_WEIGHTS, impl_->packed},
                                             {DNNL_ARG_BIAS, impl_->bias},
                                             {DNNL_ARG_DST, dst},
                                             {DNNL_ARG_SCRATCHPAD, scratch}});
    state.stream.wait();
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN matmul [", m, " x ",
                                            impl_->k, "] x [", impl_->k, " x ",
                                            impl_->n, "] failed: ", e.what()));
  }
  return absl::OkStatus();
}

std::string OneDnnLinear::KernelName(int64_t m) const {
  try {
    return impl_->GetKernel(m, Epilogue::kNone, false)->name;
  } catch (const dnnl::error& e) {
    return absl::StrCat("unavailable (", e.what(), ")");
  }
}

}  // namespace clip
