// The TOML config loader: parse, validate, and print back what was accepted.
#include "config/loader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<atlas::config::ConfigError> errors;
  auto cfg = atlas::config::parse_config(atlas::fuzz::input(data, size), "fuzz.toml", &errors);
  for (const auto& e : errors) (void)e.to_string();
  return 0;
}
