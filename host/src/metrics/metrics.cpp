#include "metrics/metrics.hpp"

#include <cmath>
#include <cstdio>

#include "common/json.hpp"

namespace atlas::metrics {
namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void label_text(std::string& out, const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (extra) one(extra->first, extra->second);
  out += '}';
}

std::string help_text(std::string_view h) {
  std::string out;
  for (char c : h) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

Family::Family(std::string name, std::string help, Kind kind, std::vector<double> buckets)
    : name_(std::move(name)), help_(std::move(help)), kind_(kind), buckets_(std::move(buckets)) {}

void Family::inc(const Labels& labels, double amount) {
  if (kind_ == Kind::kCounter && !(amount >= 0)) return;  // counters only go up
  std::lock_guard g(mu_);
  series_[labels].value += amount;
}

void Family::set(const Labels& labels, double value) {
  std::lock_guard g(mu_);
  series_[labels].value = value;
}

void Family::observe(const Labels& labels, double value) {
  std::lock_guard g(mu_);
  Series& s = series_[labels];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(buckets_.size(), 0.0);
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (value <= buckets_[i]) s.bucket_counts[i] += 1;
  s.sum += value;
  s.count += 1;
}

void Family::clear() {
  std::lock_guard g(mu_);
  series_.clear();
}

void Family::render(std::string& out) const {
  std::lock_guard g(mu_);
  const char* type = kind_ == Kind::kCounter ? "counter" : kind_ == Kind::kGauge ? "gauge" : "histogram";
  out += "# HELP " + name_ + " " + help_text(help_) + "\n";
  out += "# TYPE " + name_ + " " + type + "\n";
  for (const auto& [labels, s] : series_) {
    if (kind_ != Kind::kHistogram) {
      out += name_;
      label_text(out, labels);
      out += " " + number(s.value) + "\n";
      continue;
    }
    for (size_t i = 0; i < buckets_.size(); ++i) {  // each bucket counts observations <= le
      std::pair<std::string, std::string> le{"le", number(buckets_[i])};
      out += name_ + "_bucket";
      label_text(out, labels, &le);
      out += " " + number(s.bucket_counts.empty() ? 0 : s.bucket_counts[i]) + "\n";
    }
    std::pair<std::string, std::string> inf{"le", "+Inf"};
    out += name_ + "_bucket";
    label_text(out, labels, &inf);
    out += " " + number(s.count) + "\n";
    out += name_ + "_sum";
    label_text(out, labels);
    out += " " + number(s.sum) + "\n";
    out += name_ + "_count";
    label_text(out, labels);
    out += " " + number(s.count) + "\n";
  }
}

Family& Registry::family(const std::string& name, const std::string& help, Family::Kind kind,
                         std::vector<double> buckets) {
  std::lock_guard g(mu_);
  auto& f = families_[name];
  if (!f) f = std::make_unique<Family>(name, help, kind, std::move(buckets));
  return *f;
}

Family& Registry::counter(const std::string& name, const std::string& help) {
  return family(name, help, Family::Kind::kCounter, {});
}
Family& Registry::gauge(const std::string& name, const std::string& help) {
  return family(name, help, Family::Kind::kGauge, {});
}
Family& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> buckets) {
  return family(name, help, Family::Kind::kHistogram, std::move(buckets));
}

int Registry::add_collector(std::function<void(Registry&)> collect) {
  std::lock_guard g(collect_mu_);
  collectors_[next_id_] = std::move(collect);
  return next_id_++;
}

void Registry::remove_collector(int id) {
  std::lock_guard g(collect_mu_);
  collectors_.erase(id);
}

std::string Registry::render() {
  {
    std::lock_guard g(collect_mu_);
    for (auto& [id, collect] : collectors_) {
      try {
        collect(*this);
      } catch (...) {
        counter("atlas_metrics_collector_errors_total", "Collectors that failed while the page was rendered").inc();
      }
    }
  }
  std::string out;
  std::lock_guard g(mu_);
  for (const auto& [name, f] : families_) f->render(out);
  return out;
}

Registry& global() {
  static Registry* r = new Registry();  // never destroyed: threads may record while the process exits
  return *r;
}

void observe_event(std::string_view type, std::string_view role, std::string_view data_json) {
  if (type != "llm_call" && type != "reward") return;
  auto doc = json::parse(data_json, "event", 64);
  if (!doc || !doc->IsObject()) return;
  Registry& r = global();
  if (type == "reward") {
    const json::Value* e = json::find(*doc, "escalated");
    if (e && e->IsBool() && e->GetBool())
      r.counter("atlas_judge_escalations_total", "Judge cascades that escalated to the large model").inc();
    return;
  }
  std::string call_role = json::get_string(*doc, "role");
  if (call_role.empty()) call_role = std::string(role);
  const std::string provider = json::get_string(*doc, "provider");
  const std::string outcome = json::get_string(*doc, "outcome");
  static const std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  if (const json::Value* l = json::find(*doc, "latency_ms"); l && l->IsNumber())
    r.histogram("atlas_model_call_duration_seconds", "Model call latency, retries included", buckets)
        .observe({{"provider", provider}, {"role", call_role}}, l->GetDouble() / 1000.0);
  r.counter("atlas_model_calls_total", "Model calls by provider, role and outcome")
      .inc({{"provider", provider}, {"role", call_role}, {"outcome", outcome}});
  if (const json::Value* u = json::find(*doc, "usage"); u && u->IsObject()) {
    Family& tokens = r.counter("atlas_tokens_total", "Tokens by role and kind (prompt, completion)");
    for (const char* kind : {"prompt", "completion"}) {
      const json::Value* n = json::find(*u, std::string(kind) + "_tokens");
      if (n && n->IsNumber() && n->GetDouble() > 0) tokens.inc({{"role", call_role}, {"kind", kind}}, n->GetDouble());
    }
  }
  if (const json::Value* c = json::find(*doc, "cost_usd"); c && c->IsNumber())
    r.counter("atlas_cost_usd_total", "Model cost in US dollars by role (models with a price)")
        .inc({{"role", call_role}}, c->GetDouble());
}

void observe_session(std::string_view lane, std::string_view outcome) {
  global()
      .counter("atlas_sessions_total", "Sessions ended, by lane and outcome")
      .inc({{"lane", lane.empty() ? "none" : std::string(lane)}, {"outcome", std::string(outcome)}});
}

void observe_plugin_crash(std::string_view plugin) {
  global()
      .counter("atlas_plugin_crashes_total", "Process-isolated plugin workers that died or were killed")
      .inc({{"plugin", std::string(plugin)}});
}

}  // namespace atlas::metrics
