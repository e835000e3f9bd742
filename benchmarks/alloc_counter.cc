// Counting replacements of the global operator new and delete (see
// alloc_counter.h). The nothrow forms of the library call these.
#include "benchmarks/alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace fusekit::bench {
namespace {
std::atomic<uint64_t> g_allocations{0};

void* CountedAlloc(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) std::abort();  // no exceptions: out of memory ends the run
  return p;
}
}  // namespace

uint64_t Allocations() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace fusekit::bench

void* operator new(std::size_t size) { return fusekit::bench::CountedAlloc(size); }
void* operator new[](std::size_t size) { return fusekit::bench::CountedAlloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
