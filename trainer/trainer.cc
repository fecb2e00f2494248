#include "trainer/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "clip/autocast.h"
#include "clip/encoder.h"
#include "clip/model.h"
#include "clip/tokenizer.h"
#include "clip/weights.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/torch_status.h"
#include "eval/metric.h"
#include "trainer/contrastive_loss.h"
#include "trainer/data_loader.h"
#include "trainer/dataset.h"
#include "trainer/distributed.h"
#include "trainer/image_stream.h"
#include "trainer/plot.h"

namespace trainer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kLastCheckpoint[] = "checkpoint-last.pt";
constexpr char kBestCheckpoint[] = "checkpoint-best.pt";
constexpr char kStepsCsv[] = "metrics_steps.csv";
constexpr char kEpochsCsv[] = "metrics_epochs.csv";
constexpr char kStepsHeader[] =
    "step,epoch,loss,lr,logit_scale,samples_per_s,data_wait_share";
// A failed model or optimiser step is a bug or a resource problem here,
// never the caller's input: INTERNAL.
template <typename F>
absl::Status CatchTorch(absl::string_view what, F&& f) {
  return common::CatchTorch(absl::StatusCode::kInternal, what, std::forward<F>(f));
}

constexpr char kEpochsHeader[] =
    "epoch,step,train_loss,val_map10,val_recall1,val_recall5,val_recall10,"
    "val_map10_pedestrian,val_map10_vehicle,seconds,skipped_images";


double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool NoDecay(const std::string& name, const torch::Tensor& p) {
  // Biases, LayerNorm parameters, the class embedding and logit scale are
  // 0/1-d; embeddings (token and positional) are excluded by name.
  return p.dim() < 2 || name.find("embedding") != std::string::npos;
}

// Blocks of the towers to freeze, as parameter-name prefixes.
std::vector<std::string> FrozenPrefixes(const TrainerOptions& o) {
  std::vector<std::string> p;
  if (o.freeze_vision_blocks > 0) {
    p.insert(p.end(), {"visual.conv1.", "visual.class_embedding",
                       "visual.positional_embedding", "visual.ln_pre."});
    for (int i = 0; i < o.freeze_vision_blocks; ++i) {
      p.push_back(absl::StrCat("visual.transformer.resblocks.", i, "."));
    }
  }
  if (o.freeze_text_blocks > 0) {
    p.insert(p.end(), {"token_embedding.", "positional_embedding"});
    for (int i = 0; i < o.freeze_text_blocks; ++i) {
      p.push_back(absl::StrCat("transformer.resblocks.", i, "."));
    }
  }
  return p;
}

struct State {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t next_batch = 0;
  double best_map = -1;
};

absl::Status SaveCheckpoint(const std::string& path, clip::ClipModel& model,
                            torch::optim::Optimizer& optimizer,
                            const State& state) {
  std::ostringstream os;
  RETURN_IF_ERROR(CatchTorch(absl::StrCat("cannot serialise ", path), [&] {
    torch::serialize::OutputArchive archive;
    for (const auto& p : model->named_parameters()) {
      archive.write("model." + p.key(), p.value().detach().cpu());
    }
    torch::serialize::OutputArchive opt_archive;
    optimizer.save(opt_archive);
    archive.write("optimizer", opt_archive);
    archive.write("state.step", torch::tensor(state.step));
    archive.write("state.epoch", torch::tensor(state.epoch));
    archive.write("state.next_batch", torch::tensor(state.next_batch));
    archive.write("state.best_map", torch::tensor(state.best_map, torch::kFloat64));
    archive.write("state.rng", at::detail::getDefaultCPUGenerator().get_state());
    archive.save_to(os);
  }));
  return common::WriteFileAtomically(path, os.str());
}

