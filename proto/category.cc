#include "proto/category.h"

namespace retrieval_proto {

common::Category FromProto(int category) {
  switch (category) {
    case retrieval::v1::CATEGORY_PEDESTRIAN:
      return common::Category::kPedestrian;
    case retrieval::v1::CATEGORY_VEHICLE:
      return common::Category::kVehicle;
    default:
      return common::Category::kUnspecified;
  }
}

retrieval::v1::Category ToProto(common::Category category) {
  switch (category) {
    case common::Category::kPedestrian:
      return retrieval::v1::CATEGORY_PEDESTRIAN;
    case common::Category::kVehicle:
      return retrieval::v1::CATEGORY_VEHICLE;
    case common::Category::kUnspecified:
      break;
  }
  return retrieval::v1::CATEGORY_UNSPECIFIED;
}

}  // namespace retrieval_proto
