// Counts heap allocations (operator new) made by the whole process, so a
// benchmark can report allocations per request: linking alloc_counter.cc
// replaces the global operator new/delete with counting versions.
//
//   uint64_t before = fusekit::bench::Allocations();
//   ... the hot path ...
//   state.counters["allocs/op"] = ... (Allocations() - before) / iterations;
//
// Counts every thread's allocations (a benchmark whose server threads run
// beside it sees theirs too). Aligned new (alignas above 16) and plain
// malloc are not counted.
#pragma once

#include <cstdint>

namespace fusekit::bench {

// operator new calls since the process started.
uint64_t Allocations();

}  // namespace fusekit::bench
