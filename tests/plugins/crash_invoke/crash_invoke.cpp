// Adapter `crash_invoke`: loads and starts fine, then misbehaves inside invoke when the
// request contains a marker, so tests can prove a plugin worker's failure stays contained:
//   "crash-segv"  -> writes through a null pointer (SIGSEGV)
//   "crash-abort" -> abort() (SIGABRT), after a line on stderr
//   "crash-exit"  -> exit(3) from inside the call
//   "crash-hang"  -> never returns
// Any other request answers {"content": "ok", "pid": <process id>} (the pid shows which
// process ran the call).
#include <atlas/sdk.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int* volatile null_target = nullptr;

class CrashInvoke : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"crash_invoke", "1.0.0", "atlas tests", "MIT",
                                         "Adapter that crashes on request (isolation tests)", 0, nullptr};
  CrashInvoke(const atlas::sdk::Host&, std::string_view) {}

  std::string invoke(atlas::sdk::Call&, std::string_view request) override {
    if (request.find("crash-segv") != std::string_view::npos) *null_target = 1;
    if (request.find("crash-abort") != std::string_view::npos) {
      std::fprintf(stderr, "crash_invoke: giving up on purpose\n");
      std::fflush(stderr);
      std::abort();
    }
    if (request.find("crash-exit") != std::string_view::npos) std::exit(3);
    if (request.find("crash-hang") != std::string_view::npos) {
      for (;;) ::pause();
    }
    return "{\"content\":\"ok\",\"pid\":" + std::to_string(::getpid()) + "}";
  }
};

}  // namespace

ATLAS_PLUGINS(CrashInvoke)
