#include "rewards/drift.hpp"

#include <cmath>

#include "rewards/stats.hpp"

namespace atlas::rewards {
namespace {

constexpr double kMadScale = 1.4826;  // makes the MAD a consistent estimator of sigma for normal data
// A spread this small is rounding noise of identical values (Python's exact pstdev gives 0
// there); dividing by it would turn noise into a huge z-score.
constexpr double kZeroSpread = 1e-12;

std::optional<double> number(const json::Value& v, std::string_view key) {
  const json::Value* m = json::find(v, key);
  if (m && m->IsNumber() && std::isfinite(m->GetDouble())) return m->GetDouble();
  return std::nullopt;
}
std::optional<double> first_of(const json::Value& v, std::string_view a, std::string_view b) {
  auto x = number(v, a);
  return x ? x : number(v, b);
}

MetricSummary summarize(std::vector<double> values) {
  MetricSummary m;
  m.mean = stats::mean(values);
  m.median = stats::median(values);
  m.stddev = stats::pstdev(values);
  m.values = std::move(values);
  return m;
}

std::optional<double> z_score(double x, const MetricSummary& m) {
  if (!m.mean || !m.stddev || *m.stddev <= kZeroSpread) return std::nullopt;
  return (x - *m.mean) / *m.stddev;
}

std::optional<double> mad_z_score(double x, const MetricSummary& m) {
  auto mad = stats::mad(m.values);
  if (!m.median || !mad || *mad <= kZeroSpread) return std::nullopt;
  return (x - *m.median) / (kMadScale * *mad);
}

json::Value opt_value(const std::optional<double>& v) {
  return v ? json::Value(*v) : json::Value(rapidjson::kNullType);
}

std::string payload(const DriftResult& r, const DriftSettings& s, std::string_view learning_key) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "alert", r.alert, a);
  json::set(d, "drift_alert", r.alert, a);
  json::set(d, "reason", r.reason.empty() ? json::Value(rapidjson::kNullType) : json::str(r.reason, a), a);
  json::set(d, "score_delta", opt_value(r.score_delta), a);
  json::set(d, "score_z", opt_value(r.score_z), a);
  json::set(d, "score_mad_z", opt_value(r.score_mad_z), a);
  json::set(d, "uncertainty_delta", opt_value(r.uncertainty_delta), a);
  json::set(d, "uncertainty_z", opt_value(r.uncertainty_z), a);
  json::set(d, "uncertainty_mad_z", opt_value(r.uncertainty_mad_z), a);
  json::set(d, "threshold", s.z_threshold, a);
  json::set(d, "window", s.window, a);
  json::set(d, "learning_key", learning_key, a);
  json::set(d, "baseline_excludes_current_session", true, a);
  json::Value b(rapidjson::kObjectType);
  json::set(b, "window", r.baseline.window, a);
  json::set(b, "sample_count", r.baseline.sample_count, a);
  auto put = [&](const char* prefix, const MetricSummary& m) {
    const std::string p(prefix);
    json::set(b, p + "_mean", opt_value(m.mean), a);
    json::set(b, p + "_median", opt_value(m.median), a);
    json::set(b, p + "_stddev", opt_value(m.stddev), a);
  };
  put("score", r.baseline.score);
  put("uncertainty", r.baseline.uncertainty);
  put("best_uncertainty", r.baseline.best_uncertainty);
  json::set(d, "baseline", std::move(b), a);
  if (!r.message.empty()) json::set(d, "message", r.message, a);
  return json::dump(d);
}

}  // namespace

DriftResult check_drift(const json::Value& current_stats, const std::vector<const json::Value*>& baseline_rows,
                        const DriftSettings& settings, std::string_view learning_key) {
  DriftResult r;
  if (!settings.enabled) return r;
  const auto score = first_of(current_stats, "score", "score_mean");
  if (!score) return r;
  r.checked = true;

  std::vector<double> scores, uncertainties, bests;
  for (const json::Value* row : baseline_rows) {
    if (!row) continue;
    auto s = first_of(*row, "score_mean", "score");
    if (!s) continue;  // a row without a score is not a baseline sample
    scores.push_back(*s);
    if (auto u = number(*row, "uncertainty_mean")) uncertainties.push_back(*u);
    if (auto bu = first_of(*row, "best_uncertainty", "min_uncertainty")) bests.push_back(*bu);
  }
  r.baseline.window = settings.window;
  r.baseline.sample_count = static_cast<int>(scores.size());
  r.baseline.score = summarize(std::move(scores));
  r.baseline.uncertainty = summarize(std::move(uncertainties));
  r.baseline.best_uncertainty = summarize(std::move(bests));

  if (r.baseline.score.mean) {
    r.score_delta = *score - *r.baseline.score.mean;
    r.score_z = z_score(*score, r.baseline.score);
    r.score_mad_z = mad_z_score(*score, r.baseline.score);
  }
  if (auto u = first_of(current_stats, "uncertainty_mean", "best_uncertainty")) {
    const MetricSummary& ub =
        r.baseline.uncertainty.values.empty() ? r.baseline.best_uncertainty : r.baseline.uncertainty;
    if (ub.mean) {
      r.uncertainty_delta = *u - *ub.mean;
      r.uncertainty_z = z_score(*u, ub);
      r.uncertainty_mad_z = mad_z_score(*u, ub);
    }
  }

  if (r.baseline.sample_count < settings.min_baseline) {
    r.reason = "insufficient_baseline";
  } else {
    const std::pair<const char*, std::optional<double>> metrics[] = {{"score_z", r.score_z},
                                                                     {"score_mad_z", r.score_mad_z},
                                                                     {"uncertainty_z", r.uncertainty_z},
                                                                     {"uncertainty_mad_z", r.uncertainty_mad_z}};
    for (const auto& [name, value] : metrics) {
      if (value && std::fabs(*value) >= settings.z_threshold) {
        r.alert = true;
        r.reason = name;
        r.message = "Reward drift alert (" + std::string(name) + ")";
        break;
      }
    }
  }
  r.payload_json = payload(r, settings, learning_key);
  return r;
}

Result<DriftResult> check_drift_json(std::string_view current_stats_json, std::string_view baseline_json,
                                     const DriftSettings& settings, std::string_view learning_key) {
  auto current = json::parse(current_stats_json, "current reward_stats");
  if (!current) return current.status();
  if (!current->IsObject()) return invalid_argument("current reward_stats is not a JSON object");
  auto baseline = json::parse(baseline_json.empty() ? std::string_view("[]") : baseline_json, "reward baseline");
  if (!baseline) return baseline.status();
  const json::Value* rows = &baseline.value();
  if (rows->IsObject()) rows = json::find(*rows, "reward_stats");
  if (!rows || !rows->IsArray()) {
    return invalid_argument("reward baseline must be an array of reward_stats objects or {\"reward_stats\": [...]}");
  }
  std::vector<const json::Value*> ptrs;
  for (const auto& row : rows->GetArray()) {
    if (row.IsObject()) ptrs.push_back(&row);
  }
  return check_drift(current.value(), ptrs, settings, learning_key);
}

}  // namespace atlas::rewards
