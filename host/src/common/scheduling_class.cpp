#include "common/scheduling_class.hpp"

#include <dirent.h>

#include <cstdlib>

namespace atlas {

void run_this_thread_in_background() {
  sched_param idle{};
  if (sched_setscheduler(0, SCHED_IDLE, &idle) != 0) (void)setpriority(PRIO_PROCESS, 0, 10);
}

RaisedThreads raise_background_threads_of_this_process() {
  RaisedThreads out;
  DIR* tasks = opendir("/proc/self/task");
  if (!tasks) return out;
  while (const dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    const auto tid = static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10));
    if (!SchedulingClass::of_thread(tid).background()) continue;
    ++(SchedulingClass{}.apply_to(tid) ? out.raised : out.refused);
  }
  closedir(tasks);
  return out;
}

}  // namespace atlas
