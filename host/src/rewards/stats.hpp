// Small statistics used by aggregation and drift. Population statistics, as Atlas uses
// Python's statistics.pstdev / median.
#pragma once

#include <optional>
#include <vector>

namespace atlas::rewards::stats {

std::optional<double> mean(const std::vector<double>& v);
// Population standard deviation; 0.0 for one value; nullopt for none.
std::optional<double> pstdev(const std::vector<double>& v);
// Median (mean of the two middle values for an even count); nullopt for none.
std::optional<double> median(const std::vector<double>& v);
// Median absolute deviation from the median; nullopt for none.
std::optional<double> mad(const std::vector<double>& v);

}  // namespace atlas::rewards::stats
