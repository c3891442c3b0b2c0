// `atlas-host mock-llm` as a child process: ready line, serving, request log, clean SIGTERM
// exit, and exit codes for bad input.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "llm/llm.hpp"

namespace atlas::llm {
namespace {

const std::string kHost = std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host";

struct Child {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
};

Child spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kHost.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kHost.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

// Reads one line from fd, waiting at most `timeout_ms` in total (poll, no sleeping).
std::string read_line(int fd, int timeout_ms) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (poll(&p, 1, std::max(left, 1)) <= 0) break;
    char ch;
    if (read(fd, &ch, 1) != 1) break;
    if (ch == '\n') return line;
    line += ch;
  }
  return line;
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int wait_exit(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(MockLlmCli, ServesLogsAndStopsCleanly) {
  ASSERT_TRUE(std::filesystem::exists(kHost)) << kHost;
  auto dir = std::filesystem::temp_directory_path() / ("atlas-mock-cli-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto scenario = dir / "s.json";
  auto log = dir / "requests.jsonl";
  std::ofstream(scenario) << R"({"rules":[{"response":{"text":"from the CLI mock"}}]})";
  Child c = spawn({"mock-llm", "--scenario", scenario.string(), "--port", "0", "--request-log", log.string()});
  std::string line = read_line(c.out, 15000);
  ASSERT_EQ(line.rfind("listening on http://127.0.0.1:", 0), 0u) << "got: " << line;
  std::string url = line.substr(std::string("listening on ").size());

  config::ModelConfig model;
  model.provider = "anthropic";
  model.model = "m";
  model.api_base = url;
  model.api_key_env = "ATLAS_MOCK_LLM_UNSET_KEY";
  Request r;
  r.messages.push_back({"user", "hi", {}, "", ""});
  auto res = make_client()->complete(model, r);
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_EQ(res->content, "from the CLI mock");

  kill(c.pid, SIGTERM);
  EXPECT_EQ(wait_exit(c.pid), 0);
  std::ifstream in(log);
  std::string first;
  std::getline(in, first);
  EXPECT_NE(first.find("\"route\":\"anthropic.messages\""), std::string::npos) << first;
  close(c.out);
  close(c.err);
  std::filesystem::remove_all(dir);
}

TEST(MockLlmCli, BadScenarioIsExitOneWithWhereAndWhat) {
  auto path = std::filesystem::temp_directory_path() / ("atlas-bad-scenario-" + std::to_string(getpid()) + ".json");
  std::ofstream(path) << R"({"rules":[{"response":{"fault":"explode"}}]})";
  Child c = spawn({"mock-llm", "--scenario", path.string()});
  std::string err = read_all(c.err);
  EXPECT_EQ(wait_exit(c.pid), 1);
  EXPECT_NE(err.find("rules[0].response.fault"), std::string::npos) << err;
  EXPECT_NE(err.find("explode"), std::string::npos) << err;
  close(c.out);
  close(c.err);
  std::filesystem::remove(path);
}

TEST(MockLlmCli, UsageErrorsAreExitTwoAndHelpIsZero) {
  Child bad = spawn({"mock-llm", "--no-such-flag"});
  read_all(bad.err);
  EXPECT_EQ(wait_exit(bad.pid), 2);
  Child help = spawn({"mock-llm", "--help"});
  std::string out = read_all(help.out);
  EXPECT_EQ(wait_exit(help.pid), 0);
  EXPECT_NE(out.find("--scenario"), std::string::npos);
  for (Child* c : {&bad, &help}) {
    close(c->out);
    close(c->err);
  }
}

}  // namespace
}  // namespace atlas::llm
