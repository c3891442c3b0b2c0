// A thread's CPU scheduling class (policy and nice value). The gateway runs its storage workers,
// and everything they start, in a background class (SCHED_IDLE, or nice +10 where that is
// refused) so the relay keeps the CPU; work handed from one thread to another must keep the class
// of the thread that asked for it, or a background job runs at full priority (or a request-path
// call waits behind background work).
#pragma once

#include <sched.h>
#include <sys/resource.h>

#include <cerrno>

namespace atlas {

struct SchedulingClass {
  int policy = SCHED_OTHER;
  int nice = 0;

  static SchedulingClass of_this_thread() { return of_thread(0); }
  // `tid` 0 is the calling thread; a thread that has ended reads as policy -1 (not background).
  static SchedulingClass of_thread(pid_t tid) {
    SchedulingClass c;
    c.policy = sched_getscheduler(tid);
    errno = 0;
    int n = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));  // one thread, on Linux
    if (errno == 0) c.nice = n;
    return c;
  }
  // Work that yields to normal threads: idle or batch policy, or a positive nice value.
  bool background() const { return policy == SCHED_IDLE || policy == SCHED_BATCH || nice > 0; }
  bool operator==(const SchedulingClass& o) const { return policy == o.policy && nice == o.nice; }
  // Best effort: an unprivileged thread cannot always leave SCHED_IDLE (RLIMIT_NICE); then the
  // work runs at the lower priority, which delays it but never the threads it shares CPUs with.
  void apply() const { (void)apply_to(0); }
  // False when either part was refused (raising a priority needs CAP_SYS_NICE or RLIMIT_NICE).
  bool apply_to(pid_t tid) const {
    sched_param none{};
    const bool policy_set = sched_setscheduler(tid, policy, &none) == 0;
    return setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) == 0 && policy_set;
  }
};

// While alive, runs the calling thread in the normal class when it was in a background one: for
// the short critical sections a background thread shares with request-path threads. Preempted
// while it holds such a lock, an idle-class thread keeps the request-path thread that wants the
// lock waiting until a CPU falls idle (priority inversion: 10-20 ms waits in the gateway bench).
// Declare it before the lock guard, so the lock is released first. Best effort, like apply().
class NormalClassScope {
 public:
  NormalClassScope() : was_(SchedulingClass::of_this_thread()) {
    if (was_.background()) SchedulingClass{}.apply();
  }
  ~NormalClassScope() {
    if (was_.background()) was_.apply();
  }
  NormalClassScope(const NormalClassScope&) = delete;
  NormalClassScope& operator=(const NormalClassScope&) = delete;

 private:
  SchedulingClass was_;
};

// Puts the calling thread in the background class the gateway's storage work runs in: SCHED_IDLE
// (it runs only when no normal thread wants the CPU; it halved the relay's p99 at 2,000 req/s
// against nice +10, bench/README.md), or nice +10 where the policy is refused.
void run_this_thread_in_background();

// Moves every thread of this process that runs in a background class back to the normal one
// (SCHED_OTHER, nice 0). The gateway does it when it drains: nothing is relayed any more, and on a
// machine kept busy by other processes idle-class work would not finish before the deadline.
// Raising a thread needs CAP_SYS_NICE or an RLIMIT_NICE of 20; threads refused stay as they are.
struct RaisedThreads {
  int raised = 0;
  int refused = 0;
};
RaisedThreads raise_background_threads_of_this_process();

}  // namespace atlas
