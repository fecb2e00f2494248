#include "trainer/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>
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
#include "pipeline/image_stream.h"
#include "rerank/attribute_head.h"
#include "rerank/fit.h"
#include "trainer/attribute_heads.h"
#include "trainer/contrastive_loss.h"
#include "trainer/data_loader.h"
#include "trainer/dataset.h"
#include "trainer/distributed.h"
#include "trainer/plot.h"

namespace trainer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kLastCheckpoint[] = "checkpoint-last.pt";
constexpr char kBestCheckpoint[] = "checkpoint-best.pt";
constexpr char kTokenizerFile[] = "bpe_vocab.txt.gz";
constexpr char kStepsCsv[] = "metrics_steps.csv";
constexpr char kEpochsCsv[] = "metrics_epochs.csv";
constexpr char kStepsHeader[] =
    "step,epoch,loss,lr,logit_scale,samples_per_s,data_wait_share";
// A failed model or optimiser step is a bug or a resource problem here,
// never the caller's input: INTERNAL.
template <typename F>
absl::Status CatchTorch(absl::string_view what, F&& f) {
  return common::CatchTorch(absl::StatusCode::kInternal, what,
                            std::forward<F>(f));
}

constexpr char kEpochsHeader[] =
    "epoch,step,train_loss,val_map10,val_recall1,val_recall5,val_recall10,"
    "val_map10_pedestrian,val_map10_vehicle,seconds,skipped_images,"
    "val_map10_routed,val_map10_reranked,val_map10_routed_reranked";
constexpr char kRerankAblation[] = "rerank_ablation.txt";

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
    archive.write("state.best_map",
                  torch::tensor(state.best_map, torch::kFloat64));
    archive.write("state.rng",
                  at::detail::getDefaultCPUGenerator().get_state());
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
  // The embeddings scored, rows in the dataset's order.
  int64_t dim = 0;
  std::vector<float> image_embeddings, text_embeddings;
};

// Scores text-to-image retrieval of the validation split with the
// competition's mAP@10. `images` [n_images, D] and `texts` [n_texts, D] are
// L2-normalised embeddings, rows in the dataset's order.
absl::StatusOr<ValResult> ScoreValidation(const PairDataset& val,
                                          const torch::Tensor& images,
                                          const torch::Tensor& texts) {
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
        eval::QueryScore score =
            eval::ScoreRankedList(ranked, [&](int64_t img) {
              int32_t a = val.image_attribute()[img];
              return std::find(attrs.begin(), attrs.end(), a) != attrs.end();
            });
        acc.Add(score, val.attribute_categories()[attrs.front()]);
      }
    }
  }));
  ValResult result;
  result.metrics = acc.Overall();
  result.pedestrian = acc.ForCategory(eval::Category::kPedestrian);
  result.vehicle = acc.ForCategory(eval::Category::kVehicle);
  return result;
}

// Encodes the validation gallery and the distinct validation texts through a
// ClipEncoder over the model as it is now (the code the exporter and the
// server run) and scores them.
absl::StatusOr<ValResult> Validate(
    const clip::ClipModel& model, const PairDataset& val,
    std::shared_ptr<const clip::BpeTokenizer> tokenizer,
    const TrainerOptions& options, const clip::PreprocessOptions& preprocess,
    torch::Device device) {
  clip::EncoderOptions encoder_options;
  encoder_options.max_batch_size = options.val_batch_size;
  encoder_options.device = device.str();
  ASSIGN_OR_RETURN(std::unique_ptr<clip::ClipEncoder> encoder,
                   clip::ClipEncoder::FromModel(model, std::move(tokenizer),
                                                encoder_options));
  std::vector<std::string> paths;
  for (size_t i = 0; i < val.images().size(); ++i) {
    paths.push_back(val.ImagePath(static_cast<int32_t>(i)));
  }
  pipeline::ImageStreamOptions stream_options;
  stream_options.preprocess = preprocess;
  stream_options.chunk_size = options.val_batch_size;
  stream_options.workers = std::max(1, options.loader_workers);
  pipeline::ImageStream stream(paths, stream_options);
  std::vector<float> image_rows;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<pipeline::ImageChunk> chunk, stream.Next());
    if (!chunk.has_value()) break;
    ASSIGN_OR_RETURN(std::vector<float> e,
                     encoder->EncodeImages(chunk->pixels, chunk->size));
    image_rows.insert(image_rows.end(), e.begin(), e.end());
  }
  ASSIGN_OR_RETURN(std::vector<float> text_rows,
                   encoder->EncodeTexts(val.texts()));
  const int64_t dim = encoder->embed_dim();
  torch::Tensor images, texts;
  RETURN_IF_ERROR(CatchTorch("validation embeddings", [&] {
    images =
        torch::from_blob(image_rows.data(),
                         {static_cast<int64_t>(image_rows.size()) / dim, dim})
            .to(device);
    texts =
        torch::from_blob(text_rows.data(),
                         {static_cast<int64_t>(text_rows.size()) / dim, dim})
            .to(device);
  }));
  ASSIGN_OR_RETURN(ValResult result, ScoreValidation(val, images, texts));
  result.dim = dim;
  result.image_embeddings = std::move(image_rows);
  result.text_embeddings = std::move(text_rows);
  return result;
}

