#include "server/retrieval_api.h"

#include <glog/logging.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clip/image_preprocess.h"
#include "common/status_macros.h"
#include "eval/attributes.h"
#include "proto/category.h"
#include "server/request_validation.h"

namespace server {
namespace {

namespace v1 = retrieval::v1;

bool HasConditions(const v1::SearchRequest& r) {
  if (!r.has_filter()) return false;
  const v1::AttributeFilter& f = r.filter();
  return !f.vehicle_color().empty() || !f.vehicle_type().empty() ||
         !f.vehicle_brand().empty() || !f.pedestrian_flags().empty();
}

// Decodes and preprocesses `bytes` as the version's gallery was at export.
absl::Status PreprocessQueryImage(const std::string& bytes,
                                  const ServedModel& model,
                                  const std::string& field,
                                  std::vector<float>* pixels) {
  if (bytes.size() > static_cast<size_t>(kMaxImageBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", bytes.size(), " bytes, the limit is ", kMaxImageBytes));
  }
  clip::PreprocessOptions options;
  options.resolution =
      static_cast<int>(model.encoder->config().image_resolution);
  auto mode = clip::ParseResizeMode(model.manifest.resize_mode);
  if (!mode.ok()) {
    return absl::InternalError(absl::StrCat("model version ", model.version,
                                            ": ", mode.status().message()));
  }
  options.mode = *mode;
  auto rgb = clip::DecodeImageBytes(bytes, field, options.max_pixels);
  if (!rgb.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", rgb.status().message()));
  }
  pixels->resize(3 * options.resolution * options.resolution);
  absl::Status st = clip::PreprocessImage(*rgb, options, pixels->data());
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", st.message()));
  }
  return absl::OkStatus();
}

// The conditions of a request's filter. FAILED_PRECONDITION when the
// version records no attributes.
absl::Status ToConditions(const v1::SearchRequest& r, const ServedModel& model,
                          const std::string& prefix,
                          rerank::AttributeConditions* out) {
  if (!HasConditions(r)) return absl::OkStatus();
  const v1::AttributeFilter& f = r.filter();
  std::map<std::string, bool> flags(f.pedestrian_flags().begin(),
                                    f.pedestrian_flags().end());
  ASSIGN_OR_RETURN(*out, rerank::MakeConditions(
                             f.vehicle_color(), f.vehicle_type(),
                             f.vehicle_brand(), flags, prefix + "filter."));
  if (model.gallery_attributes == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        prefix, "filter: model version ", model.version,
        " records no image attributes (it has no attribute heads)"));
  }
  return absl::OkStatus();
}

}  // namespace

RetrievalApi::RetrievalApi(Batcher* batcher, ModelManager* models,
                           bool image_queries)
    : batcher_(batcher), models_(models), image_queries_(image_queries) {}

absl::StatusOr<std::shared_ptr<const ServedModel>> RetrievalApi::ResolveVersion(
    int64_t version, const std::string& field) const {
  RETURN_IF_ERROR(ValidateModelVersion(version, field));
  auto model = models_->Get(version);
  if (absl::IsNotFound(model.status())) {
    return absl::NotFoundError(
        absl::StrCat(field, ": version ", version, " is not loaded (loaded: ",
                     absl::StrJoin(models_->LoadedVersions(), ", "), ")"));
  }
  return model;
}

namespace {

// Validates one SearchRequest (fields prefixed with `prefix`) into a query
// for `model`.
absl::Status ToQuery(const v1::SearchRequest& r, const std::string& prefix,
                     const ServedModel& model, bool image_queries, Query* q) {
  const bool has_text = !r.text().empty();
  const bool has_image = !r.image().empty();
  const bool has_embedding = r.embedding_size() > 0;
  RETURN_IF_ERROR(
      ValidateQueryKind(has_text, has_image, has_embedding, prefix));
  RETURN_IF_ERROR(ValidateTopK(r.top_k(), prefix + "top_k", &q->top_k));
  RETURN_IF_ERROR(ValidateOffset(r.offset(), q->top_k, prefix + "offset"));
  q->offset = r.offset();
  RETURN_IF_ERROR(ValidateCategory(r.category(), prefix + "category"));
  q->category = retrieval_proto::FromProto(r.category());
  q->route = r.category() == v1::CATEGORY_AUTO;
  if (has_text) {
    RETURN_IF_ERROR(ValidateText(r.text(), prefix + "text"));
    q->text = r.text();
  } else if (has_image) {
    if (!image_queries || !model.encoder->has_image_tower()) {
      return absl::UnimplementedError(
          absl::StrCat(prefix,
                       "image: this server does not take image "
                       "queries (started with --image_queries=false)"));
    }
    RETURN_IF_ERROR(
        PreprocessQueryImage(r.image(), model, prefix + "image", &q->pixels));
  } else {
    RETURN_IF_ERROR(ValidateEmbedding(
        absl::MakeConstSpan(r.embedding().data(), r.embedding_size()),
        model.index->dim(), prefix + "embedding", &q->embedding));
  }
  return ToConditions(r, model, prefix, &q->conditions);
}

void FillAttributes(const ServedModel& model, int64_t row,
                    v1::ImageAttributes* out) {
  const rerank::RecordedAttributes& a = model.gallery_attributes->row(row);
  out->set_category(retrieval_proto::ToProto(a.category));
  if (a.category == common::Category::kVehicle) {
    out->set_vehicle_color(
        eval::VehicleClassName(eval::VehicleField::kColor, a.vehicle[0]));
    out->set_vehicle_type(
        eval::VehicleClassName(eval::VehicleField::kType, a.vehicle[1]));
    out->set_vehicle_brand(
        eval::VehicleClassName(eval::VehicleField::kBrand, a.vehicle[2]));
  } else {
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      if (a.flags & (1u << f)) {
        out->add_pedestrian_flags(rerank::PedestrianFlagName(f));
      }
    }
  }
}

