#include "common/category.h"

namespace common {

const char* CategoryName(Category category) {
  switch (category) {
    case Category::kPedestrian:
      return "pedestrian";
    case Category::kVehicle:
      return "vehicle";
    case Category::kUnspecified:
      break;
  }
  return "unspecified";
}

}  // namespace common