// One head of `heads` as a torch-free rerank::AttributeHead.
absl::StatusOr<rerank::AttributeHead> ExportHead(const torch::nn::Linear& l) {
  std::vector<float> w, b;
  RETURN_IF_ERROR(CatchTorch("copying an attribute head", [&] {
    torch::Tensor wt = l->weight.detach().to(torch::kCPU).contiguous();
    torch::Tensor bt = l->bias.detach().to(torch::kCPU).contiguous();
    w.assign(wt.data_ptr<float>(), wt.data_ptr<float>() + wt.numel());
    b.assign(bt.data_ptr<float>(), bt.data_ptr<float>() + bt.numel());
  }));
  return rerank::AttributeHead::FromWeights(std::move(w), std::move(b),
                                            l->weight.size(1));
}

// Fits the re-ranking weights on the validation embeddings `v` with the
// heads' predictions.
absl::StatusOr<rerank::FitResult> FitRerank(const PairDataset& val,
                                            const ValResult& v,
                                            const AttributeHeads& heads,
                                            int candidates) {
  ASSIGN_OR_RETURN(rerank::AttributeHead image_head, ExportHead(heads->image));
  ASSIGN_OR_RETURN(rerank::AttributeHead text_head, ExportHead(heads->text));
  rerank::FitData d;
  d.dim = v.dim;
  d.image_embeddings = v.image_embeddings;
  d.text_embeddings = v.text_embeddings;
  const int64_t ni = static_cast<int64_t>(v.image_embeddings.size()) / v.dim;
  const int64_t nt = static_cast<int64_t>(v.text_embeddings.size()) / v.dim;
  d.image_probs = image_head.Predict(v.image_embeddings.data(), ni);
  d.text_probs = text_head.Predict(v.text_embeddings.data(), nt);
  for (int64_t j = 0; j < ni; ++j) {
    d.image_categories.push_back(
        val.attribute_categories()[val.image_attribute()[j]]);
  }
  for (int64_t t = 0; t < nt; ++t) {
    d.text_categories.push_back(
        val.attribute_categories()[val.text_attributes()[t].front()]);
  }
  d.relevant = [&val](int64_t text, int64_t image) {
    const auto& attrs = val.text_attributes()[text];
    return std::find(attrs.begin(), attrs.end(),
                     val.image_attribute()[image]) != attrs.end();
  };
  rerank::FitOptions options;
  options.candidates = candidates;
  return rerank::FitRerankWeights(d, options);
}

absl::StatusOr<std::unique_ptr<clip::BpeTokenizer>> MakeTokenizer(
    const TrainerOptions& o, const PairDataset& train, bool resuming) {
  const std::string saved = o.output_dir + "/" + kTokenizerFile;
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

absl::Status CheckOptions(const TrainerOptions& options) {
  if (options.output_dir.empty()) {
    return absl::InvalidArgumentError("output_dir is required");
  }
  if (options.batch_size < 1 || options.grad_accum < 1 || options.epochs < 1) {
    return absl::InvalidArgumentError(
        "batch_size, grad_accum and epochs must be >= 1");
  }
  if (options.image_attribute_loss_weight < 0 ||
      options.text_attribute_loss_weight < 0 || options.rerank_candidates < 1) {
    return absl::InvalidArgumentError(
        "attribute loss weights must be >= 0 and rerank_candidates >= 1");
  }
  if (options.mixed_precision != clip::Precision::kFp32 &&
      options.mixed_precision != clip::Precision::kBf16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mixed precision ", clip::PrecisionName(options.mixed_precision),
        " is not supported for training: use fp32 or bf16"));
  }
  return absl::OkStatus();
}

