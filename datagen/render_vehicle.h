// Side views of vehicles whose body colour, silhouette and brand emblem show
// the attribute.
#ifndef DATAGEN_RENDER_VEHICLE_H_
#define DATAGEN_RENDER_VEHICLE_H_

#include "datagen/caption_templates.h"
#include "datagen/rng.h"
#include "opencv2/core.hpp"

namespace datagen::internal {

// Vehicle types in the order of VehicleTypeNames().
enum VehicleType { kBus = 0, kMicrobus, kMinivan, kSUV, kSedan, kTruck };

// One vehicle image (see RenderImage in datagen.h).
cv::Mat RenderVehicle(const VehicleAttribute& attr, Rng& rng);

}  // namespace datagen::internal

#endif  // DATAGEN_RENDER_VEHICLE_H_
