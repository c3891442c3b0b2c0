// Two well-behaved plugins in one library: adapter `fixture_echo` (not thread-safe, so the
// host must serialise its calls) and judge `fixture_judge` (thread-safe).
//
// fixture_echo answers {"content": "<prefix>echo", ...} and reacts to markers in the
// request text so tests can drive the host services:
//   "emit"        -> services.emit_event({"type":"fixture.event"})
//   "log"         -> services.log(info, "fixture log line")
//   "llm"         -> services.llm_complete(...) (fails with the host's status when absent)
//   "concurrency" -> counts overlapping calls on this instance (must stay 0)
#include <atlas/sdk.hpp>

#include <atomic>
#include <string>
#include <thread>

namespace {

// The raw (still JSON-escaped) string value of "key" in a flat JSON object, or "".
std::string raw_string_member(std::string_view json, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\"";
  size_t k = json.find(needle);
  if (k == std::string_view::npos) return "";
  size_t q = json.find('"', json.find(':', k + needle.size()) + 1);
  if (q == std::string_view::npos) return "";
  std::string out;
  for (size_t i = q + 1; i < json.size(); ++i) {
    if (json[i] == '\\' && i + 1 < json.size()) {
      out += json[i];
      out += json[++i];
    } else if (json[i] == '"') {
      break;
    } else {
      out += json[i];
    }
  }
  return out;
}

class FixtureEcho : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{
      "fixture_echo", "1.2.3", "atlas tests", "MIT", "Echo adapter used by the loader tests",
      ATLAS_CAP_CANCEL,
      R"({"type":"object","properties":{"prefix":{"type":"string"},"mode":{"enum":["plain","loud"]},)"
      R"("retries":{"type":"integer","minimum":0,"maximum":5}},"required":["prefix"],"additionalProperties":false})"};

  FixtureEcho(const atlas::sdk::Host& host, std::string_view config) : host_(host) {
    prefix_ = raw_string_member(config, "prefix");
    host_.log(ATLAS_LOG_DEBUG, "fixture_echo created");
  }

  std::string invoke(atlas::sdk::Call& call, std::string_view request) override {
    int overlap = active_.fetch_add(1) > 0 ? 1 : 0;
    if (request.find("concurrency") != std::string_view::npos) {
      // Stay inside the call for a while so that unserialised calls would overlap.
      for (int i = 0; i < 200; ++i) std::this_thread::yield();
    }
    active_.fetch_sub(1);
    violations_ += overlap;
    ++calls_;
    if (request.find("\"emit\"") != std::string_view::npos) call.emit_event(R"({"type":"fixture.event","n":1})");
    if (request.find("\"log\"") != std::string_view::npos) call.log(ATLAS_LOG_INFO, "fixture log line");
    std::string llm;
    if (request.find("\"llm\"") != std::string_view::npos) llm = call.llm_complete(R"({"messages":[]})");
    std::string out = "{\"content\":\"" + prefix_ + "echo\",\"request_bytes\":" + std::to_string(request.size()) +
                      ",\"session_id\":\"" + std::string(call.session_id()) + "\",\"cancelled\":" +
                      (call.cancelled() ? "true" : "false") + ",\"violations\":" + std::to_string(violations_) +
                      ",\"calls\":" + std::to_string(calls_) + ",\"cancels\":" + std::to_string(cancels_.load());
    if (!llm.empty()) out += ",\"llm\":" + llm;
    return out + "}";
  }

  void cancel(atlas::sdk::Call&) override { cancels_.fetch_add(1); }

 private:
  atlas::sdk::Host host_;
  std::string prefix_;
  std::atomic<int> active_{0};
  std::atomic<int> cancels_{0};
  int violations_ = 0;  // only touched inside serialised calls
  int calls_ = 0;
};

class FixtureJudge : public atlas::sdk::Judge {
 public:
  static constexpr atlas::sdk::Info info{"fixture_judge", "1.0.0", "atlas tests", "MIT",
                                         "Constant judge used by the loader tests", ATLAS_CAP_THREAD_SAFE, nullptr};
  FixtureJudge(const atlas::sdk::Host&, std::string_view) {}
  std::string judge(atlas::sdk::Call&, std::string_view) override {
    return R"({"score":0.75,"rationale":"fixture","uncertainty":0.1,"principles":[]})";
  }
};

}  // namespace

ATLAS_PLUGINS(FixtureEcho, FixtureJudge)
