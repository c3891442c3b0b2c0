// Shared by the fuzz targets: the input as a string_view, and quiet logs (a warning per input
// would slow libFuzzer down and bury its report).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/log.hpp"

namespace atlas::fuzz {

inline std::string_view input(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline int quiet() {
  log::set_level(log::Level::kOff);
  return 0;
}

}  // namespace atlas::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return atlas::fuzz::quiet();
}