// (step, value) points of column `value_col` of a metrics CSV's rows, for
// the plot; rows where it is negative (no validation) are left out.
std::vector<std::pair<double, double>> PlotPoints(
    const std::vector<std::string>& rows, size_t step_col, size_t value_col) {
  std::vector<std::pair<double, double>> points;
  for (const auto& row : rows) {
    std::vector<std::string> c = absl::StrSplit(row, ',');
    double s, v;
    if (c.size() > std::max(step_col, value_col) &&
        absl::SimpleAtod(c[step_col], &s) &&
        absl::SimpleAtod(c[value_col], &v) && v >= 0) {
      points.push_back({s, v});
    }
  }
  return points;
}

}  // namespace

double LearningRateAt(int64_t step, int64_t total, int64_t warmup, double lr,
                      double min_lr) {
  if (warmup > 0 && step < warmup) return lr * (step + 1) / warmup;
  if (total <= warmup) return lr;
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup) / (total - warmup));
  return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

// Everything one training run holds, and its steps. Methods that rank 0
// alone runs (validation, files) end in Communicator::AgreeOn, so a failure
// there stops every rank.
class Trainer::Impl {
 public:
  Impl(const TrainerOptions& options, const DistributedConfig& dist,
       TrainerCallbacks callbacks)
      : options_(options),
        dist_(dist),
        callbacks_(std::move(callbacks)),
        steps_csv_(options.output_dir + "/" + kStepsCsv, kStepsHeader),
        epochs_csv_(options.output_dir + "/" + kEpochsCsv, kEpochsHeader),
        weights_path_(options.output_dir + "/model.safetensors") {}

  absl::Status Init();
  bool done() const {
    return state_.step >= total_steps_ || state_.epoch >= options_.epochs;
  }
  absl::StatusOr<EpochStats> RunEpoch();
  absl::StatusOr<TrainResult> Finish();

 private:
  void Say(const std::string& m) const {
    if (callbacks_.on_message && dist_.is_main()) callbacks_.on_message(m);
  }
  absl::Status LoadData();
  absl::Status BuildModel();
  absl::Status BuildOptimizer();
  absl::Status BuildLoader();
  absl::Status Resume();
  // One optimiser step over grad_accum micro-batches from the loader.
  // Returns the step's loss.
  absl::StatusOr<double> Step(int64_t epoch, int64_t* batch_index);
  // Forward and backward of one micro-batch; adds its loss to *loss.
  absl::Status ForwardBackward(Batch& batch, double* loss);
  void ReportStep(int64_t epoch, double loss, double lr,
                  Clock::time_point step_start, double wait_before);
  // Rank 0: validation, the metrics files, checkpoints and the plot.
  absl::Status EndEpochOnMain(EpochStats& es, Clock::time_point epoch_start);
  // Rank 0, with both attribute heads trained: fits the re-ranking weights
  // on the validation embeddings into fit_ and the scores into `es`.
  absl::Status FitRerankOnMain(const ValResult& v, EpochStats& es);
  // Metadata of a weights file: `extra`, plus the attribute layout and the
  // latest re-rank fit when the model has heads.
  std::map<std::string, std::string> WeightsMetadata(
      std::map<std::string, std::string> extra) const;
  absl::Status SaveLastCheckpoint() {
    return SaveCheckpoint(options_.output_dir + "/" + kLastCheckpoint, model_,
                          *optimizer_, state_);
  }

  const TrainerOptions options_;
  const DistributedConfig dist_;
  const TrainerCallbacks callbacks_;
  bool resuming_ = false;
  std::optional<PairDataset> train_, val_;
  std::shared_ptr<clip::BpeTokenizer> tokenizer_;
  torch::Device device_{torch::kCPU};
  clip::ClipModel model_{nullptr};
  // With attribute supervision: the heads (a submodule of model_), the
  // training targets, and the latest validation's re-rank fit.
  AttributeHeads heads_{nullptr};
  std::optional<AttributeTargetTable> targets_;
  std::optional<rerank::FitResult> fit_;
  std::unique_ptr<Communicator> comm_;
  std::vector<torch::Tensor> trainable_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  clip::PreprocessOptions preprocess_;
  LoaderOptions loader_options_;
  std::unique_ptr<DataLoader> loader_;
  int64_t steps_per_epoch_ = 0;
  int64_t total_steps_ = 0;

