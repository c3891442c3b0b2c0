#include "runtime/preflight.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "common/json.hpp"
#include "common/secrets.hpp"
#include "llm/http_transport.hpp"
#include "llm/wire.hpp"

namespace atlas::runtime {
namespace {

struct RoleModel {
  const char* role;
  const char* section;
  const config::ModelConfig* model;
};

bool uses_llm_judge(const config::RewardsConfig& r) {
  for (const auto* list : {&r.session_judges, &r.step_judges})
    for (const auto& j : *list)
      if (j.plugin == "llm") return true;
  return false;
}

// The model blocks this configuration will call; unconfigured blocks are left to the config
// checks (a role that needs a model and has none is a config error already).
std::vector<RoleModel> roles_in_use(const config::Config& c) {
  std::vector<RoleModel> out;
  auto add = [&](bool used, const char* role, const char* section, const config::ModelConfig& m) {
    if (used && m.configured()) out.push_back({role, section, &m});
  };
  add(true, "student", "[student.llm]", c.student.llm);
  add(c.orchestration.forced_mode != config::Lane::kAuto, "teacher", "[teacher.llm]", c.teacher.llm);
  bool judged = uses_llm_judge(c.rewards);
  add(judged, "judge", "[rewards.small_model]", c.rewards.small_model);
  add(judged, "arbiter", "[rewards.large_model]", c.rewards.large_model);
  add(c.learning.enabled && c.learning.update_enabled, "learning", "[learning.llm]", c.learning.llm);
  add(c.routing.enabled && c.routing.probe == "llm", "probe", "[routing.probe_llm]", c.routing.probe_llm);
  return out;
}

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// What one model-list request found out about an endpoint.
struct EndpointFinding {
  std::string error;                               // "" = reachable and the key accepted
  std::optional<std::vector<std::string>> models;  // nullopt = the server lists no models
};

EndpointFinding probe_endpoint(llm::HttpTransport& http, const llm::HttpRequest& request, llm::WireKind wire) {
  EndpointFinding f;
  llm::HttpResponse resp = http.perform(request);
  if (resp.curl_code != 0) {
    f.error = "endpoint " + request.url + " is unreachable (" + resp.curl_error +
              "); check api_base (or the *_BASE_URL variable) and that the server is running";
    return f;
  }
  if (resp.status == 401 || resp.status == 403) {
    f.error = "endpoint " + request.url + " refused the key (HTTP " + std::to_string(resp.status) +
              "); check the variable api_key_env names and the key's permissions";
    return f;
  }
  if (resp.status < 200 || resp.status >= 300) return f;  // no model list here: reachable is all we learn
  auto doc = json::parse(resp.body, "model list");
  if (!doc.is_ok() || !doc->IsObject()) return f;
  const json::Value* list = json::find(*doc, wire == llm::WireKind::kGemini ? "models" : "data");
  if (!list || !list->IsArray()) return f;
  std::vector<std::string> models;
  for (const auto& m : list->GetArray()) {
    std::string id = json::get_string(m, wire == llm::WireKind::kGemini ? "name" : "id");
    if (id.rfind("models/", 0) == 0) id = id.substr(7);
    if (!id.empty()) models.push_back(std::move(id));
  }
  if (!models.empty()) f.models = std::move(models);
  return f;
}

}  // namespace

std::vector<PreflightProblem> preflight_models(const config::Config& config) {
  std::vector<PreflightProblem> problems;
  llm::HttpTransport http;
  std::map<std::string, EndpointFinding> seen;  // list URL + credentials -> finding
  for (const RoleModel& r : roles_in_use(config)) {
    const config::ModelConfig& m = *r.model;
    auto fail = [&](std::string message) { problems.push_back({r.role, r.section, std::move(message)}); };
    auto wire = llm::wire_for_provider(m.provider);
    if (!wire.is_ok()) {
      fail(wire.status().message());
      continue;
    }
    bool base_from_env = false;
    std::string base =
        trim_slash(m.api_base.empty() ? llm::default_base_url(*wire, m.provider, &base_from_env) : m.api_base);
    bool custom_base = !m.api_base.empty() || base_from_env;
    std::optional<std::string> key;
    if (!m.api_key_env.empty()) key = secrets::read_env_secret(m.api_key_env);
    if (!key && !custom_base) {
      fail("model \"" + m.model + "\" (" + m.provider + "): environment variable " +
           (m.api_key_env.empty() ? std::string("<api_key_env>") : m.api_key_env) +
           " is not set; export it, or set api_base to a local server that needs no key");
      continue;
    }
    llm::HttpRequest req;
    switch (*wire) {
      case llm::WireKind::kOpenAI:
        req.url = base + "/models";
        if (key) req.headers.push_back("Authorization: Bearer " + *key);
        if (!m.organization.empty()) req.headers.push_back("OpenAI-Organization: " + m.organization);
        break;
      case llm::WireKind::kAnthropic:
        req.url = base + "/v1/models?limit=1000";
        if (key) req.headers.push_back("x-api-key: " + *key);
        req.headers.push_back("anthropic-version: 2023-06-01");
        break;
      case llm::WireKind::kGemini:
        req.url = base + "/v1beta/models?pageSize=1000";
        if (key) req.headers.push_back("x-goog-api-key: " + *key);
        break;
    }
    for (const auto& [name, value] : m.additional_headers) req.headers.push_back(name + ": " + value);
    req.connect_timeout_ms = static_cast<long>(std::max(1.0, m.connect_timeout_seconds * 1000.0));
    req.total_timeout_ms = static_cast<long>(std::max(1.0, std::min(m.timeout_seconds, 30.0) * 1000.0));
    std::string cache_key = req.url + "\n" + m.api_key_env;
    for (const auto& h : req.headers) cache_key += "\n" + h;
    auto it = seen.find(cache_key);
    if (it == seen.end()) it = seen.emplace(cache_key, probe_endpoint(http, req, *wire)).first;
    const EndpointFinding& f = it->second;
    if (!f.error.empty()) {
      fail("model \"" + m.model + "\" (" + m.provider + "): " + secrets::redact(f.error));
      continue;
    }
    // Azure lists base models, not the deployment names used as `model`.
    bool deployment_names = m.provider.rfind("azure", 0) == 0;
    if (f.models && !deployment_names && std::find(f.models->begin(), f.models->end(), m.model) == f.models->end()) {
      std::string listed;
      for (size_t i = 0; i < f.models->size() && i < 8; ++i) listed += (i ? ", " : "") + (*f.models)[i];
      if (f.models->size() > 8) listed += ", ...";
      fail("model \"" + m.model + "\" is not among the models " + base + " lists (" + listed +
           "); correct the model name");
    }
  }
  return problems;
}

std::string preflight_message(std::string_view command, const std::vector<PreflightProblem>& problems) {
  std::string out = std::string(command) + ": " + std::to_string(problems.size()) +
                    " model problem(s) found before starting; nothing was run:\n";
  for (const auto& p : problems) out += "  " + p.role + " " + p.section + ": " + p.message + "\n";
  out += "Fix the configuration (or pass --no-preflight to start anyway).\n";
  return out;
}

}  // namespace atlas::runtime
