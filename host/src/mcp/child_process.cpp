#include "mcp/child_process.hpp"

namespace atlas::mcp {

Status ChildProcess::start(const Options& options) {
  if (options.argv.empty() || options.argv[0].empty()) return invalid_argument("no command given");
  sdk::ChildProcess::Spec spec;
  spec.argv = options.argv;
  spec.env = options.env;
  spec.cwd = options.cwd;
  spec.stderr_limit = options.stderr_limit;
  std::string error = child_.start(spec);
  return error.empty() ? Status::ok() : unavailable(error);
}

Status ChildProcess::write_all(std::string_view data) {
  std::string error = child_.write_all(data);
  return error.empty() ? Status::ok() : unavailable(error);
}

Status ChildProcess::read_status(sdk::ChildProcess::Read r) const {
  switch (r) {
    case sdk::ChildProcess::Read::kOk: return Status::ok();
    case sdk::ChildProcess::Read::kTimeout: return deadline_exceeded("no answer from the process in time");
    case sdk::ChildProcess::Read::kCancelled: return cancelled("the read was cancelled");
    case sdk::ChildProcess::Read::kEof: break;
  }
  return unavailable("the process closed its stdout");
}

Result<std::string> ChildProcess::read_line(int64_t deadline_ms) {
  std::string line;
  ATLAS_RETURN_IF_ERROR(read_status(child_.read_line(deadline_ms, line)));
  return line;
}

Result<std::string> ChildProcess::read_exact(size_t n, int64_t deadline_ms) {
  std::string data;
  ATLAS_RETURN_IF_ERROR(read_status(child_.read_exact(n, deadline_ms, data)));
  return data;
}

}  // namespace atlas::mcp
