// atlas/child_process.hpp, the process helper shared by the MCP client and the command
// adapter, exercised with /bin/sh children.
#include <gtest/gtest.h>

#include <atlas/child_process.hpp>
#include <fstream>
#include <string>

namespace atlas::sdk {
namespace {

using Read = ChildProcess::Read;

ChildProcess::Spec sh(const std::string& script) {
  ChildProcess::Spec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return spec;
}

TEST(ChildProcess, LinesAndFramedBytesComeBackInOrder) {
  ChildProcess child;
  ASSERT_EQ(child.start(sh("read x; printf 'got %s\\r\\nABCDEFtail\\n' \"$x\"")), "");
  ASSERT_EQ(child.write_all("hello\n"), "");
  std::string line, bytes;
  int64_t deadline = ChildProcess::now_ms() + 10000;
  ASSERT_EQ(child.read_line(deadline, line), Read::kOk);
  EXPECT_EQ(line, "got hello");  // the \r before \n is dropped
  ASSERT_EQ(child.read_exact(6, deadline, bytes), Read::kOk);
  EXPECT_EQ(bytes, "ABCDEF");
  ASSERT_EQ(child.read_line(deadline, line), Read::kOk);
  EXPECT_EQ(line, "tail");
  EXPECT_EQ(child.read_line(deadline, line), Read::kEof);
  EXPECT_EQ(child.stop(2000), "exit status 0");
}

TEST(ChildProcess, TimeoutAndCancellationStopWaiting) {
  ChildProcess child;
  ASSERT_EQ(child.start(sh("exec sleep 30")), "");
  std::string line;
  EXPECT_EQ(child.read_line(ChildProcess::now_ms() + 50, line), Read::kTimeout);
  int checks = 0;
  EXPECT_EQ(child.read_line(ChildProcess::now_ms() + 10000, line, [&] { return ++checks > 2; }), Read::kCancelled);
  // sleep ignores a closed stdin: stop() has to signal it.
  std::string how = child.stop(100);
  EXPECT_NE(how.find("SIGTERM"), std::string::npos) << how;
  EXPECT_FALSE(child.running());
}

// True once `pid` is gone or a zombie (its parent, init here, reaps it when it gets to it).
bool dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

TEST(ChildProcess, StopSignalsTheWholeProcessGroup) {
  ChildProcess child;
  ASSERT_EQ(child.start(sh("sleep 30 & echo $!; wait")), "");
  std::string line;
  ASSERT_EQ(child.read_line(ChildProcess::now_ms() + 10000, line), Read::kOk);
  pid_t grandchild = static_cast<pid_t>(std::stol(line));
  ASSERT_FALSE(dead(grandchild));
  child.stop(50);
  EXPECT_FALSE(child.running());
  // Without the group signal the grandchild would sleep on for 30 s.
  int64_t deadline = ChildProcess::now_ms() + 5000;
  while (!dead(grandchild) && ChildProcess::now_ms() < deadline) {
    pollfd none{};
    poll(&none, 0, 10);  // re-check every 10 ms until the kernel has delivered the signal
  }
  EXPECT_TRUE(dead(grandchild)) << "pid " << grandchild << " survived stop()";
}

TEST(ChildProcess, ClearErrorsForMissingProgramsAndClosedPipes) {
  ChildProcess missing;
  ChildProcess::Spec spec;
  spec.argv = {"atlas-no-such-program"};
  spec.cwd = "/tmp";
  std::string err = missing.start(spec);
  EXPECT_NE(err.find("cannot start 'atlas-no-such-program'"), std::string::npos) << err;
  EXPECT_NE(err.find("PATH"), std::string::npos) << err;
  EXPECT_NE(err.find("cwd '/tmp'"), std::string::npos) << err;

  ChildProcess quits;
  ASSERT_EQ(quits.start(sh("exit 3")), "");
  ASSERT_TRUE(quits.wait_exit(10000));
  EXPECT_EQ(quits.exit_description(), "exit status 3");
  std::string big(1 << 20, 'x');  // larger than the pipe buffer: the write must hit EPIPE
  EXPECT_NE(quits.write_all(big).find("closed its stdin"), std::string::npos);  // and no SIGPIPE
}

TEST(ChildProcess, StderrKeepsTheNewestBytesAndSaysWhatItDropped) {
  ChildProcess child;
  ChildProcess::Spec spec = sh("i=0; while [ $i -lt 200 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo done");
  spec.stderr_limit = 64;
  ASSERT_EQ(child.start(spec), "");
  std::string line;
  ASSERT_EQ(child.read_line(ChildProcess::now_ms() + 10000, line), Read::kOk);
  child.stop(2000);
  std::string tail = child.stderr_tail().text();
  EXPECT_NE(tail.find("earlier bytes dropped"), std::string::npos) << tail;
  EXPECT_NE(tail.find("line 199"), std::string::npos) << tail;
  EXPECT_EQ(tail.find("line 0\n"), std::string::npos) << tail;
}

}  // namespace
}  // namespace atlas::sdk