absl::Status LoadCheckpoint(const std::string& path, clip::ClipModel& model,
                            torch::optim::Optimizer& optimizer, State& state) {
  return CatchTorch(absl::StrCat("cannot load checkpoint ", path), [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      torch::Tensor t;
      archive.read("model." + p.key(), t);
      p.value().copy_(t);
    }
    torch::serialize::InputArchive opt_archive;
    archive.read("optimizer", opt_archive);
    optimizer.load(opt_archive);
    auto read = [&](const char* key) {
      torch::Tensor t;  // a fresh tensor per key: read() assigns into it
      archive.read(key, t);
      return t;
    };
    state.step = read("state.step").item<int64_t>();
    state.epoch = read("state.epoch").item<int64_t>();
    state.next_batch = read("state.next_batch").item<int64_t>();
    state.best_map = read("state.best_map").item<double>();
    torch::Tensor t = read("state.rng");
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    gen.set_state(t);
  });
}

// Rows of a metrics CSV, kept in memory and rewritten atomically.
class CsvLog {
 public:
  CsvLog(std::string path, std::string header)
      : path_(std::move(path)), header_(std::move(header)) {}

  // Keeps existing rows whose first column (the step or epoch) is <= keep.
  void LoadExisting(int64_t keep) {
    auto text = common::ReadFile(path_);
    if (!text.ok()) return;
    bool first = true;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      if (first || line.empty()) {
        first = false;
        continue;
      }
      int64_t key;
      std::vector<absl::string_view> cols = absl::StrSplit(line, ',');
      if (absl::SimpleAtoi(cols[0], &key) && key <= keep) {
        rows_.emplace_back(line);
      }
    }
  }
  void Add(std::string row) { rows_.push_back(std::move(row)); }
  const std::vector<std::string>& rows() const { return rows_; }
  absl::Status Flush() const {
    std::string text = header_ + "\n";
    for (const auto& r : rows_) absl::StrAppend(&text, r, "\n");
    return common::WriteFileAtomically(path_, text);
  }

 private:
  std::string path_, header_;
  std::vector<std::string> rows_;
};

struct ValResult {
  eval::RetrievalMetrics metrics;
  eval::RetrievalMetrics pedestrian, vehicle;
};

