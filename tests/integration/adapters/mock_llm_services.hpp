// HostServices whose llm_complete is the host's real service (llm::complete_json over the
// process-wide provider client), with every model reference resolved to mock-llm.
#pragma once

#include <mutex>
#include <vector>

#include "llm/llm_json.hpp"
#include "plugin/handles.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::testing {

class MockLlmServices : public plugin::HostServices {
 public:
  MockLlmServices(const MockLlm& mock, std::string provider) : mock_(mock), provider_(std::move(provider)) {}

  Result<std::string> llm_complete(std::string_view, const plugin::CallContext*, std::string_view request_json) override {
    llm::ModelResolver resolver = [this](std::string_view ref) -> Result<config::ModelConfig> {
      if (ref != "student") return not_found("test resolver knows only 'student', not '" + std::string(ref) + "'");
      return mock_.model(provider_);
    };
    llm::CallRecord record;
    auto out = llm::complete_json(*llm::default_client(), resolver, request_json, &record);
    std::lock_guard lock(mu_);
    records_.push_back(record);
    return out;
  }

  std::vector<llm::CallRecord> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  const MockLlm& mock_;
  std::string provider_;
  mutable std::mutex mu_;
  std::vector<llm::CallRecord> records_;
};

}  // namespace atlas::testing