  State state_;
  CsvLog steps_csv_, epochs_csv_;
  std::vector<std::pair<double, double>> loss_points_, map_points_;
  TrainResult result_;
  const std::string weights_path_;
  Clock::time_point run_start_;
  int64_t start_step_ = 0;
  bool interrupted_ = false;
};

absl::Status Trainer::Impl::Init() {
  RETURN_IF_ERROR(CheckOptions(options_));
  RETURN_IF_ERROR(common::MakeDirs(options_.output_dir));
  resuming_ = options_.resume &&
              fs::exists(options_.output_dir + "/" + kLastCheckpoint);
  RETURN_IF_ERROR(LoadData());
  RETURN_IF_ERROR(CatchTorch(
      "invalid device", [&] { device_ = torch::Device(options_.device); }));
  if (device_.is_cuda())
    device_ = torch::Device(torch::kCUDA, dist_.local_rank);
  RETURN_IF_ERROR(BuildModel());
  ASSIGN_OR_RETURN(comm_, Communicator::Create(dist_));
  {
    std::vector<torch::Tensor> params;
    for (auto& p : model_->parameters()) params.push_back(p);
    RETURN_IF_ERROR(comm_->Broadcast(params));
  }
  RETURN_IF_ERROR(BuildOptimizer());
  RETURN_IF_ERROR(BuildLoader());
  RETURN_IF_ERROR(Resume());
  run_start_ = Clock::now();
  start_step_ = state_.step;
  return absl::OkStatus();
}

absl::Status Trainer::Impl::LoadData() {
  ASSIGN_OR_RETURN(
      train_, PairDataset::Load(options_.train_labels, options_.train_images));
  if (!options_.val_labels.empty()) {
    ASSIGN_OR_RETURN(
        val_, PairDataset::Load(options_.val_labels, options_.val_images));
  }
  ASSIGN_OR_RETURN(tokenizer_, MakeTokenizer(options_, *train_, resuming_));
  if (dist_.is_main()) {
    RETURN_IF_ERROR(
        tokenizer_->SaveOpenAi(options_.output_dir + "/" + kTokenizerFile));
  }
  return absl::OkStatus();
}

absl::Status Trainer::Impl::BuildModel() {
  torch::manual_seed(options_.seed);
  if (!options_.init_weights.empty()) {
    ASSIGN_OR_RETURN(model_, clip::LoadClipModel(options_.init_weights));
    Say(absl::StrCat("loaded ", options_.init_weights, " (",
                     model_->config().Describe(), ")"));
  } else {
    ASSIGN_OR_RETURN(clip::ClipConfig config,
                     clip::PresetConfig(options_.architecture));
    config.vocab_size = tokenizer_->vocab_size();
    RETURN_IF_ERROR(config.Validate());
    model_ = clip::ClipModel(config);
    Say(absl::StrCat("new model ", options_.architecture, " (",
                     config.Describe(), ")"));
  }
  if (tokenizer_->vocab_size() > model_->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the tokenizer has ", tokenizer_->vocab_size(),
        " ids but the model embeds ", model_->config().vocab_size));
  }
  if (options_.image_attribute_loss_weight > 0 ||
      options_.text_attribute_loss_weight > 0) {
    heads_ = AttributeHeads(model_->config().embed_dim);
    model_->register_module(kAttributeHeadModule, heads_);
    ASSIGN_OR_RETURN(targets_, BuildTargetTable(*train_, device_));
    Say(absl::StrCat("attribute heads on (image weight ",
                     options_.image_attribute_loss_weight, ", text weight ",
                     options_.text_attribute_loss_weight, ")"));
    if (const std::string unknown = targets_->stats.Summary();
        !unknown.empty()) {
      Say(absl::StrCat(options_.train_labels, ": ", unknown));
    }
  }
  model_->to(device_);
  model_->train();
  return absl::OkStatus();
}

