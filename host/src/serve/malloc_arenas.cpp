#include "serve/malloc_arenas.hpp"

#include <malloc.h>

namespace atlas::serve {

void use_one_malloc_arena_per_thread(int threads) {
  // Connection threads, plus the storage workers, judge and learning pools, the store's writer,
  // the HTTP event loop and the review UI's threads, with room to spare. An arena costs address
  // space (64 MiB reserved each), not memory, until its thread allocates.
  (void)mallopt(M_ARENA_MAX, 2 * (threads + 64));
}

}  // namespace atlas::serve
