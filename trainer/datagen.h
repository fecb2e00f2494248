// The trainer's names for the synthetic dataset generator (datagen/datagen.h),
// which its tests train on.
#ifndef TRAINER_DATAGEN_H_
#define TRAINER_DATAGEN_H_

#include "datagen/datagen.h"

namespace trainer {

using ::datagen::DatagenOptions;
using ::datagen::GenerateDataset;

}  // namespace trainer

#endif  // TRAINER_DATAGEN_H_