// Encodes the validation gallery and the distinct validation texts and
// scores text-to-image retrieval with the competition's mAP@10.
absl::StatusOr<ValResult> Validate(clip::ClipModel& model,
                                   const PairDataset& val,
                                   const clip::BpeTokenizer& tokenizer,
                                   const TrainerOptions& options,
                                   const clip::PreprocessOptions& preprocess,
                                   torch::Device device) {
  ValResult result;
  std::vector<std::string> paths;
  for (size_t i = 0; i < val.images().size(); ++i) {
    paths.push_back(val.ImagePath(static_cast<int32_t>(i)));
  }
  ImageStreamOptions stream_options;
  stream_options.preprocess = preprocess;
  stream_options.chunk_size = options.val_batch_size;
  stream_options.workers = std::max(1, options.loader_workers);
  ImageStream stream(paths, stream_options);
  const int64_t r = preprocess.resolution;
  std::vector<torch::Tensor> image_parts;
  absl::Status st;
  torch::Tensor images, texts;
  RETURN_IF_ERROR(CatchTorch("validation failed", [&] {
    c10::InferenceMode guard;
    while (true) {
      auto chunk = stream.Next();
      if (!chunk.ok()) {
        st = chunk.status();
        return;
      }
      if (!chunk->has_value()) break;
      torch::Tensor x = torch::from_blob((*chunk)->pixels.data(),
                                         {(*chunk)->size, 3, r, r})
                            .to(device);
      torch::Tensor e = model->EncodeImage(x);
      image_parts.push_back(e / e.norm(2, -1, true));
    }
    images = torch::cat(image_parts, 0);
    // Texts, grouped by length.
    const int64_t ctx = model->config().context_length;
    const int64_t nt = static_cast<int64_t>(val.texts().size());
    std::vector<int64_t> tokens =
        tokenizer.TokenizeBatch(val.texts(), static_cast<int>(ctx));
    torch::Tensor all = torch::from_blob(tokens.data(), {nt, ctx}, torch::kInt64);
    torch::Tensor eot = clip::EotPositions(all);
    torch::Tensor order = std::get<1>(eot.sort());
    torch::Tensor out = torch::empty({nt, model->config().embed_dim});
    for (int64_t s = 0; s < nt; s += options.val_batch_size) {
      torch::Tensor idx = order.narrow(0, s, std::min<int64_t>(options.val_batch_size, nt - s));
      torch::Tensor e = model->EncodeText(all.index_select(0, idx).to(device));
      out.index_copy_(0, idx, (e / e.norm(2, -1, true)).cpu());
    }
    texts = out.to(device);
  }));
  RETURN_IF_ERROR(st);
  eval::MetricAccumulator acc;
  RETURN_IF_ERROR(CatchTorch("validation ranking failed", [&] {
    c10::InferenceMode guard;
    const int64_t k = std::min<int64_t>(eval::kOfficialCutoff, images.size(0));
    for (int64_t s = 0; s < texts.size(0); s += 256) {
      const int64_t m = std::min<int64_t>(256, texts.size(0) - s);
      torch::Tensor sims = torch::matmul(texts.narrow(0, s, m), images.t());
      torch::Tensor top = std::get<1>(sims.topk(k, 1)).cpu();
      auto acc_top = top.accessor<int64_t, 2>();
      for (int64_t i = 0; i < m; ++i) {
        const auto& attrs = val.text_attributes()[s + i];
        std::vector<int64_t> ranked(k);
        for (int64_t j = 0; j < k; ++j) ranked[j] = acc_top[i][j];
        eval::QueryScore score = eval::ScoreRankedList(ranked, [&](int64_t img) {
          int32_t a = val.image_attribute()[img];
          return std::find(attrs.begin(), attrs.end(), a) != attrs.end();
        });
        acc.Add(score, val.attribute_categories()[attrs.front()]);
      }
    }
  }));
  result.metrics = acc.Overall();
  result.pedestrian = acc.ForCategory(eval::Category::kPedestrian);
  result.vehicle = acc.ForCategory(eval::Category::kVehicle);
  return result;
}

absl::StatusOr<std::unique_ptr<clip::BpeTokenizer>> MakeTokenizer(
    const TrainerOptions& o, const PairDataset& train, bool resuming) {
  const std::string saved = o.output_dir + "/bpe_vocab.txt.gz";
  if (resuming && fs::exists(saved)) {
    clip::BpeTokenizerOptions all_merges;
    all_merges.max_merges = -1;  // a trained vocabulary keeps every merge
    return clip::BpeTokenizer::LoadOpenAi(saved, all_merges);
  }
  if (o.train_vocab_merges > 0) {
    if (!o.init_weights.empty()) {
      return absl::InvalidArgumentError(
          "a new vocabulary (--train_vocab_merges) only fits a model trained "
          "from scratch, not --init_weights");
    }
    clip::BpeTrainOptions train_options;
    train_options.num_merges = o.train_vocab_merges;
    return clip::BpeTokenizer::Train(train.texts(), train_options);
  }
  std::string vocab = o.vocab;
  if (vocab.empty() && !o.init_weights.empty()) {
    vocab = fs::path(o.init_weights).parent_path().string();
  }
  if (vocab.empty()) {
    return absl::InvalidArgumentError(
        "no tokenizer: give --vocab, --train_vocab_merges, or --init_weights "
        "with tokenizer files beside it");
  }
  return clip::LoadTokenizer(vocab);
}

std::string Fmt(double v) { return absl::StrFormat("%.6g", v); }

}  // namespace

double LearningRateAt(int64_t step, int64_t total, int64_t warmup, double lr,
                      double min_lr) {
  if (warmup > 0 && step < warmup) return lr * (step + 1) / warmup;
  if (total <= warmup) return lr;
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup) / (total - warmup));
  return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

