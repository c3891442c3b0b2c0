// An adapter that reports success but writes text that is not JSON.
#include <atlas/sdk.hpp>

namespace {
class InvalidJson : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"invalid_json", "1.0.0", "atlas tests", "MIT",
                                         "Answers with something that is not JSON", 0, nullptr};
  InvalidJson(const atlas::sdk::Host&, std::string_view) {}
  std::string invoke(atlas::sdk::Call&, std::string_view) override { return "Sure! Here is the answer: {content: 42"; }
};
}  // namespace

ATLAS_PLUGIN(InvalidJson)
