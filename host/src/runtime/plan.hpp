// Coach-lane plans: parsing a student's (or teacher's) plan reply and checking that it is a
// dependency graph we can execute. Contract: {"steps":[{"id":1,"description":"...",
// "depends_on":[...]}]} (docs/runtime.md, coach lane); a bare list is accepted too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::runtime {

struct PlanStep {
  int id = 0;
  std::string description;
  std::vector<int> depends_on;
  std::string tool;  // optional hint
};

struct Plan {
  std::vector<PlanStep> steps;
};

// Parses a model reply (code fences, prose and trailing commas tolerated). Step ids such as
// 3, "3", "step_3", "s3" become 3; a step without an id gets its 1-based position. Fails
// when no JSON can be recovered or it has no "steps" list.
Result<Plan> parse_plan(std::string_view reply);
// Same, from an already-parsed document.
Result<Plan> plan_from_json(const json::Value& doc);

// Why a plan cannot run as a graph: empty, more than `max_steps` steps ([limits]
// max_plan_steps; 0 = no limit), duplicate ids, unknown dependency, self dependency, cycle.
// OK when it can.
Status check_plan(const Plan& plan, size_t max_steps = 0);

// Topological order of step indexes (only meaningful when check_plan is OK).
std::vector<size_t> topological_order(const Plan& plan);

// The plan used when a reviewed plan cannot run: one step doing the whole task.
Plan single_step_plan(std::string_view task);

json::Value plan_to_json(const Plan& plan, json::Allocator& a);
std::string plan_to_json_text(const Plan& plan);

}  // namespace atlas::runtime