absl::Status Trainer::Impl::BuildOptimizer() {
  // Parameter groups: no weight decay on biases, norms and embeddings.
  std::vector<torch::Tensor> decay, no_decay;
  const std::vector<std::string> frozen = FrozenPrefixes(options_);
  for (auto& p : model_->named_parameters()) {
    bool freeze = false;
    for (const auto& f : frozen) {
      if (p.key().rfind(f, 0) == 0) freeze = true;
    }
    p.value().set_requires_grad(!freeze);
    if (freeze) continue;
    trainable_.push_back(p.value());
    (NoDecay(p.key(), p.value()) ? no_decay : decay).push_back(p.value());
  }
  using torch::optim::AdamWOptions;
  auto make_opts = [&](double wd) {
    auto o = std::make_unique<AdamWOptions>(options_.lr);
    o->betas({options_.beta1, options_.beta2})
        .eps(options_.eps)
        .weight_decay(wd);
    return o;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, make_opts(options_.weight_decay));
  groups.emplace_back(no_decay, make_opts(0.0));
  optimizer_ =
      std::make_unique<torch::optim::AdamW>(groups, AdamWOptions(options_.lr));
  return absl::OkStatus();
}

absl::Status Trainer::Impl::BuildLoader() {
  preprocess_ = options_.preprocess;
  preprocess_.resolution = static_cast<int>(model_->config().image_resolution);
  LoaderOptions& lo = loader_options_;
  lo.batch_size = options_.batch_size;
  lo.rank = dist_.rank;
  lo.world_size = dist_.world_size;
  lo.seed = options_.seed;
  lo.workers = options_.loader_workers;
  lo.preprocess = preprocess_;
  lo.augment = options_.augment;
  lo.augment_options = options_.augment_options;
  lo.context_length = static_cast<int>(model_->config().context_length);
  lo.skip_bad_images = options_.skip_bad_images;
  loader_ = std::make_unique<DataLoader>(&*train_, tokenizer_.get(), lo);
  const int64_t batches = loader_->batches_per_epoch();
  if (batches < options_.grad_accum) {
    return absl::InvalidArgumentError(absl::StrCat(
        options_.train_labels, " has ", train_->pairs().size(),
        " pairs: fewer than one optimiser step of ",
        int64_t{options_.batch_size} * dist_.world_size * options_.grad_accum));
  }
  steps_per_epoch_ = batches / options_.grad_accum;
  total_steps_ = steps_per_epoch_ * options_.epochs;
  if (options_.max_steps > 0) {
    total_steps_ = std::min<int64_t>(total_steps_, options_.max_steps);
  }
  return absl::OkStatus();
}

absl::Status Trainer::Impl::Resume() {
  if (resuming_) {
    RETURN_IF_ERROR(LoadCheckpoint(options_.output_dir + "/" + kLastCheckpoint,
                                   model_, *optimizer_, state_));
    steps_csv_.LoadExisting(state_.step);
    epochs_csv_.LoadExisting(state_.next_batch == 0 ? state_.epoch
                                                    : state_.epoch + 1);
    Say(absl::StrCat("resumed at step ", state_.step, " (epoch ",
                     state_.epoch + 1, ", batch ", state_.next_batch, ")"));
  }
  result_.best_val_map10 = state_.best_map;
  loss_points_ = PlotPoints(steps_csv_.rows(), 0, 2);
  map_points_ = PlotPoints(epochs_csv_.rows(), 1, 3);
  return absl::OkStatus();
}