void FillResponse(const BatchResult& result, size_t i,
                  v1::SearchResponse* out) {
  const ServedModel& model = *result.model;
  const QueryResult& r = result.results[i];
  out->set_model_version(model.version);
  out->set_routed_category(retrieval_proto::ToProto(r.category));
  out->set_num_candidates(r.num_candidates);
  for (const RankedHit& h : r.hits) {
    auto* hit = out->add_hits();
    hit->set_image_name(model.index->names()[h.row]);
    hit->set_score(h.score);
    hit->set_similarity(h.cosine);
    hit->set_category(retrieval_proto::ToProto(model.index->category(h.row)));
    if (model.gallery_attributes != nullptr) {
      FillAttributes(model, h.row, hit->mutable_attributes());
    }
  }
}

CallInfo ToCallInfo(const ApiCall& call) {
  return CallInfo{call.connection, call.cancelled};
}

}  // namespace

void RetrievalApi::Search(const v1::SearchRequest& request, const ApiCall& call,
                          Callback<v1::SearchResponse> done) {
  auto model = ResolveVersion(request.model_version());
  if (!model.ok()) return done(model.status());
  std::vector<Query> queries(1);
  absl::Status st = ToQuery(request, "", **model, image_queries_, &queries[0]);
  if (!st.ok()) return done(st);
  batcher_->Submit(
      *model, std::move(queries), call.deadline,
      [done = std::move(done)](absl::StatusOr<BatchResult> result) {
        if (!result.ok()) return done(result.status());
        v1::SearchResponse out;
        FillResponse(*result, 0, &out);
        done(std::move(out));
      },
      ToCallInfo(call));
}

void RetrievalApi::BatchSearch(const v1::BatchSearchRequest& request,
                               const ApiCall& call,
                               Callback<v1::BatchSearchResponse> done) {
  absl::Status st = ValidateBatchSize(request.requests_size());
  if (!st.ok()) return done(st);
  if (request.requests_size() == 0) return done(v1::BatchSearchResponse());
  const int64_t version = request.requests(0).model_version();
  auto model = ResolveVersion(version, "requests[0].model_version");
  if (!model.ok()) return done(model.status());
  std::vector<Query> queries(request.requests_size());
  for (int i = 0; i < request.requests_size(); ++i) {
    const std::string prefix = absl::StrCat("requests[", i, "].");
    const v1::SearchRequest& r = request.requests(i);
    if (r.model_version() != version) {
      return done(absl::InvalidArgumentError(
          absl::StrCat(prefix, "model_version: ", r.model_version(),
                       " differs from requests[0].model_version ", version,
                       "; one call is answered by one version")));
    }
    st = ToQuery(r, prefix, **model, image_queries_, &queries[i]);
    if (!st.ok()) return done(st);
  }
  const size_t n = queries.size();
  batcher_->Submit(
      *model, std::move(queries), call.deadline,
      [n, done = std::move(done)](absl::StatusOr<BatchResult> result) {
        if (!result.ok()) return done(result.status());
        v1::BatchSearchResponse out;
        for (size_t i = 0; i < n; ++i) {
          FillResponse(*result, i, out.add_responses());
        }
        done(std::move(out));
      },
      ToCallInfo(call));
}

