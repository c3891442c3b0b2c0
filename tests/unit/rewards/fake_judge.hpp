// Judges for unit tests: a function of the request decides the reply, calls are counted.
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards::testing {

inline std::string num(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

inline std::string reply(double score, double uncertainty, const std::string& rationale = "ok") {
  return R"({"score":)" + num(score) + R"(,"uncertainty":)" + num(uncertainty) + R"(,"rationale":")" + rationale +
         R"(","principles":[{"name":"correctness","weight":1.0,"description":"d"}]})";
}

// Records every request; the reply comes from `respond(request_doc)`.
struct FakeJudge {
  std::function<Result<std::string>(const json::Document&, const plugin::CallContext&)> respond;
  std::mutex mu;
  std::vector<std::string> requests;
  std::atomic<int> calls{0};

  BoundJudge bind(JudgeSpec spec, bool uses_llm = true, bool batches_samples = false) {
    BoundJudge b;
    b.spec = std::move(spec);
    b.uses_llm = uses_llm;
    b.batches_samples = batches_samples;
    b.call = [this](const plugin::CallContext& ctx, std::string_view req) -> Result<std::string> {
      ++calls;
      {
        std::lock_guard lock(mu);
        requests.emplace_back(req);
      }
      auto doc = json::parse(req, "request");
      if (!doc) return doc.status();
      return respond(doc.value(), ctx);
    };
    return b;
  }
  std::vector<json::Document> parsed_requests() {
    std::lock_guard lock(mu);
    std::vector<json::Document> out;
    for (const auto& r : requests) out.push_back(std::move(json::parse(r).value()));
    return out;
  }
};

// Score by temperature for tier-1 samples; the arbiter's answer for stage "arbiter".
inline std::function<Result<std::string>(const json::Document&, const plugin::CallContext&)> by_temperature(
    double s02, double s05, double s08, double unc, double arbiter_score = 0.42) {
  return [=](const json::Document& d, const plugin::CallContext&) -> Result<std::string> {
    if (json::get_string(d, "stage") == "arbiter") return reply(arbiter_score, 0.05, "arbiter");
    const double t = json::get_double(d, "temperature");
    if (t < 0.3) return reply(s02, unc, "t0.2");
    if (t < 0.6) return reply(s05, unc, "t0.5");
    return reply(s08, unc, "t0.8");
  };
}

// For a judge with ATLAS_CAP_JUDGE_SAMPLES: answers a "temperatures" request with
// {"replies": [...]}, one `single(temperature)` per temperature (an error Status becomes
// {"error": {"code", "message"}}); a request with one "temperature" gets `single` directly.
inline std::function<Result<std::string>(const json::Document&, const plugin::CallContext&)> batched(
    std::function<Result<std::string>(const json::Document&, const plugin::CallContext&)> single) {
  return [single](const json::Document& d, const plugin::CallContext& ctx) -> Result<std::string> {
    const json::Value* temps = json::find(d, "temperatures");
    if (!temps) return single(d, ctx);
    std::string out = R"({"replies":[)";
    for (rapidjson::SizeType i = 0; i < temps->Size(); ++i) {
      json::Document one;
      one.CopyFrom(d, one.GetAllocator());
      one.RemoveMember("temperatures");
      json::set(one, "temperature", (*temps)[i].GetDouble(), one.GetAllocator());
      Result<std::string> r = single(one, ctx);
      if (i > 0) out += ",";
      out += r ? r.value()
               : R"({"error":{"code":")" + std::string(status_code_name(r.status().code())) + R"(","message":)" +
                     json::quote(r.status().message()) + "}}";
    }
    return out + "]}";
  };
}

}  // namespace atlas::rewards::testing