absl::StatusOr<TrainResult> Train(const TrainerOptions& options,
                                  const DistributedConfig& dist,
                                  const TrainerCallbacks& callbacks) {
  auto say = [&](const std::string& m) {
    if (callbacks.on_message && dist.is_main()) callbacks.on_message(m);
  };
  if (options.output_dir.empty()) {
    return absl::InvalidArgumentError("output_dir is required");
  }
  if (options.batch_size < 1 || options.grad_accum < 1 || options.epochs < 1) {
    return absl::InvalidArgumentError(
        "batch_size, grad_accum and epochs must be >= 1");
  }
  if (options.mixed_precision != clip::Precision::kFp32 &&
      options.mixed_precision != clip::Precision::kBf16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mixed precision ", clip::PrecisionName(options.mixed_precision),
        " is not supported for training: use fp32 or bf16"));
  }
  RETURN_IF_ERROR(common::MakeDirs(options.output_dir));
  const bool resuming =
      options.resume && fs::exists(options.output_dir + "/" + kLastCheckpoint);

  ASSIGN_OR_RETURN(PairDataset train,
                   PairDataset::Load(options.train_labels, options.train_images));
  std::optional<PairDataset> val;
  if (!options.val_labels.empty()) {
    ASSIGN_OR_RETURN(val, PairDataset::Load(options.val_labels, options.val_images));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<clip::BpeTokenizer> tokenizer,
                   MakeTokenizer(options, train, resuming));
  if (dist.is_main()) {
    RETURN_IF_ERROR(tokenizer->SaveOpenAi(options.output_dir + "/bpe_vocab.txt.gz"));
  }

  torch::Device device(torch::kCPU);
  RETURN_IF_ERROR(CatchTorch("invalid device", [&] { device = torch::Device(options.device); }));
  if (device.is_cuda()) {
    device = torch::Device(torch::kCUDA, dist.local_rank);
  }

  torch::manual_seed(options.seed);
  clip::ClipModel model{nullptr};
  if (!options.init_weights.empty()) {
    ASSIGN_OR_RETURN(model, clip::LoadClipModel(options.init_weights));
    say(absl::StrCat("loaded ", options.init_weights, " (",
                     model->config().Describe(), ")"));
  } else {
    ASSIGN_OR_RETURN(clip::ClipConfig config, clip::PresetConfig(options.architecture));
    config.vocab_size = tokenizer->vocab_size();
    RETURN_IF_ERROR(config.Validate());
    model = clip::ClipModel(config);
    say(absl::StrCat("new model ", options.architecture, " (", config.Describe(), ")"));
  }
  if (tokenizer->vocab_size() > model->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the tokenizer has ", tokenizer->vocab_size(), " ids but the model embeds ",
        model->config().vocab_size));
  }
  model->to(device);
  model->train();

  ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm, Communicator::Create(dist));
  {
    std::vector<torch::Tensor> params;
    for (auto& p : model->parameters()) params.push_back(p);
    RETURN_IF_ERROR(comm->Broadcast(params));
  }

  // Parameter groups.
  std::vector<torch::Tensor> decay, no_decay, trainable;
  const std::vector<std::string> frozen = FrozenPrefixes(options);
  for (auto& p : model->named_parameters()) {
    bool freeze = false;
    for (const auto& f : frozen) {
      if (p.key().rfind(f, 0) == 0) freeze = true;
    }
    p.value().set_requires_grad(!freeze);
    if (freeze) continue;
    trainable.push_back(p.value());
    (NoDecay(p.key(), p.value()) ? no_decay : decay).push_back(p.value());
  }
  using torch::optim::AdamWOptions;
  auto make_opts = [&](double wd) {
    auto o = std::make_unique<AdamWOptions>(options.lr);
    o->betas({options.beta1, options.beta2}).eps(options.eps).weight_decay(wd);
    return o;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, make_opts(options.weight_decay));
  groups.emplace_back(no_decay, make_opts(0.0));
  torch::optim::AdamW optimizer(groups, AdamWOptions(options.lr));

  clip::PreprocessOptions preprocess = options.preprocess;
  preprocess.resolution = static_cast<int>(model->config().image_resolution);
  LoaderOptions lo;
  lo.batch_size = options.batch_size;
  lo.rank = dist.rank;
  lo.world_size = dist.world_size;
  lo.seed = options.seed;
  lo.workers = options.loader_workers;
  lo.preprocess = preprocess;
  lo.augment = options.augment;
  lo.augment_options = options.augment_options;
  lo.context_length = static_cast<int>(model->config().context_length);
  lo.skip_bad_images = options.skip_bad_images;
  DataLoader loader(&train, tokenizer.get(), lo);
  const int64_t batches = loader.batches_per_epoch();
  if (batches < options.grad_accum) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.train_labels, " has ", train.pairs().size(),
        " pairs: fewer than one optimiser step of ",
        int64_t{options.batch_size} * dist.world_size * options.grad_accum));
  }
  const int64_t steps_per_epoch = batches / options.grad_accum;
  int64_t total_steps = steps_per_epoch * options.epochs;
  if (options.max_steps > 0) total_steps = std::min<int64_t>(total_steps, options.max_steps);

  State state;
  CsvLog steps_csv(options.output_dir + "/" + kStepsCsv, kStepsHeader);
  CsvLog epochs_csv(options.output_dir + "/" + kEpochsCsv, kEpochsHeader);
  if (resuming) {
    RETURN_IF_ERROR(LoadCheckpoint(options.output_dir + "/" + kLastCheckpoint,
                                   model, optimizer, state));
    steps_csv.LoadExisting(state.step);
    epochs_csv.LoadExisting(state.next_batch == 0 ? state.epoch : state.epoch + 1);
    say(absl::StrCat("resumed at step ", state.step, " (epoch ", state.epoch + 1,
                     ", batch ", state.next_batch, ")"));
  }

  TrainResult result;
  result.best_val_map10 = state.best_map;
  const std::vector<std::string> lines_before = epochs_csv.rows();
  std::vector<std::pair<double, double>> loss_points, map_points;
  for (const auto& row : steps_csv.rows()) {
    std::vector<std::string> c = absl::StrSplit(row, ',');
    double s, l;
    if (c.size() > 2 && absl::SimpleAtod(c[0], &s) && absl::SimpleAtod(c[2], &l)) {
      loss_points.push_back({s, l});
    }
  }
  for (const auto& row : epochs_csv.rows()) {
    std::vector<std::string> c = absl::StrSplit(row, ',');
    double s, m;
    if (c.size() > 3 && absl::SimpleAtod(c[1], &s) && absl::SimpleAtod(c[3], &m) && m >= 0) {
      map_points.push_back({s, m});
    }
  }

  const auto run_start = Clock::now();
  const int64_t start_step = state.step;
  const std::string weights_path = options.output_dir + "/model.safetensors";
  bool stop = state.step >= total_steps;
  for (int64_t epoch = state.epoch; epoch < options.epochs && !stop; ++epoch) {
    const auto epoch_start = Clock::now();
    loader.StartEpoch(epoch, epoch == state.epoch ? state.next_batch : 0);
    double epoch_loss = 0;
    int64_t epoch_steps = 0;
    int64_t batch_index = epoch == state.epoch ? state.next_batch : 0;
    while (!stop && batch_index + options.grad_accum <= steps_per_epoch * options.grad_accum) {
      const auto step_start = Clock::now();
      const double wait_before = loader.wait_seconds();
      double step_loss = 0;
      absl::Status step_status = absl::OkStatus();
      for (int micro = 0; micro < options.grad_accum; ++micro) {
        auto batch = loader.Next();
        if (!batch.ok()) return batch.status();
        if (!batch->has_value()) {
          return absl::InternalError("data loader ended early");
        }
        Batch& b = **batch;
        const int64_t r = preprocess.resolution;
        step_status = CatchTorch("training step failed", [&] {
          torch::Tensor images =
              torch::from_blob(b.pixels.data(), {b.size, 3, r, r}).to(device);
          torch::Tensor tokens =
              torch::from_blob(b.tokens.data(), {b.size, lo.context_length},
                               torch::kInt64)
                  .to(device);
          torch::Tensor ids =
              torch::from_blob(b.attributes.data(), {b.size}, torch::kInt64).to(device);
          torch::Tensor img, txt;
          {
            clip::AutocastGuard autocast(device.is_cuda(), options.mixed_precision);
            img = model->EncodeImage(images);
            txt = model->EncodeText(tokens);
          }
          // The loss, and the gradient flowing back into the towers, in float32.
          img = img.to(torch::kFloat32);
          txt = txt.to(torch::kFloat32);
          img = img / img.norm(2, -1, true);
          txt = txt / txt.norm(2, -1, true);
          torch::Tensor all_img = comm->AllGather(img);
          torch::Tensor all_txt = comm->AllGather(txt);
          torch::Tensor all_ids;
          {
            torch::NoGradGuard no_grad;
            all_ids = comm->AllGather(ids);
          }
          torch::Tensor loss = MultiPositiveContrastiveLoss(
                                   all_img, all_txt, all_ids, model->logit_scale) /
                               options.grad_accum;
          loss.backward();
          step_loss += loss.item<double>();
        });
        if (!step_status.ok()) return step_status;
        ++batch_index;
      }
      RETURN_IF_ERROR(comm->AverageGradients(trainable));
      const double lr = LearningRateAt(state.step, total_steps, options.warmup_steps,
                                       options.lr, options.min_lr);
      RETURN_IF_ERROR(CatchTorch("optimiser step failed", [&] {
        if (options.clip_grad_norm > 0) {
          torch::nn::utils::clip_grad_norm_(trainable, options.clip_grad_norm);
        }
        for (auto& g : optimizer.param_groups()) {
          static_cast<AdamWOptions&>(g.options()).lr(lr);
        }
        optimizer.step();
        optimizer.zero_grad();
        torch::NoGradGuard no_grad;
        model->logit_scale.clamp_(0, std::log(kMaxLogitScale));
      }));
      ++state.step;
      state.epoch = epoch;
      state.next_batch = batch_index;
      epoch_loss += step_loss;
      ++epoch_steps;
      const auto now = Clock::now();
      StepStats s;
      s.step = state.step;
      s.total_steps = total_steps;
      s.epoch = static_cast<int>(epoch + 1);
      s.loss = step_loss;
      s.lr = lr;
      s.logit_scale = std::exp(model->logit_scale.item<double>());
      const double step_s = Seconds(step_start, now);
      s.samples_per_second = int64_t{options.batch_size} * dist.world_size *
                             options.grad_accum / step_s;
      s.data_wait_share = (loader.wait_seconds() - wait_before) / step_s;
      s.elapsed_seconds = Seconds(run_start, now);
      s.eta_seconds = s.elapsed_seconds / (state.step - start_step) *
                      (total_steps - state.step);
      if (dist.is_main()) {
        steps_csv.Add(absl::StrCat(s.step, ",", s.epoch, ",", Fmt(s.loss), ",",
                                   Fmt(s.lr), ",", Fmt(s.logit_scale), ",",
                                   Fmt(s.samples_per_second), ",",
                                   Fmt(s.data_wait_share)));
        loss_points.push_back({static_cast<double>(s.step), s.loss});
      }
      if (callbacks.on_step && dist.is_main()) callbacks.on_step(s);
      if (state.step >= total_steps) stop = true;
      if (options.interrupt_after_steps > 0 &&
          state.step == options.interrupt_after_steps && !stop) {
        if (dist.is_main()) {
          RETURN_IF_ERROR(steps_csv.Flush());
          RETURN_IF_ERROR(SaveCheckpoint(options.output_dir + "/" + kLastCheckpoint,
                                         model, optimizer, state));
        }
        RETURN_IF_ERROR(comm->Barrier());
        return absl::AbortedError(
            absl::StrCat("interrupted after step ", state.step, " as asked"));
      }
      if (dist.is_main() && options.checkpoint_every_steps > 0 &&
          state.step % options.checkpoint_every_steps == 0 && !stop) {
        RETURN_IF_ERROR(steps_csv.Flush());
        RETURN_IF_ERROR(SaveCheckpoint(options.output_dir + "/" + kLastCheckpoint,
                                       model, optimizer, state));
      }
    }
    const bool epoch_done = batch_index >= steps_per_epoch * options.grad_accum;
    if (epoch_done) {
      state.epoch = epoch + 1;
      state.next_batch = 0;
    }
    // Validation on rank 0 while the others wait.
    EpochStats es;
    es.epoch = static_cast<int>(epoch + 1);
    es.step = state.step;
    es.train_loss = epoch_steps > 0 ? epoch_loss / epoch_steps : 0;
    es.skipped_images = loader.skipped_images();
    if (dist.is_main()) {
      if (val.has_value()) {
        model->eval();
        ASSIGN_OR_RETURN(ValResult v, Validate(model, *val, *tokenizer, options,
                                               preprocess, device));
        model->train();
        es.val_map10 = v.metrics.map_at_10;
        es.val_recall1 = v.metrics.recall_at_1;
        es.val_recall5 = v.metrics.recall_at_5;
        es.val_recall10 = v.metrics.recall_at_10;
        es.val_map10_pedestrian = v.pedestrian.num_queries ? v.pedestrian.map_at_10 : -1;
        es.val_map10_vehicle = v.vehicle.num_queries ? v.vehicle.map_at_10 : -1;
        result.last_val_map10 = es.val_map10;
        map_points.push_back({static_cast<double>(state.step), es.val_map10});
        if (es.val_map10 > state.best_map) {
          state.best_map = es.val_map10;
          result.best_val_map10 = es.val_map10;
          RETURN_IF_ERROR(SaveCheckpoint(options.output_dir + "/" + kBestCheckpoint,
                                         model, optimizer, state));
          RETURN_IF_ERROR(clip::SaveClipModel(
              model, weights_path,
              {{"val_map10", Fmt(es.val_map10)}, {"step", absl::StrCat(state.step)}}));
        }
      }
      es.seconds = Seconds(epoch_start, Clock::now());
      epochs_csv.Add(absl::StrCat(es.epoch, ",", es.step, ",", Fmt(es.train_loss), ",",
                                  Fmt(es.val_map10), ",", Fmt(es.val_recall1), ",",
                                  Fmt(es.val_recall5), ",", Fmt(es.val_recall10), ",",
                                  Fmt(es.val_map10_pedestrian), ",",
                                  Fmt(es.val_map10_vehicle), ",", Fmt(es.seconds), ",",
                                  es.skipped_images));
      RETURN_IF_ERROR(steps_csv.Flush());
      RETURN_IF_ERROR(epochs_csv.Flush());
      RETURN_IF_ERROR(SaveCheckpoint(options.output_dir + "/" + kLastCheckpoint,
                                     model, optimizer, state));
      RETURN_IF_ERROR(WriteTrainingPlot(options.output_dir + "/training.png",
                                        loss_points, map_points));
    }
    result.epochs.push_back(es);
    if (callbacks.on_epoch && dist.is_main()) callbacks.on_epoch(es);
    RETURN_IF_ERROR(comm->Barrier());
  }

  result.steps = state.step;
  result.weights_path = weights_path;
  result.tokenizer_path = options.output_dir + "/bpe_vocab.txt.gz";
  if (dist.is_main()) {
    RETURN_IF_ERROR(clip::SaveClipModel(model, options.output_dir + "/model-last.safetensors",
                                        {{"step", absl::StrCat(state.step)}}));
    if (!val.has_value() || !fs::exists(weights_path)) {
      RETURN_IF_ERROR(clip::SaveClipModel(model, weights_path,
                                          {{"step", absl::StrCat(state.step)}}));
    }
  }
  RETURN_IF_ERROR(comm->Barrier());
  return result;
}

}  // namespace trainer
