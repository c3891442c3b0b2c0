// gtest helper: runs the built atlas-host as a child process (through /bin/sh) in `cwd`, with
// provider keys removed from its environment and `env` ("NAME=value ...") added. Returns the
// exit code (-1 when it did not exit normally) and stdout+stderr.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>

namespace atlas::testing {

inline std::pair<int, std::string> run_cli(const std::filesystem::path& cwd, const std::string& args,
                                           const std::string& env = "") {
  std::string cmd = "cd '" + cwd.string() + "' && env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY " + env +
                    " '" + std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  if (!p) return {-1, out};
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace atlas::testing
