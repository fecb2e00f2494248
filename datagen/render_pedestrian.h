// Blob figures of pedestrians whose body, clothes and accessories show the
// attribute flags.
#ifndef DATAGEN_RENDER_PEDESTRIAN_H_
#define DATAGEN_RENDER_PEDESTRIAN_H_

#include "datagen/caption_templates.h"
#include "datagen/rng.h"
#include "opencv2/core.hpp"

namespace datagen::internal {

// One pedestrian image (see RenderImage in datagen.h).
cv::Mat RenderPedestrian(const PedestrianFlags& f, Rng& rng);

}  // namespace datagen::internal

#endif  // DATAGEN_RENDER_PEDESTRIAN_H_
