// Runs fn(0..n-1) on up to `max_threads` threads (the caller's thread included) and returns
// when all are done. Judge calls block on network I/O, so threads, not cores, bound them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace atlas::rewards {

template <typename Fn>
void parallel_for(size_t n, size_t max_threads, Fn&& fn) {
  if (n == 0) return;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  const size_t extra = std::min(n, std::max<size_t>(1, max_threads)) - 1;
  std::vector<std::thread> threads;
  threads.reserve(extra);
  for (size_t t = 0; t < extra; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
}

}  // namespace atlas::rewards
