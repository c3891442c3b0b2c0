// An adapter whose constructor throws: the SDK turns it into ATLAS_INTERNAL + message and
// the host reports which plugin failed to start and why.
#include <atlas/sdk.hpp>

#include <stdexcept>

namespace {
class ThrowsInCreate : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"throws_in_create", "1.0.0", "atlas tests", "MIT",
                                         "Fails in its constructor", 0, nullptr};
  ThrowsInCreate(const atlas::sdk::Host&, std::string_view) {
    throw std::runtime_error("cannot reach the agent backend at 127.0.0.1:9 (connection refused)");
  }
  std::string invoke(atlas::sdk::Call&, std::string_view) override { return "{}"; }
};
}  // namespace

ATLAS_PLUGIN(ThrowsInCreate)
