// Adapter `fixture_stuck` whose invoke never returns and never looks at is_cancelled: a plugin
// stuck in its own code. The host must stop waiting for it at the step's deadline.
#include <atlas/sdk.hpp>

#include <condition_variable>
#include <mutex>
#include <string>

namespace {

class FixtureStuck : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"fixture_stuck", "1.0.0", "atlas tests", "MIT",
                                         "Adapter whose invoke blocks forever", 0, nullptr};
  FixtureStuck(const atlas::sdk::Host&, std::string_view) {}

  std::string invoke(atlas::sdk::Call&, std::string_view) override {
    static std::mutex mu;
    static std::condition_variable never;
    std::unique_lock<std::mutex> lock(mu);
    never.wait(lock, [] { return false; });
    return "{}";
  }
};

}  // namespace

ATLAS_PLUGINS(FixtureStuck)
