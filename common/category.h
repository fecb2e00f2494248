// The image categories of the gallery and the queries: the vocabulary that
// the label readers (eval/), the index (index/) and the server share.
// Conversions to and from the API's enum are in proto/category.h.
#ifndef COMMON_CATEGORY_H_
#define COMMON_CATEGORY_H_

namespace common {

enum class Category { kUnspecified, kPedestrian, kVehicle };

// "unspecified", "pedestrian" or "vehicle".
const char* CategoryName(Category category);

}  // namespace common

#endif  // COMMON_CATEGORY_H_
