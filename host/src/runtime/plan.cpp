#include "runtime/plan.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace atlas::runtime {
namespace {

// "step_3", "Step 3", "s3", "#3", "3" -> 3. Only a non-digit prefix is removed (Atlas
// strips the characters s,t,e,p,_ anywhere, which mangles ids; we do not).
std::optional<int> parse_id(const json::Value& v) {
  // Numbers outside int are no step id (a model may write 1e38): refused, never converted.
  constexpr double kMin = std::numeric_limits<int>::min(), kMax = std::numeric_limits<int>::max();
  if (v.IsInt64()) {
    int64_t n = v.GetInt64();
    if (n < kMin || n > kMax) return std::nullopt;
    return static_cast<int>(n);
  }
  if (v.IsNumber()) {
    double d = v.GetDouble();
    if (!(d >= kMin && d <= kMax) || d != std::floor(d)) return std::nullopt;
    return static_cast<int>(d);
  }
  if (!v.IsString()) return std::nullopt;
  std::string_view s(v.GetString(), v.GetStringLength());
  size_t i = 0;
  while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == s.size()) return std::nullopt;
  size_t j = i;
  while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
  if (j != s.size() || j - i > 9) return std::nullopt;
  return std::stoi(std::string(s.substr(i, j - i)));
}

}  // namespace

Result<Plan> plan_from_json(const json::Value& doc) {
  const json::Value* steps = nullptr;
  if (doc.IsArray()) steps = &doc;
  else if (doc.IsObject()) steps = json::find(doc, "steps");
  if (!steps || !steps->IsArray())
    return invalid_argument("plan has no \"steps\" list (expected {\"steps\":[{\"id\":1,\"description\":\"...\",\"depends_on\":[]}]})");
  Plan plan;
  int position = 0;
  for (const auto& s : steps->GetArray()) {
    ++position;
    PlanStep step;
    if (s.IsString()) {
      step.id = position;
      step.description.assign(s.GetString(), s.GetStringLength());
      plan.steps.push_back(std::move(step));
      continue;
    }
    if (!s.IsObject()) return invalid_argument("plan step " + std::to_string(position) + " is not an object");
    const json::Value* id = json::find(s, "id");
    auto parsed = id ? parse_id(*id) : std::optional<int>(position);
    if (!parsed) return invalid_argument("plan step " + std::to_string(position) + " has an id that is not a step id (a whole number within int range): " + json::dump(*id));
    step.id = *parsed;
    step.description = json::get_string(s, "description");
    if (step.description.empty()) step.description = json::get_string(s, "task");
    if (const json::Value* t = json::find(s, "tool"); t && t->IsString()) step.tool = t->GetString();
    if (const json::Value* deps = json::find(s, "depends_on"); deps && deps->IsArray()) {
      for (const auto& d : deps->GetArray()) {
        auto dep = parse_id(d);
        if (!dep) return invalid_argument("plan step " + std::to_string(step.id) + " has a dependency that is not a step id: " + json::dump(d));
        step.depends_on.push_back(*dep);
      }
    } else if (deps && (deps->IsInt64() || deps->IsString())) {
      if (auto dep = parse_id(*deps)) step.depends_on.push_back(*dep);
    }
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

Result<Plan> parse_plan(std::string_view reply) {
  // A bare list is a plan too.
  std::string_view trimmed = reply;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.remove_prefix(1);
  if (!trimmed.empty() && trimmed.front() == '[') {
    json::Document doc;
    sdk::parse_json<rapidjson::kParseTrailingCommasFlag>(doc, trimmed, json::kMaxInputDepth);
    if (!doc.HasParseError()) return plan_from_json(doc);
  }
  auto doc = json::parse_lenient_object(reply);
  if (!doc) return doc.status();
  return plan_from_json(*doc);
}

Status check_plan(const Plan& plan, size_t max_steps) {
  if (plan.steps.empty()) return invalid_argument("the plan has no steps");
  if (max_steps > 0 && plan.steps.size() > max_steps)
    return resource_exhausted("the plan has " + std::to_string(plan.steps.size()) + " steps, more than [limits] "
                              "max_plan_steps = " + std::to_string(max_steps));
  std::map<int, size_t> index;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (!index.emplace(plan.steps[i].id, i).second)
      return invalid_argument("step id " + std::to_string(plan.steps[i].id) + " is used by more than one step");
  }
  for (const auto& s : plan.steps) {
    for (int d : s.depends_on) {
      if (d == s.id) return invalid_argument("step " + std::to_string(s.id) + " depends on itself");
      if (!index.count(d))
        return invalid_argument("step " + std::to_string(s.id) + " depends on unknown step " + std::to_string(d));
    }
  }
  if (topological_order(plan).size() != plan.steps.size()) {
    // Name the steps on the cycle (those never freed).
    auto order = topological_order(plan);
    std::set<size_t> done(order.begin(), order.end());
    std::string ids;
    for (size_t i = 0; i < plan.steps.size(); ++i)
      if (!done.count(i)) ids += (ids.empty() ? "" : ", ") + std::to_string(plan.steps[i].id);
    return invalid_argument("the plan's dependencies form a cycle (steps " + ids + ")");
  }
  return Status::ok();
}

std::vector<size_t> topological_order(const Plan& plan) {
  std::map<int, size_t> index;
  for (size_t i = 0; i < plan.steps.size(); ++i) index.emplace(plan.steps[i].id, i);
  std::vector<int> pending(plan.steps.size(), 0);
  std::vector<std::vector<size_t>> dependents(plan.steps.size());
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    for (int d : plan.steps[i].depends_on) {
      auto it = index.find(d);
      if (it == index.end()) continue;
      ++pending[i];
      dependents[it->second].push_back(i);
    }
  }
  std::vector<size_t> order, ready;
  for (size_t i = 0; i < plan.steps.size(); ++i)
    if (pending[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    size_t i = ready.front();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t d : dependents[i])
      if (--pending[d] == 0) ready.push_back(d);
  }
  return order;
}

Plan single_step_plan(std::string_view task) {
  Plan p;
  PlanStep s;
  s.id = 1;
  s.description = std::string(task);
  p.steps.push_back(std::move(s));
  return p;
}

json::Value plan_to_json(const Plan& plan, json::Allocator& a) {
  json::Value out(rapidjson::kObjectType);
  json::Value steps(rapidjson::kArrayType);
  for (const auto& s : plan.steps) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("id", s.id, a);
    o.AddMember("description", json::str(s.description, a), a);
    json::Value deps(rapidjson::kArrayType);
    for (int d : s.depends_on) deps.PushBack(d, a);
    o.AddMember("depends_on", deps, a);
    if (!s.tool.empty()) o.AddMember("tool", json::str(s.tool, a), a);
    else o.AddMember("tool", json::Value(rapidjson::kNullType), a);
    steps.PushBack(o, a);
  }
  out.AddMember("steps", steps, a);
  return out;
}

std::string plan_to_json_text(const Plan& plan) {
  json::Document d;
  json::Value v = plan_to_json(plan, d.GetAllocator());
  return json::dump(v);
}

}  // namespace atlas::runtime
