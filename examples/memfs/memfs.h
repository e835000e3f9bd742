// memfs: the library's in-memory tree (nodefs/mem_node.h) as a program. This
// file holds only what the command line adds: sizes like tmpfs's size=, and
// the serving options memfs (and examples/demo) mount with.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"

namespace fusekit::examples {

// A size as tmpfs's size= takes it: a byte count with an optional binary
// suffix (k, m, g, t, p, e; any case: 64M is 64 MiB), a percentage of the
// machine's RAM ("50%"), or 0 for no limit. The result is rounded up to
// whole 4 KiB pages.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// The tree's limits from --size and --inodes (0: as many inodes as the size
// has pages, like a tmpfs of that size; none when the size is 0 too), and
// listings without OPENDIR (MemFsOptions::no_opendir).
MemFsOptions MemfsLimits(uint64_t max_bytes, uint64_t max_inodes);

// `options` (from the common flags) plus what memfs needs: the kernel sends
// flock locks, and with `posix_locks` (MemFsOptions::posix_locks, which
// must agree) POSIX locks too, to the tree; it checks permissions itself
// (default_permissions); and at least four workers serve, so a few
// processes waiting in F_SETLKW cannot starve the one that would unlock.
Options MemfsOptions(Options options, bool posix_locks = true);

}  // namespace fusekit::examples