void RetrievalApi::Encode(const v1::EncodeRequest& request, const ApiCall& call,
                          Callback<v1::EncodeResponse> done) {
  if (request.texts_size() == 0 && request.images_size() == 0) {
    return done(absl::InvalidArgumentError(
        "texts, images: both are empty; give at least one text or image"));
  }
  if (request.texts_size() > kMaxEncodeTexts) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("texts: ", request.texts_size(), " texts, the limit is ",
                     kMaxEncodeTexts)));
  }
  if (request.images_size() > kMaxEncodeImages) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("images: ", request.images_size(),
                     " images, the limit is ", kMaxEncodeImages)));
  }
  int64_t image_bytes = 0;
  for (const std::string& image : request.images()) {
    image_bytes += static_cast<int64_t>(image.size());
  }
  if (image_bytes > kMaxEncodeImageBytes) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("images: ", image_bytes, " bytes in all, the limit is ",
                     kMaxEncodeImageBytes)));
  }
  auto model = ResolveVersion(request.model_version());
  if (!model.ok()) return done(model.status());
  std::vector<Query> queries;
  for (int i = 0; i < request.texts_size(); ++i) {
    absl::Status st =
        ValidateText(request.texts(i), absl::StrCat("texts[", i, "]"));
    if (!st.ok()) return done(st);
    Query q;
    q.text = request.texts(i);
    q.encode_only = true;
    queries.push_back(std::move(q));
  }
  for (int i = 0; i < request.images_size(); ++i) {
    const std::string field = absl::StrCat("images[", i, "]");
    if (!image_queries_ || !(*model)->encoder->has_image_tower()) {
      return done(absl::UnimplementedError(
          absl::StrCat(field,
                       ": this server does not encode images (started "
                       "with --image_queries=false)")));
    }
    Query q;
    absl::Status st =
        PreprocessQueryImage(request.images(i), **model, field, &q.pixels);
    if (!st.ok()) return done(st);
    q.encode_only = true;
    queries.push_back(std::move(q));
  }
  const int texts = request.texts_size();
  batcher_->Submit(
      *model, std::move(queries), call.deadline,
      [texts, done = std::move(done)](absl::StatusOr<BatchResult> result) {
        if (!result.ok()) return done(result.status());
        v1::EncodeResponse out;
        out.set_model_version(result->model->version);
        for (size_t i = 0; i < result->results.size(); ++i) {
          const std::vector<float>& e = result->results[i].embedding;
          auto* emb = static_cast<int>(i) < texts ? out.add_text_embeddings()
                                                  : out.add_image_embeddings();
          emb->mutable_values()->Assign(e.begin(), e.end());
        }
        done(std::move(out));
      },
      ToCallInfo(call));
}

absl::StatusOr<v1::GetModelInfoResponse> RetrievalApi::GetModelInfo(
    const v1::GetModelInfoRequest& request) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const ServedModel> model,
                   ResolveVersion(request.model_version()));
  v1::GetModelInfoResponse out;
  out.set_model_version(model->version);
  out.set_model_name(model->model_name);
  out.set_architecture(model->manifest.architecture_description);
  out.set_embedding_dim(static_cast<int32_t>(model->index->dim()));
  out.set_num_images(model->index->size());
  out.set_index_type(model->manifest.index_type);
  out.set_metric(model->manifest.metric);
  out.set_created_at(model->manifest.created_at);
  out.set_num_pedestrian_images(
      model->index->CountOf(gallery::Category::kPedestrian));
  out.set_num_vehicle_images(
      model->index->CountOf(gallery::Category::kVehicle));
  out.set_has_attribute_heads(model->has_attribute_heads());
  if (model->has_attribute_heads()) {
    out.set_rerank_weights(model->rerank_weights.ToString());
    v1::AttributeVocabulary* vocab = out.mutable_attribute_vocabulary();
    const std::pair<eval::VehicleField,
                    google::protobuf::RepeatedPtrField<std::string>*>
        fields[] = {
            {eval::VehicleField::kColor, vocab->mutable_vehicle_colors()},
            {eval::VehicleField::kType, vocab->mutable_vehicle_types()},
            {eval::VehicleField::kBrand, vocab->mutable_vehicle_brands()}};
    for (const auto& [field, words] : fields) {
      for (int c = 0; c < eval::VehicleFieldClasses(field); ++c) {
        *words->Add() = eval::VehicleClassName(field, c);
      }
    }
    for (int f = 0; f < eval::kNumPedestrianFlags; ++f) {
      vocab->add_pedestrian_flags(rerank::PedestrianFlagName(f));
    }
  }
  out.set_rerank_candidates(model->rerank_candidates);
  for (int64_t v : models_->LoadedVersions()) out.add_loaded_versions(v);
  out.set_default_version(models_->DefaultVersion());
  out.set_image_queries(image_queries_ && model->encoder->has_image_tower());
  out.set_memory_bytes(model->memory_bytes);
  out.set_memory_file_bytes(model->memory_file_bytes);
  out.set_index_mapped_bytes(model->index->mapped_bytes());
  return out;
}

}  // namespace server