absl::Status Trainer::Impl::ForwardBackward(Batch& b, double* loss_sum) {
  const int64_t r = preprocess_.resolution;
  return CatchTorch("training step failed", [&] {
    torch::Tensor images =
        torch::from_blob(b.pixels.data(), {b.size, 3, r, r}).to(device_);
    torch::Tensor tokens =
        torch::from_blob(b.tokens.data(),
                         {b.size, loader_options_.context_length},
                         torch::kInt64)
            .to(device_);
    torch::Tensor ids =
        torch::from_blob(b.attributes.data(), {b.size}, torch::kInt64)
            .to(device_);
    torch::Tensor img, txt;
    {
      clip::AutocastGuard autocast(device_.is_cuda(), options_.mixed_precision);
      img = model_->EncodeImage(images);
      txt = model_->EncodeText(tokens);
    }
    // The loss, and the gradient flowing back into the towers, in float32.
    img = img.to(torch::kFloat32);
    txt = txt.to(torch::kFloat32);
    img = img / img.norm(2, -1, true);
    txt = txt / txt.norm(2, -1, true);
    torch::Tensor all_img = comm_->AllGather(img);
    torch::Tensor all_txt = comm_->AllGather(txt);
    torch::Tensor all_ids;
    {
      torch::NoGradGuard no_grad;
      all_ids = comm_->AllGather(ids);
    }
    torch::Tensor loss = MultiPositiveContrastiveLoss(all_img, all_txt, all_ids,
                                                      model_->logit_scale);
    if (heads_) {
      loss = loss + options_.image_attribute_loss_weight *
                        AttributeLoss(heads_->image(img), ids, *targets_);
      loss = loss + options_.text_attribute_loss_weight *
                        AttributeLoss(heads_->text(txt), ids, *targets_);
    }
    loss = loss / options_.grad_accum;
    loss.backward();
    *loss_sum += loss.item<double>();
  });
}

absl::StatusOr<double> Trainer::Impl::Step(int64_t epoch,
                                           int64_t* batch_index) {
  const auto step_start = Clock::now();
  const double wait_before = loader_->wait_seconds();
  double step_loss = 0;
  for (int micro = 0; micro < options_.grad_accum; ++micro) {
    absl::StatusOr<std::optional<Batch>> batch = loader_->Next();
    absl::Status loaded = batch.status();
    if (loaded.ok() && !batch->has_value()) {
      loaded = absl::InternalError("data loader ended early");
    }
    // A rank whose data failed (an unreadable image) stops every rank here,
    // before the collectives of the forward pass.
    RETURN_IF_ERROR(comm_->AgreeOn(
        loaded,
        absl::StrCat("loading batch ", *batch_index, " of epoch ", epoch + 1)));
    RETURN_IF_ERROR(ForwardBackward(**batch, &step_loss));
    ++*batch_index;
  }
  RETURN_IF_ERROR(comm_->AverageGradients(trainable_));
  const double lr =
      LearningRateAt(state_.step, total_steps_, options_.warmup_steps,
                     options_.lr, options_.min_lr);
  RETURN_IF_ERROR(CatchTorch("optimiser step failed", [&] {
    if (options_.clip_grad_norm > 0) {
      torch::nn::utils::clip_grad_norm_(trainable_, options_.clip_grad_norm);
    }
    for (auto& g : optimizer_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    }
    optimizer_->step();
    optimizer_->zero_grad();
    torch::NoGradGuard no_grad;
    model_->logit_scale.clamp_(0, std::log(kMaxLogitScale));
  }));
  ++state_.step;
  state_.epoch = epoch;
  state_.next_batch = *batch_index;
  ReportStep(epoch, step_loss, lr, step_start, wait_before);
  return step_loss;
}

void Trainer::Impl::ReportStep(int64_t epoch, double loss, double lr,
                               Clock::time_point step_start,
                               double wait_before) {
  const auto now = Clock::now();
  StepStats s;
  s.step = state_.step;
  s.total_steps = total_steps_;
  s.epoch = static_cast<int>(epoch + 1);
  s.loss = loss;
  s.lr = lr;
  s.logit_scale = std::exp(model_->logit_scale.item<double>());
  const double step_s = Seconds(step_start, now);
  s.samples_per_second = int64_t{options_.batch_size} * dist_.world_size *
                         options_.grad_accum / step_s;
  s.data_wait_share = (loader_->wait_seconds() - wait_before) / step_s;
  s.elapsed_seconds = Seconds(run_start_, now);
  s.eta_seconds = s.elapsed_seconds / (state_.step - start_step_) *
                  (total_steps_ - state_.step);
  if (!dist_.is_main()) return;
  steps_csv_.Add(absl::StrCat(s.step, ",", s.epoch, ",", Fmt(s.loss), ",",
                              Fmt(s.lr), ",", Fmt(s.logit_scale), ",",
                              Fmt(s.samples_per_second), ",",
                              Fmt(s.data_wait_share)));
  loss_points_.push_back({static_cast<double>(s.step), s.loss});
  if (callbacks_.on_step) callbacks_.on_step(s);
}

