#include "common/process_name.hpp"

#include <unistd.h>

#include <cstdio>

namespace atlas {

std::string host_and_pid() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace atlas
