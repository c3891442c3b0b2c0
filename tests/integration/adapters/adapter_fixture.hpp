// Loads first-party adapter plugins from the build tree through the real plugin Registry
// and gives them HostServices that record what the plugin did.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "plugin/registry.hpp"

namespace atlas::testing {

// HostServices for tests: llm_complete answers from a script (or a function) and records
// every request; logs and events are recorded too.
class RecordingServices : public plugin::HostServices {
 public:
  std::function<Result<std::string>(std::string_view request)> llm;

  // Queues canned llm_complete replies, served in order.
  void script(std::vector<std::string> replies) {
    std::lock_guard lock(mu_);
    for (auto& r : replies) replies_.push_back(std::move(r));
  }

  Result<std::string> llm_complete(std::string_view plugin_name, const plugin::CallContext*,
                                   std::string_view request_json) override {
    std::function<Result<std::string>(std::string_view)> fn;
    {
      std::lock_guard lock(mu_);
      llm_requests_.emplace_back(request_json);
      if (!replies_.empty()) {
        std::string r = std::move(replies_.front());
        replies_.pop_front();
        return r;
      }
      fn = llm;
    }
    if (fn) return fn(request_json);
    return unavailable("test services: no scripted llm reply left for plugin '" + std::string(plugin_name) + "'");
  }

  void log(std::string_view, const plugin::CallContext*, int32_t, std::string_view message) override {
    std::lock_guard lock(mu_);
    logs_.emplace_back(message);
  }

  std::vector<std::string> llm_requests() const {
    std::lock_guard lock(mu_);
    return llm_requests_;
  }
  std::vector<std::string> logs() const {
    std::lock_guard lock(mu_);
    return logs_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> replies_;
  std::vector<std::string> llm_requests_;
  std::vector<std::string> logs_;
};

// One Registry over the build tree's plugin folder.
inline plugin::Registry& test_registry() {
  static plugin::Registry* registry = [] {
    auto* r = new plugin::Registry();
    plugin::RegistryOptions opts;
    opts.dirs = {ATLAS_TEST_PLUGIN_DIR};
    opts.use_default_dirs = false;
    opts.allow_unsafe = true;  // build trees are often group-writable; trust checks have their own tests
    Status st = r->discover(opts);
    if (!st.is_ok()) ADD_FAILURE() << "plugin discovery failed: " << st.to_string();
    return r;
  }();
  return *registry;
}

inline Result<plugin::AdapterHandle> load_adapter(std::string_view name, std::string_view config_json,
                                                  std::shared_ptr<plugin::HostServices> services) {
  auto& reg = test_registry();
  reg.set_services(std::move(services));
  return reg.create_adapter(name, config_json);
}

inline json::Document parse_or_fail(std::string_view text) {
  auto doc = json::parse(text, "test document");
  EXPECT_TRUE(doc.is_ok()) << doc.status().to_string() << "\n" << text;
  if (!doc.is_ok()) return json::Document();
  return std::move(doc).value();
}

// A fresh temporary folder removed at scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "atlas-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
    path_ = std::filesystem::canonical(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace atlas::testing
