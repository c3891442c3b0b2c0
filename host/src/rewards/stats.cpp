#include "rewards/stats.hpp"

#include <algorithm>
#include <cmath>

namespace atlas::rewards::stats {

std::optional<double> mean(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  double sum = 0.0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

std::optional<double> pstdev(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  if (v.size() == 1) return 0.0;
  const double m = *mean(v);
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size()));
}

std::optional<double> median(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  std::vector<double> s(v);
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
}

std::optional<double> mad(const std::vector<double>& v) {
  auto med = median(v);
  if (!med) return std::nullopt;
  std::vector<double> dev;
  dev.reserve(v.size());
  for (double x : v) dev.push_back(std::fabs(x - *med));
  return median(dev);
}

}  // namespace atlas::rewards::stats