absl::StatusOr<EpochStats> Trainer::Impl::RunEpoch() {
  if (done()) return absl::FailedPreconditionError("training is already done");
  const int64_t epoch = state_.epoch;
  const auto epoch_start = Clock::now();
  loader_->StartEpoch(epoch, state_.next_batch);
  int64_t batch_index = state_.next_batch;
  double epoch_loss = 0;
  int64_t epoch_steps = 0;
  const int64_t epoch_batches = steps_per_epoch_ * options_.grad_accum;
  while (state_.step < total_steps_ &&
         batch_index + options_.grad_accum <= epoch_batches) {
    ASSIGN_OR_RETURN(const double loss, Step(epoch, &batch_index));
    epoch_loss += loss;
    ++epoch_steps;
    const bool last = state_.step >= total_steps_;
    const bool interrupt = options_.interrupt_after_steps > 0 &&
                           state_.step == options_.interrupt_after_steps &&
                           !last;
    const bool periodic = options_.checkpoint_every_steps > 0 &&
                          state_.step % options_.checkpoint_every_steps == 0 &&
                          !last;
    if (interrupt || periodic) {
      absl::Status saved = absl::OkStatus();
      if (dist_.is_main()) {
        saved = steps_csv_.Flush();
        if (saved.ok()) saved = SaveLastCheckpoint();
      }
      RETURN_IF_ERROR(comm_->AgreeOn(
          saved, absl::StrCat("saving the checkpoint at step ", state_.step)));
    }
    if (interrupt) {
      interrupted_ = true;
      return absl::AbortedError(
          absl::StrCat("interrupted after step ", state_.step, " as asked"));
    }
  }
  if (batch_index >= epoch_batches) {
    state_.epoch = epoch + 1;
    state_.next_batch = 0;
  }
  EpochStats es;
  es.epoch = static_cast<int>(epoch + 1);
  es.step = state_.step;
  es.train_loss = epoch_steps > 0 ? epoch_loss / epoch_steps : 0;
  es.skipped_images = loader_->skipped_images();
  absl::Status main_status = absl::OkStatus();
  if (dist_.is_main()) main_status = EndEpochOnMain(es, epoch_start);
  // The other ranks wait here while rank 0 validates and writes; a failure
  // there ends every rank now.
  RETURN_IF_ERROR(comm_->AgreeOn(
      main_status, absl::StrCat("at the end of epoch ", epoch + 1)));
  result_.epochs.push_back(es);
  if (callbacks_.on_epoch && dist_.is_main()) callbacks_.on_epoch(es);
  return es;
}

absl::Status Trainer::Impl::EndEpochOnMain(EpochStats& es,
                                           Clock::time_point epoch_start) {
  if (val_.has_value()) {
    model_->eval();
    absl::StatusOr<ValResult> v =
        Validate(model_, *val_, tokenizer_, options_, preprocess_, device_);
    model_->train();
    if (!v.ok()) return v.status();
    RETURN_IF_ERROR(FitRerankOnMain(*v, es));
    es.val_map10 = v->metrics.map_at_10;
    es.val_recall1 = v->metrics.recall_at_1;
    es.val_recall5 = v->metrics.recall_at_5;
    es.val_recall10 = v->metrics.recall_at_10;
    es.val_map10_pedestrian =
        v->pedestrian.num_queries ? v->pedestrian.map_at_10 : -1;
    es.val_map10_vehicle = v->vehicle.num_queries ? v->vehicle.map_at_10 : -1;
    result_.last_val_map10 = es.val_map10;
    map_points_.push_back({static_cast<double>(state_.step), es.val_map10});
    if (es.val_map10 > state_.best_map) {
      state_.best_map = es.val_map10;
      result_.best_val_map10 = es.val_map10;
      RETURN_IF_ERROR(
          SaveCheckpoint(options_.output_dir + "/" + kBestCheckpoint, model_,
                         *optimizer_, state_));
      RETURN_IF_ERROR(clip::SaveClipModel(
          model_, weights_path_,
          WeightsMetadata({{"val_map10", Fmt(es.val_map10)},
                           {"step", absl::StrCat(state_.step)}})));
      if (fit_.has_value()) {
        RETURN_IF_ERROR(common::WriteFileAtomically(
            options_.output_dir + "/" + kRerankAblation,
            absl::StrCat("validation at step ", state_.step,
                         ", short lists of ", fit_->candidates, ", weights ",
                         fit_->weights.ToString(), "\n", fit_->Table())));
      }
    }
  }
  es.seconds = Seconds(epoch_start, Clock::now());
  epochs_csv_.Add(absl::StrCat(
      es.epoch, ",", es.step, ",", Fmt(es.train_loss), ",", Fmt(es.val_map10),
      ",", Fmt(es.val_recall1), ",", Fmt(es.val_recall5), ",",
      Fmt(es.val_recall10), ",", Fmt(es.val_map10_pedestrian), ",",
      Fmt(es.val_map10_vehicle), ",", Fmt(es.seconds), ",", es.skipped_images,
      ",", Fmt(es.val_map10_routed), ",", Fmt(es.val_map10_reranked), ",",
      Fmt(es.val_map10_routed_reranked)));
  RETURN_IF_ERROR(steps_csv_.Flush());
  RETURN_IF_ERROR(epochs_csv_.Flush());
  RETURN_IF_ERROR(SaveLastCheckpoint());
  return WriteTrainingPlot(options_.output_dir + "/training.png", loss_points_,
                           map_points_);
}

