#include "trainer/distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/torch_status.h"

namespace trainer {
namespace {

// A collective that throws means a peer or the store went away: UNAVAILABLE.
template <typename F>
absl::Status CatchTorch(absl::string_view what, F&& f) {
  return common::CatchTorch(absl::StatusCode::kUnavailable, what,
                            std::forward<F>(f));
}

}  // namespace

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> gloo;
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroup> nccl;
#endif
  c10d::ProcessGroup& For(const torch::Tensor& t) {
#ifdef USE_C10D_NCCL
    if (t.is_cuda() && nccl) return *nccl;
#endif
    (void)t;
    return *gloo;
  }
};

Communicator::Communicator(const DistributedConfig& config)
    : config_(config), impl_(std::make_unique<Impl>()) {}

Communicator::~Communicator() = default;

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Create(
    const DistributedConfig& config) {
  std::unique_ptr<Communicator> comm(new Communicator(config));
  if (!config.distributed()) return comm;
  absl::Status st = CatchTorch(
      absl::StrCat("cannot join the process group at ", config.master_addr, ":",
                   config.master_port, " as rank ", config.rank, " of ",
                   config.world_size),
      [&] {
        c10d::TCPStoreOptions opts;
        opts.port = static_cast<uint16_t>(config.master_port);
        opts.isServer = config.rank == 0;
        opts.numWorkers = config.world_size;
        opts.waitWorkers = true;
        opts.timeout = config.timeout;
        comm->impl_->store =
            c10::make_intrusive<c10d::TCPStore>(config.master_addr, opts);
        auto gloo_opts =
            c10d::ProcessGroupGloo::Options::create(config.timeout);
        gloo_opts->devices.push_back(
            c10d::ProcessGroupGloo::createDefaultDevice());
        comm->impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
            c10::make_intrusive<c10d::PrefixStore>("gloo", comm->impl_->store),
            config.rank, config.world_size, gloo_opts);
#ifdef USE_C10D_NCCL
        if (torch::cuda::is_available()) {
          comm->impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
              c10::make_intrusive<c10d::PrefixStore>("nccl",
                                                     comm->impl_->store),
              config.rank, config.world_size);
        }
#endif
      });
  if (!st.ok()) return st;
  return comm;
}

namespace {

// all_gather whose backward sums the incoming gradient over ranks and keeps
// the own slice (the gradient of a loss every rank computes identically).
class AllGatherFunction : public torch::autograd::Function<AllGatherFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               torch::Tensor local, int64_t comm_ptr) {
    auto* comm = reinterpret_cast<Communicator*>(comm_ptr);
    ctx->saved_data["comm"] = comm_ptr;
    ctx->saved_data["rows"] = local.size(0);
    torch::Tensor input = local.contiguous();
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < comm->world_size(); ++r) {
      parts.push_back(torch::empty_like(input));
    }
    std::vector<std::vector<torch::Tensor>> outputs = {parts};
    std::vector<torch::Tensor> inputs = {input};
    comm->impl()->For(input).allgather(outputs, inputs)->wait();
    return torch::cat(outputs[0], 0);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    auto* comm =
        reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt();
    torch::Tensor g = grads[0].contiguous().clone();
    std::vector<torch::Tensor> tensors = {g};
    comm->impl()->For(g).allreduce(tensors)->wait();
    return {g.narrow(0, comm->rank() * rows, rows), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor Communicator::AllGather(const torch::Tensor& local) {
  if (!config_.distributed()) return local;
  return AllGatherFunction::apply(local, reinterpret_cast<int64_t>(this));
}

absl::Status Communicator::AverageGradients(
    const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  if (!config_.distributed()) return absl::OkStatus();
  return CatchTorch("gradient all-reduce failed", [&] {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    while (i < params.size()) {
      std::vector<torch::Tensor> bucket;
      int64_t bytes = 0;
      while (i < params.size() && (bucket.empty() || bytes < bucket_bytes)) {
        torch::Tensor p = params[i++];
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        bucket.push_back(p.grad());
        bytes += p.numel() * p.element_size();
      }
      std::vector<torch::Tensor> flat_views;
      for (auto& g : bucket) flat_views.push_back(g.reshape({-1}));
      torch::Tensor flat = torch::cat(flat_views);
      std::vector<torch::Tensor> tensors = {flat};
      impl_->For(flat).allreduce(tensors)->wait();
      flat.div_(config_.world_size);
      int64_t offset = 0;
      for (auto& g : bucket) {
        g.copy_(flat.narrow(0, offset, g.numel()).view_as(g));
        offset += g.numel();
      }
    }
  });
}

absl::Status Communicator::Broadcast(
    const std::vector<torch::Tensor>& tensors) {
  if (!config_.distributed()) return absl::OkStatus();
  return CatchTorch("broadcast failed", [&] {
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& t : tensors) {
      torch::Tensor c = t.contiguous();
      std::vector<torch::Tensor> v = {c};
      impl_->For(c).broadcast(v)->wait();
      if (!c.is_same(t)) t.copy_(c);
    }
  });
}

absl::StatusOr<double> Communicator::SumScalar(double value) {
  if (!config_.distributed()) return value;
  torch::Tensor t = torch::full({1}, value, torch::kFloat64);
  absl::Status st = CatchTorch("scalar all-reduce failed", [&] {
    std::vector<torch::Tensor> v = {t};
    impl_->gloo->allreduce(v)->wait();
  });
  if (!st.ok()) return st;
  return t.item<double>();
}

absl::Status Communicator::AgreeOn(const absl::Status& local,
                                   absl::string_view what) {
  if (!config_.distributed()) return local;
  // One row per rank: byte 0 is 1 where that rank failed, the rest its
  // status as text. Each rank fills only its own row, so the sum is every
  // rank's row.
  constexpr int kRow = 1 + kAgreeMessageBytes;
  torch::Tensor rows = torch::zeros({config_.world_size, kRow}, torch::kUInt8);
  if (!local.ok()) {
    const std::string text = local.ToString();
    const size_t n = std::min<size_t>(text.size(), kAgreeMessageBytes);
    uint8_t* own = rows[config_.rank].data_ptr<uint8_t>();
    own[0] = 1;
    std::memcpy(own + 1, text.data(), n);
  }
  absl::Status st = CatchTorch(absl::StrCat("cannot agree ", what), [&] {
    std::vector<torch::Tensor> v = {rows};
    impl_->gloo->allreduce(v)->wait();
  });
  if (!local.ok()) return local;
  if (!st.ok()) return st;
  std::string failed;
  for (int r = 0; r < config_.world_size; ++r) {
    const uint8_t* row = rows[r].data_ptr<uint8_t>();
    if (row[0] == 0) continue;
    const char* text = reinterpret_cast<const char*>(row + 1);
    absl::StrAppend(&failed, failed.empty() ? "" : "; ", "rank ", r, " failed ",
                    what, ": ",
                    absl::string_view(text, strnlen(text, kAgreeMessageBytes)));
  }
  if (failed.empty()) return absl::OkStatus();
  return absl::AbortedError(failed);
}

absl::Status Communicator::Barrier() {
  if (!config_.distributed()) return absl::OkStatus();
  return CatchTorch("barrier failed", [&] { impl_->gloo->barrier()->wait(); });
}

}  // namespace trainer
