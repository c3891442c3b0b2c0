// raise_background_threads_of_this_process: the gateway's drain moves its idle-class workers
// back to the normal class; threads already normal are left alone. NormalClassScope: the same for
// one thread, for the length of a critical section.
#include "common/scheduling_class.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace atlas {
namespace {

// A thread that puts itself in `cls`, then reports its class after the main thread says so.
class ParkedThread {
 public:
  explicit ParkedThread(SchedulingClass cls) {
    thread_ = std::thread([this, cls] {
      cls.apply();
      std::unique_lock<std::mutex> lock(mu_);
      ready_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return release_; });
      seen_ = SchedulingClass::of_this_thread();
    });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return ready_; });
  }
  SchedulingClass class_after_release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_ = true;
    }
    cv_.notify_all();
    thread_.join();
    return seen_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool release_ = false;
  SchedulingClass seen_;
  std::thread thread_;
};

bool may_raise_priority() {
  rlimit nice_limit{};
  return geteuid() == 0 || (getrlimit(RLIMIT_NICE, &nice_limit) == 0 && nice_limit.rlim_cur >= 20);
}

TEST(SchedulingClass, RaisingBackgroundThreadsMovesIdleAndNicedOnesToTheNormalClass) {
  if (!may_raise_priority()) GTEST_SKIP() << "raising a thread's priority needs root or RLIMIT_NICE >= 20";
  if (SchedulingClass::of_this_thread().background()) GTEST_SKIP() << "the test itself runs in a background class";
  ParkedThread idle(SchedulingClass{SCHED_IDLE, 0});
  ParkedThread niced(SchedulingClass{SCHED_OTHER, 10});
  ParkedThread normal(SchedulingClass{SCHED_OTHER, 0});

  RaisedThreads r = raise_background_threads_of_this_process();

  EXPECT_GE(r.raised, 2);  // and any other background thread of the test process
  EXPECT_EQ(r.refused, 0);
  EXPECT_EQ(idle.class_after_release(), (SchedulingClass{SCHED_OTHER, 0}));
  EXPECT_EQ(niced.class_after_release(), (SchedulingClass{SCHED_OTHER, 0}));
  EXPECT_EQ(normal.class_after_release(), (SchedulingClass{SCHED_OTHER, 0}));
  EXPECT_EQ(raise_background_threads_of_this_process().raised, 0) << "nothing is left to raise";
}

// NormalClassScope: a background thread runs in the normal class while the scope lives and goes
// back to its own class after; a normal thread is left as it is.
TEST(SchedulingClass, ANormalClassScopeRaisesABackgroundThreadForItsLifetimeOnly) {
  if (!may_raise_priority()) GTEST_SKIP() << "raising a thread's priority needs root or RLIMIT_NICE >= 20";
  for (SchedulingClass own : {SchedulingClass{SCHED_IDLE, 0}, SchedulingClass{SCHED_OTHER, 10},
                              SchedulingClass{SCHED_BATCH, 5}, SchedulingClass{SCHED_OTHER, 0}}) {
    SchedulingClass inside, after;
    std::thread t([&] {
      own.apply();
      {
        NormalClassScope scope;
        inside = SchedulingClass::of_this_thread();
      }
      after = SchedulingClass::of_this_thread();
    });
    t.join();
    EXPECT_EQ(inside, (SchedulingClass{SCHED_OTHER, 0})) << "policy " << own.policy << ", nice " << own.nice;
    EXPECT_EQ(after, own) << "policy " << own.policy << ", nice " << own.nice;
  }
}

}  // namespace
}  // namespace atlas
