// atlas-host plugin-worker — internal: the child process that runs one process-isolated
// plugin instance for its parent atlas-host (plugin/worker_server.hpp). Not for users: the
// host starts it with the socket on --fd.
//
//   atlas-host plugin-worker --fd N --kind KIND --name NAME [--sha256 HEX] -- FILE
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "plugin/worker_server.hpp"

namespace atlas::cli {

int run_plugin_worker(const Args& args) {
  plugin::WorkerTarget target;
  int fd = -1;
  std::string kind;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--fd") fd = std::atoi(value().c_str());
    else if (a == "--kind") kind = value();
    else if (a == "--name") target.name = value();
    else if (a == "--sha256") target.sha256 = value();
    else if (a == "--" && i + 1 < args.size()) target.file = args[++i];
    else throw UsageError("unexpected argument '" + a + "' (this command is started by atlas-host itself)");
  }
  bool known_kind = false;
  for (plugin::Kind k : {plugin::Kind::kAdapter, plugin::Kind::kJudge, plugin::Kind::kProbe, plugin::Kind::kStorage}) {
    if (plugin::kind_name(k) == kind) {
      target.kind = k;
      known_kind = true;
    }
  }
  if (fd < 0 || !known_kind || target.name.empty() || target.file.empty()) {
    throw UsageError("expected --fd N --kind KIND --name NAME -- FILE (this command is started by atlas-host itself)");
  }
  plugin::serve_plugin_worker(fd, target);
}

}  // namespace atlas::cli
