// glibc malloc shares an arena (and its lock) between threads once a process has more than
// 8 x cores of them. In the gateway the relay threads would then share arenas with the storage
// workers, which run under SCHED_IDLE: a worker preempted inside malloc or free keeps the arena
// locked until a CPU falls idle, and the relay thread that needs it waits (perf showed ~130 such
// waits per 2 s at 2,000 requests/s, most of the remaining p99). One arena per thread avoids it.
#pragma once

namespace atlas::serve {

// Call before the process starts its threads (the limit is read when the ninth arena is made).
// `threads`: the connection threads the gateway will run ([serve] threads).
void use_one_malloc_arena_per_thread(int threads);

}  // namespace atlas::serve
