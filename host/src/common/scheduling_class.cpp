#include "common/scheduling_class.hpp"

#include <dirent.h>

#include <cstdlib>

namespace atlas {

RaisedThreads raise_background_threads_of_this_process() {
  RaisedThreads out;
  DIR* tasks = opendir("/proc/self/task");
  if (!tasks) return out;
  while (const dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    const auto tid = static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10));
    const int policy = sched_getscheduler(tid);
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    const bool idle_policy = policy == SCHED_IDLE || policy == SCHED_BATCH;
    const bool niced = errno == 0 && nice > 0;
    if (!idle_policy && !niced) continue;  // also a thread that ended meanwhile (policy -1)
    sched_param none{};
    bool ok = !idle_policy || sched_setscheduler(tid, SCHED_OTHER, &none) == 0;
    ok = ok && (!niced || setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 0) == 0);
    ++(ok ? out.raised : out.refused);
  }
  closedir(tasks);
  return out;
}

}  // namespace atlas
