#!/bin/bash
# Smoke test of mount_bench: a --quick run must print a table with a figure
# for every workload on memfs, loopbackfs, lightspeed and tmpfs, leave nothing
# mounted, and exit 0. Where mounting is impossible the run says SKIPPED (and
# so does this test, with the reason). Speed is not checked.
set -u
BENCH="$PWD/benchmarks/mount_bench"
OUT="${TEST_TMPDIR:-/tmp}/mount_bench.out"

"$BENCH" --quick >"$OUT" 2>&1
rc=$?
cat "$OUT"
fail() { echo "FAIL: $*"; exit 1; }
[[ $rc == 0 ]] || fail "mount_bench --quick exited $rc"
if grep -q '^SKIPPED: ' "$OUT"; then
  echo "mount_bench_test: $(grep '^SKIPPED: ' "$OUT")"
  exit 0
fi
grep -q '^workload .* median ' "$OUT" || fail "no table header"
# Every workload has a numeric median for the fusekit daemons and the
# reference that applies to it.
for row in "stat uncached.*lightspeed " "stat uncached.*memfs_u " "stat uncached.*loopback_u " \
           "stat cached.*memfs_c " "stat, 2 procs.*memfs_u " "stat, 2 procs.*lightspeed_2t " \
           "scaling: stat 1 proc.*memfs_u_1t " "readdir.*memfs_u " "readdir.*tmpfs " \
           "create.*memfs_c " "create.*loopback_c " "create.*tmpfs " \
           "read .*128K.*loopback_c " "read .*1M.*tmpfs " "write .*1M.*memfs_c " \
           "write .*128K.*tmpfs "; do
  grep -Eq "^${row} *[0-9.]+ " "$OUT" || fail "no figure for /$row/"
done
# Ratios: against the reference (lightspeed for stat, tmpfs for data), as a
# ratio of medians and paired round by round.
grep -Eq "^stat uncached +memfs_u +[0-9]+ ops/s +[0-9.]+ +[0-9.]+ " "$OUT" ||
  fail "no x ref and paired ratios for memfs_u's stats"
grep -Eq "^write .*1M +loopback_c +[0-9]+ MiB/s +[0-9.]+ +[0-9.]+ +[0-9.]+ " "$OUT" ||
  fail "no x ref, paired and x tmpfs ratios for loopback_c's writes"
# The targets section: one verdict per target, and a count.
grep -Eq "^stat, timeouts 0, 1 daemon thread +>= 0.95 +[0-9.]+ +(met|MISSED) " "$OUT" ||
  fail "no verdict for the one-thread stat target"
grep -Eq "^mount_bench: targets met [0-9]+, missed [0-9]+, not measured [0-9]+$" "$OUT" ||
  fail "no targets summary"
# Variants whose flags loopbackfs lacks are reported, not silently dropped.
for t in loopback_splice loopback_passthrough; do
  grep -Eq "read .*1M +$t +([0-9.]+ |- .*n/a \(flag absent\))" "$OUT" || fail "no row for $t"
done
# A subset of workloads prints only their rows (readdir is not a read).
SUBSET="${TEST_TMPDIR:-/tmp}/mount_bench_read.out"
"$BENCH" --quick --workloads=read >"$SUBSET" 2>&1 || fail "mount_bench --workloads=read failed"
grep -Eq "^read .*1M.*tmpfs +[0-9.]+ " "$SUBSET" || fail "--workloads=read: no read rows"
if grep -Eq "^(readdir|stat|create|write)" "$SUBSET"; then
  fail "--workloads=read printed other workloads: $(grep -E '^(readdir|stat|create|write)' "$SUBSET" | head -2)"
fi
# Nothing of ours stays mounted.
if grep -q fusekit-bench /proc/mounts || grep -Eq ' /tmp/fusekit-bench\.[^ ]*/m/' /proc/mounts; then
  fail "left mounted: $(grep fusekit-bench /proc/mounts)"
fi
echo "mount_bench_test: PASS"
