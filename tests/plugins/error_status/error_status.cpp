// An adapter that fails every call with a retryable status and a message.
#include <atlas/sdk.hpp>

namespace {
class ErrorStatus : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"error_status", "1.0.0", "atlas tests", "MIT",
                                         "Fails with UNAVAILABLE", 0, nullptr};
  ErrorStatus(const atlas::sdk::Host&, std::string_view) {}
  std::string invoke(atlas::sdk::Call&, std::string_view) override {
    throw atlas::sdk::Error(ATLAS_UNAVAILABLE, "the agent backend is down (HTTP 503); retry later");
  }
};
}  // namespace

ATLAS_PLUGIN(ErrorStatus)
