// The trainer's name for the shared image stream (pipeline/image_stream.h),
// which validation and export both read galleries with.
#ifndef TRAINER_IMAGE_STREAM_H_
#define TRAINER_IMAGE_STREAM_H_

#include "pipeline/image_stream.h"

namespace trainer {

using ::pipeline::ImageChunk;
using ::pipeline::ImageStream;
using ::pipeline::ImageStreamOptions;

}  // namespace trainer

#endif  // TRAINER_IMAGE_STREAM_H_
