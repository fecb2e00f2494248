// A PNG chart of training progress (OpenCV drawing; no LibTorch).
#ifndef TRAINER_PLOT_H_
#define TRAINER_PLOT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace trainer {

// Two panels against optimiser step: training loss (left) and validation
// mAP@10 (right, with the points labelled). Empty series draw an empty
// panel. Written atomically.
absl::Status WriteTrainingPlot(
    const std::string& path,
    const std::vector<std::pair<double, double>>& loss_by_step,
    const std::vector<std::pair<double, double>>& map_by_step);

}  // namespace trainer

#endif  // TRAINER_PLOT_H_
