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
    if (!SchedulingClass::of_thread(tid).background()) continue;
    ++(SchedulingClass{}.apply_to(tid) ? out.raised : out.refused);
  }
  closedir(tasks);
  return out;
}

}  // namespace atlas
