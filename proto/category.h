// The one conversion between the API's retrieval.v1.Category and the
// gallery's common::Category.
#ifndef PROTO_CATEGORY_H_
#define PROTO_CATEGORY_H_

#include "common/category.h"
#include "retrieval/v1/retrieval.pb.h"

namespace retrieval_proto {

// CATEGORY_AUTO (a request to route, which the server resolves itself) and
// values outside the enum (validated away before this) map to unspecified.
common::Category FromProto(int category);
retrieval::v1::Category ToProto(common::Category category);

}  // namespace retrieval_proto

#endif  // PROTO_CATEGORY_H_