absl::Status Trainer::Impl::FitRerankOnMain(const ValResult& v,
                                            EpochStats& es) {
  if (!heads_ || options_.image_attribute_loss_weight <= 0 ||
      options_.text_attribute_loss_weight <= 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(fit_,
                   FitRerank(*val_, v, heads_, options_.rerank_candidates));
  es.val_map10_routed = fit_->routed.overall.map_at_10;
  es.val_map10_reranked = fit_->reranked.overall.map_at_10;
  es.val_map10_routed_reranked = fit_->routed_reranked.overall.map_at_10;
  Say(absl::StrCat("re-rank fit (", fit_->weights.ToString(), "):\n",
                   fit_->Table()));
  return absl::OkStatus();
}

std::map<std::string, std::string> Trainer::Impl::WeightsMetadata(
    std::map<std::string, std::string> extra) const {
  if (!heads_) return extra;
  extra[rerank::kAttributeLayoutKey] = eval::AttributeLayoutId();
  if (fit_.has_value()) {
    extra["rerank_weights"] = fit_->weights.ToString();
    extra["rerank_candidates"] = absl::StrCat(fit_->candidates);
    for (const auto& [k, value] : fit_->ToMetadata()) extra[k] = value;
  }
  return extra;
}

absl::StatusOr<TrainResult> Trainer::Impl::Finish() {
  if (interrupted_) {
    return absl::FailedPreconditionError("the run was interrupted");
  }
  result_.steps = state_.step;
  result_.weights_path = weights_path_;
  result_.tokenizer_path = options_.output_dir + "/" + kTokenizerFile;
  absl::Status saved = absl::OkStatus();
  if (dist_.is_main()) {
    const auto metadata =
        WeightsMetadata({{"step", absl::StrCat(state_.step)}});
    saved = clip::SaveClipModel(
        model_, options_.output_dir + "/model-last.safetensors", metadata);
    // Without validation (or before its first score) the final weights are
    // the ones to serve.
    if (saved.ok() && (!val_.has_value() || !fs::exists(weights_path_))) {
      saved = clip::SaveClipModel(model_, weights_path_, metadata);
    }
  }
  RETURN_IF_ERROR(comm_->AgreeOn(saved, "writing the final weights"));
  return result_;
}

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const TrainerOptions& options, const DistributedConfig& dist,
    TrainerCallbacks callbacks) {
  auto impl = std::make_unique<Impl>(options, dist, std::move(callbacks));
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

bool Trainer::done() const { return impl_->done(); }

absl::StatusOr<EpochStats> Trainer::RunEpoch() { return impl_->RunEpoch(); }

absl::StatusOr<TrainResult> Trainer::Finish() { return impl_->Finish(); }

absl::StatusOr<TrainResult> Train(const TrainerOptions& options,
                                  const DistributedConfig& dist,
                                  const TrainerCallbacks& callbacks) {
  ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer,
                   Trainer::Create(options, dist, callbacks));
  while (!trainer->done()) {
    RETURN_IF_ERROR(trainer->RunEpoch().status());
  }
  return trainer->Finish();
}

}  // namespace trainer
