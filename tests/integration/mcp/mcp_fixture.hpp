// Helpers for the MCP tests: the npm servers (installed once per build tree with npm ci,
// under a lock) and the Python test server.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

#include "integration/adapters/adapter_fixture.hpp"
#include "mcp/mcp_client.hpp"

namespace atlas::testing {

inline const std::string kNodeSrc = std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/integration/mcp/node";
inline const std::string kNodeDir = ATLAS_MCP_NODE_DIR;
inline const std::string kModernServer =
    std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/integration/mcp/servers/modern_server.py";

// 0 = installed, 77 = npm missing (skip), other = install failed.
inline int ensure_npm_servers() {
  static std::once_flag once;
  static int rc = -1;
  std::call_once(once, [] {
    std::string cmd = std::string("sh '") + ATLAS_TEST_SOURCE_DIR + "/tests/integration/mcp/npm_ci.sh' '" + kNodeSrc +
                      "' '" + kNodeDir + "'";
    int st = std::system(cmd.c_str());
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  });
  return rc;
}

#define ATLAS_REQUIRE_NPM_SERVERS()                                                                          \
  do {                                                                                                       \
    int _rc = ::atlas::testing::ensure_npm_servers();                                                        \
    if (_rc == 77) GTEST_SKIP() << "npm is not installed; MCP tests against the npm servers are skipped";   \
    ASSERT_EQ(_rc, 0) << "npm ci failed in " << ::atlas::testing::kNodeDir << " (see the output above)";     \
  } while (0)

inline mcp::ServerConfig filesystem_server(const std::filesystem::path& root, std::string name = "fs") {
  mcp::ServerConfig c;
  c.name = std::move(name);
  c.command = kNodeDir + "/node_modules/.bin/mcp-server-filesystem";
  c.args = {root.string()};
  c.timeout_seconds = 30;
  return c;
}

inline mcp::ServerConfig everything_server(std::string name = "everything") {
  mcp::ServerConfig c;
  c.name = std::move(name);
  c.command = kNodeDir + "/node_modules/.bin/mcp-server-everything";
  c.args = {"stdio"};
  c.timeout_seconds = 30;
  return c;
}

inline mcp::ServerConfig python_server(std::string mode, std::string name = "py") {
  mcp::ServerConfig c;
  c.name = std::move(name);
  c.command = "python3";
  c.args = {kModernServer, std::move(mode)};
  c.timeout_seconds = 10;
  return c;
}

}  // namespace atlas::testing
