#!/bin/bash
# mount_bench: fusekit's mount-level benchmark. As root it mounts memfs and
# loopbackfs (over a fresh tmpfs directory) beside two reference points, and
# runs each workload on every target interleaved, round after round:
#
#   lightspeed  ../shared/bench/lightspeed.c, the least a FUSE daemon can do
#               per request (fixed tree, no caching): the metadata limit.
#   tmpfs       the kernel's own filesystem: the data-path limit.
#
# It prints, per workload and target, the median of the rounds and its ratio
# to lightspeed (metadata) or tmpfs (data). The workload driver is
# ../shared/bench/fsops.c; both C files are compiled into a temporary
# directory at run time (never copied into the project).
#
#   bazel run -c opt //benchmarks:mount_bench                  # full run
#   bazel run -c opt //benchmarks:mount_bench -- --quick       # smoke run
#   bazel run -c opt //benchmarks:mount_bench -- --help
#
# Everything it mounts is unmounted on every exit path (an EXIT/INT/TERM/HUP
# trap). Where it cannot mount (not root, no /dev/fuse, no C compiler, the
# reference sources missing) it prints "SKIPPED: <reason>" and exits 0.
set -u
set -o pipefail

usage() {
  cat <<'EOF'
mount_bench [flags]: FUSE mount benchmark (root only).
  --bench_src=DIR   lightspeed.c and fsops.c (default: ../shared/bench from the
                    workspace; or $FUSEKIT_BENCH_SRC)
  --quick           tiny sizes, one round: a smoke run (seconds)
  --rounds=N        rounds per workload (default 5; writes twice as many and one more)
  --mb=N            MiB per sequential read/write (default 512)
  --stat_n=N        stat calls per uncached run (default 40000; cached: x10)
  --files=N         files per create run (default 5000)
  --dir_entries=N   entries in the listed directory (default 10000)
  --readdir_passes=N  listings per readdir run (default 20)
  --workloads=LIST  comma-separated subset of: stat,stat_cached,stat2,
                    scaling,readdir,create,read,write (default: all)
  --memfs=PATH --loopbackfs=PATH   the daemons (default: from runfiles)
  --raw=FILE        also write every measurement as TSV to FILE
EOF
}

# --- Flags ---------------------------------------------------------------------
ROUNDS=5
MB=512
STAT_N=40000
FILES=5000
DIR_ENTRIES=10000
READDIR_PASSES=20
WORKLOADS="stat,stat_cached,stat2,scaling,readdir,create,read,write"
BENCH_SRC="${FUSEKIT_BENCH_SRC:-}"
MEMFS=""
LOOPBACKFS=""
RAW=""
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --help|-h) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    --rounds=*) ROUNDS="${arg#*=}" ;;
    --mb=*) MB="${arg#*=}" ;;
    --stat_n=*) STAT_N="${arg#*=}" ;;
    --files=*) FILES="${arg#*=}" ;;
    --dir_entries=*) DIR_ENTRIES="${arg#*=}" ;;
    --readdir_passes=*) READDIR_PASSES="${arg#*=}" ;;
    --workloads=*) WORKLOADS="${arg#*=}" ;;
    --bench_src=*) BENCH_SRC="${arg#*=}" ;;
    --memfs=*) MEMFS="${arg#*=}" ;;
    --loopbackfs=*) LOOPBACKFS="${arg#*=}" ;;
    --raw=*) RAW="${arg#*=}" ;;
    *) echo "mount_bench: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ $QUICK == 1 ]]; then
  ROUNDS=1 MB=8 STAT_N=2000 FILES=100 DIR_ENTRIES=200 READDIR_PASSES=2
fi
for n in ROUNDS MB STAT_N FILES DIR_ENTRIES READDIR_PASSES; do
  if ! [[ ${!n} =~ ^[1-9][0-9]*$ ]]; then
    echo "mount_bench: --$(tr 'A-Z' 'a-z' <<<"$n") must be a positive integer" >&2
    exit 2
  fi
done

skip() {
  echo "SKIPPED: $*"
  exit 0
}

# --- Where things are ----------------------------------------------------------
# The workspace: `bazel run` says; under `bazel test` the script is a symlink
# into it.
WORKSPACE="${BUILD_WORKSPACE_DIRECTORY:-}"
if [[ -z $WORKSPACE ]]; then
  WORKSPACE="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
fi
[[ -n $BENCH_SRC ]] || BENCH_SRC="$WORKSPACE/../shared/bench"

# The daemons, from the runfiles tree (cwd under bazel run and bazel test).
find_runfile() {
  local rel="$1" d
  for d in "${RUNFILES_DIR:-}/fusekit" "$0.runfiles/fusekit" "$PWD"; do
    [[ -x "$d/$rel" ]] && { echo "$d/$rel"; return 0; }
  done
  return 1
}
[[ -n $MEMFS ]] || MEMFS="$(find_runfile examples/memfs/memfs)" || skip "memfs binary not found"
[[ -n $LOOPBACKFS ]] || LOOPBACKFS="$(find_runfile examples/loopbackfs/loopbackfs)" ||
  skip "loopbackfs binary not found"

[[ $(id -u) == 0 ]] || skip "mounting needs root (uid $(id -u))"
[[ -c /dev/fuse && -r /dev/fuse && -w /dev/fuse ]] || skip "/dev/fuse is not usable"
[[ -f $BENCH_SRC/lightspeed.c && -f $BENCH_SRC/fsops.c ]] ||
  skip "no lightspeed.c and fsops.c in $BENCH_SRC (--bench_src=DIR)"
CC="${CC:-cc}"
command -v "$CC" >/dev/null || skip "no C compiler ($CC)"

# --- Clean-up on every path ----------------------------------------------------
TMP="$(mktemp -d /tmp/fusekit-bench.XXXXXX)" || exit 1
PIDS=()    # daemons we started
MOUNTS=()  # mountpoints we mounted (FUSE and tmpfs), unmounted in reverse

mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }

cleanup() {
  trap - EXIT INT TERM HUP
  local pid i m
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    m="${MOUNTS[$i]}"
    if mounted "$m"; then umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; fi
  done
  rm -rf --one-file-system "$TMP" 2>/dev/null
  # The fuse module's io_uring switch, as it was before the run.
  if [[ -n ${URING_WAS:-} ]]; then { echo "$URING_WAS" >"$URING_PARAM"; } 2>/dev/null; fi
}
trap cleanup EXIT
trap 'echo "mount_bench: interrupted" >&2; exit 130' INT TERM HUP

# --- Build the reference programs ----------------------------------------------
for prog in lightspeed fsops; do
  "$CC" -O2 -pthread -o "$TMP/$prog" "$BENCH_SRC/$prog.c" 2>"$TMP/$prog.log" ||
    skip "cannot build $prog.c: $(head -3 "$TMP/$prog.log")"
done
FSOPS="$TMP/fsops"

# --- Mounts --------------------------------------------------------------------
# The backing store: a fresh tmpfs, or (if mounting one fails) /dev/shm.
STORE="$TMP/store"
mkdir -p "$STORE"
if mount -t tmpfs -o size=8g,mode=0755 fusekit-bench "$STORE" 2>/dev/null; then
  MOUNTS+=("$STORE")
else
  STORE="$(mktemp -d /dev/shm/fusekit-bench.XXXXXX)" || skip "no tmpfs to work in"
  trap 'cleanup; rm -rf "$STORE"' EXIT
fi
mkdir -p "$STORE/tmpfs" "$STORE/lb"

declare -A DIR    # target -> directory the workloads run in
declare -A WHY    # target -> why it is missing
LOOPBACK_HELP="$("$LOOPBACKFS" --help 2>&1)"
has_flag() { grep -q -- "--$1\b" <<<"$LOOPBACK_HELP"; }

# Starts a daemon that mounts on `mnt` and waits until it has.
# start NAME MNT COMMAND...
start() {
  local name="$1" mnt="$2" i
  shift 2
  mkdir -p "$mnt"
  "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  MOUNTS+=("$mnt")
  for i in $(seq 100); do
    if mounted "$mnt"; then DIR[$name]="$mnt"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  WHY[$name]="did not mount: $(tail -1 "$TMP/$name.log")"
  return 1
}

UNCACHED=(--entry_timeout=0 --attr_timeout=0)
CACHED=(--entry_timeout=1h --attr_timeout=1h)
LB_PLAIN=()
has_flag splice && LB_PLAIN+=(--splice=false)
has_flag passthrough && LB_PLAIN+=(--passthrough=false)

DIR[tmpfs]="$STORE/tmpfs"
M="$TMP/m"
start lightspeed "$M/lightspeed" "$TMP/lightspeed" "$M/lightspeed" $((MB << 20)) 1
start lightspeed_2t "$M/lightspeed_2t" "$TMP/lightspeed" "$M/lightspeed_2t" $((MB << 20)) 2
# memfs_u and memfs_u_1t check no permissions, as lightspeed does not: with
# default_permissions the kernel also fetches the attributes of every
# directory on the path (a third round trip per stat when attributes are
# not cached), which memfs_u_perm (memfs as shipped) shows.
start memfs_u "$M/memfs_u" "$MEMFS" --threads=2 "${UNCACHED[@]}" --default_permissions=false \
  "$M/memfs_u"
start memfs_u_1t "$M/memfs_u_1t" "$MEMFS" --threads=1 "${UNCACHED[@]}" \
  --default_permissions=false "$M/memfs_u_1t"
start memfs_u_perm "$M/memfs_u_perm" "$MEMFS" --threads=2 "${UNCACHED[@]}" "$M/memfs_u_perm"
# memfs_u listing through the daemon every time: directory handles and no
# listing cache in the kernel (memfs_u lists without OPENDIR, and the
# kernel then caches listings until the directory changes).
if "$MEMFS" --help 2>&1 | grep -q -- "--cache_listings"; then
  start memfs_u_nocache "$M/memfs_u_nocache" "$MEMFS" --threads=2 "${UNCACHED[@]}" \
    --default_permissions=false --no_opendir=false --cache_listings=false "$M/memfs_u_nocache"
  # The same without READDIRPLUS: plain listings, no attributes per entry.
  if has_flag readdirplus; then
    start memfs_u_noplus "$M/memfs_u_noplus" "$MEMFS" --threads=2 "${UNCACHED[@]}" \
      --default_permissions=false --no_opendir=false --cache_listings=false --readdirplus=false \
      "$M/memfs_u_noplus"
  else
    WHY[memfs_u_noplus]="n/a (flag absent)"
  fi
fi
start memfs_c "$M/memfs_c" "$MEMFS" --threads=2 "${CACHED[@]}" "$M/memfs_c"
# One worker busy-polling for the next request (--spin_us): the caller's
# requests find it awake. It burns a CPU while it spins.
if has_flag spin_us; then
  start memfs_u_spin "$M/memfs_u_spin" "$MEMFS" --threads=1 --spin_us=200 "${UNCACHED[@]}" \
    --default_permissions=false "$M/memfs_u_spin"
  start memfs_c_spin "$M/memfs_c_spin" "$MEMFS" --threads=1 --spin_us=200 "${CACHED[@]}" \
    "$M/memfs_c_spin"
else
  WHY[memfs_u_spin]="n/a (flag absent)"
  WHY[memfs_c_spin]="n/a (flag absent)"
fi
# FUSE over io-uring (--io_uring): per-CPU rings, a request served on its
# caller's CPU (finding 14). The kernel offers it only with the fuse
# module's enable_uring on: turned on for the run (it lets only connections
# that ask for rings have them) and put back by cleanup.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
if has_flag io_uring && [[ -r $URING_PARAM ]]; then
  if [[ $(cat "$URING_PARAM") == N ]] && { echo Y >"$URING_PARAM"; } 2>/dev/null; then
    URING_WAS=N
  fi
fi
if has_flag io_uring && [[ $(cat "$URING_PARAM" 2>/dev/null) == Y ]]; then
  start memfs_u_uring "$M/memfs_u_uring" "$MEMFS" --threads=2 --io_uring "${UNCACHED[@]}" \
    --default_permissions=false "$M/memfs_u_uring"
  start memfs_c_uring "$M/memfs_c_uring" "$MEMFS" --threads=2 --io_uring "${CACHED[@]}" \
    "$M/memfs_c_uring"
else
  WHY[memfs_u_uring]="n/a (no --io_uring, or no FUSE over io-uring in this kernel)"
  WHY[memfs_c_uring]="${WHY[memfs_u_uring]}"
fi
# Creating without default_permissions: the kernel then does not fetch the
# directory's attributes again after each entry made in it.
start memfs_c_noperm "$M/memfs_c_noperm" "$MEMFS" --threads=2 "${CACHED[@]}" \
  --default_permissions=false "$M/memfs_c_noperm"
# Before/after in the same run: memfs_c as it was before the kernel was
# left POSIX locks (a FLUSH per close) and FUSE_HANDLE_KILLPRIV_V2 (a
# GETXATTR security.capability before every write), and passthrough writes
# without V2 (the kernel asks the daemon before every write to the backing
# file too).
if has_flag handle_killpriv; then
  start memfs_c_before "$M/memfs_c_before" "$MEMFS" --threads=2 "${CACHED[@]}" \
    --posix_locks --handle_killpriv=false "$M/memfs_c_before"
  if has_flag passthrough; then
    start loopback_pt_nokill "$M/loopback_pt_nokill" "$LOOPBACKFS" --threads=2 "${CACHED[@]}" \
      --passthrough=true --handle_killpriv=false "$STORE/lb" "$M/loopback_pt_nokill"
  fi
else
  WHY[memfs_c_before]="n/a (flag absent)"
  WHY[loopback_pt_nokill]="n/a (flag absent)"
fi
start loopback_u "$M/loopback_u" "$LOOPBACKFS" --threads=2 "${UNCACHED[@]}" "${LB_PLAIN[@]}" \
  "$STORE/lb" "$M/loopback_u"
start loopback_c "$M/loopback_c" "$LOOPBACKFS" --threads=2 "${CACHED[@]}" "${LB_PLAIN[@]}" \
  "$STORE/lb" "$M/loopback_c"
if has_flag splice; then
  # With 1 MiB of read-ahead the kernel sends 1 MiB READs (128 KiB otherwise).
  RA=()
  has_flag read_ahead_kb && RA=(--read_ahead_kb=1024)
  start loopback_splice "$M/loopback_splice" "$LOOPBACKFS" --threads=2 "${CACHED[@]}" \
    --splice=true "${RA[@]}" "$STORE/lb" "$M/loopback_splice"
else
  WHY[loopback_splice]="n/a (flag absent)"
fi
# No page cache in the kernel: one copy per read(2)/write(2), every one a
# round trip.
if has_flag direct_io; then
  start loopback_dio "$M/loopback_dio" "$LOOPBACKFS" --threads=2 "${CACHED[@]}" --splice=true \
    --direct_io "$STORE/lb" "$M/loopback_dio"
else
  WHY[loopback_dio]="n/a (flag absent)"
fi
if has_flag passthrough; then
  start loopback_passthrough "$M/loopback_passthrough" "$LOOPBACKFS" --threads=2 \
    "${CACHED[@]}" --passthrough=true "$STORE/lb" "$M/loopback_passthrough"
else
  WHY[loopback_passthrough]="n/a (flag absent)"
fi
if [[ -z ${DIR[lightspeed]:-} && -z ${DIR[memfs_u]:-} ]]; then
  skip "cannot mount FUSE here: ${WHY[memfs_u]:-}"
fi

# --- Measuring -----------------------------------------------------------------
declare -A RESULT  # "workload target" -> "v1 v2 ..."
declare -A ROUND   # "workload target round" -> v
MAX_ROUND=0        # the most rounds any workload ran

median() {
  tr ' ' '\n' | grep . | sort -n | awk '{ v[++n] = $1 } END {
    if (n == 0) print ""
    else if (n % 2) print v[(n + 1) / 2]
    else print (v[n / 2] + v[n / 2 + 1]) / 2 }'
}

# fsops prints "<workload> <figure> <unit>": the figure, or "" on failure.
fsops() { "$FSOPS" "$@" 2>>"$TMP/fsops.err" | awk '{ print $2 }'; }

# Drops the page cache of one file (fadvise DONTNEED; a no-op on tmpfs,
# whose pages are the file), so a FUSE read goes to the daemon.
uncache() { dd if="$1" iflag=nocache count=0 status=none 2>/dev/null; }

# One run of `workload` on the target mounted at `dir`, round `r`; prints
# the figure.
run_one() {
  local workload="$1" target="$2" dir="$3" r="$4" a b
  case "$workload" in
    stat|scaling) fsops stat "$dir/f" "$STAT_N" ;;
    stat_cached) fsops stat "$dir/f" $((STAT_N * 10)) ;;
    stat2|scaling2)
      # Two processes at once; the figure is their sum.
      "$FSOPS" stat "$dir/f" "$STAT_N" >"$TMP/s2a" 2>>"$TMP/fsops.err" &
      "$FSOPS" stat "$dir/f" "$STAT_N" >"$TMP/s2b" 2>>"$TMP/fsops.err"
      wait $!
      a="$(awk '{ print $2 }' "$TMP/s2a")" b="$(awk '{ print $2 }' "$TMP/s2b")"
      [[ -n $a && -n $b ]] && echo $((a + b))
      ;;
    readdir) fsops readdir "$dir/d" "$READDIR_PASSES" ;;
    create)
      mkdir "$dir/c.$r" && fsops create "$dir/c.$r" "$FILES"
      rm -rf "$dir/c.$r"
      ;;
    read128k|read1m)
      local bs=$((128 << 10)) file="$dir/r.dat"
      [[ $workload == read1m ]] && bs=$((1 << 20))
      [[ $target == lightspeed ]] && file="$dir/f"
      # tmpfs reads the very file loopbackfs serves: two files' pages can
      # differ by 1.4x in read speed on this VM (where the host placed
      # them), which would pass for a FUSE cost.
      [[ $target == tmpfs && -e $STORE/lb/r.dat ]] && file="$STORE/lb/r.dat"
      uncache "$file"
      fsops read "$file" "$bs" "$MB"
      ;;
    write128k|write1m)
      local bs=$((128 << 10)) file="$dir/w.dat"
      [[ $workload == write1m ]] && bs=$((1 << 20))
      # tmpfs writes the very file the loopback targets write, for the same
      # reason (finding 13): a rewritten file gets back the pages it just
      # freed, so each file keeps its own speed, up to 1.2x apart.
      [[ $target == tmpfs && -d $STORE/lb ]] && file="$STORE/lb/w.dat"
      fsops write "$file" "$bs" "$MB"
      ;;
  esac
}

# workload rounds targets...: every round runs every target once, in an
# order shuffled per round. A fixed rotation would have each target always
# run right after the same one, and data targets inherit memory state (pages
# just freed, or handed back to the host) from the run before them. The
# shuffle is seeded by the round, so a run repeats.
measure() {
  local workload="$1" rounds="$2"; shift 2
  local targets=("$@") n r i j t v
  local ran=() order=()
  for t in "${targets[@]}"; do [[ -n ${DIR[$t]:-} ]] && ran+=("$t"); done
  n=${#ran[@]}
  ((n > 0)) || return 0
  # Data workloads first run once on every target unrecorded: the VM hands
  # freed memory back to the host and the first touch of it is slow.
  local first=1
  [[ $workload == read* || $workload == write* ]] && first=0
  ((rounds > MAX_ROUND)) && MAX_ROUND=$rounds
  for ((r = first; r <= rounds; r++)); do
    order=("${ran[@]}")
    RANDOM=$((r + 1))
    for ((i = n - 1; i > 0; i--)); do
      j=$((RANDOM % (i + 1)))
      t="${order[i]}" order[i]="${order[j]}" order[j]="$t"
    done
    for t in "${order[@]}"; do
      v="$(run_one "$workload" "$t" "${DIR[$t]}" "$r")"
      if ((r > 0)) && [[ $v =~ ^[0-9]+$ ]]; then
        RESULT["$workload $t"]+="$v "
        ROUND["$workload $t $r"]="$v"
        [[ -n $RAW ]] && printf '%s\t%s\t%s\t%s\n' "$workload" "$t" "$r" "$v" >>"$RAW"
      fi
    done
  done
}

want() { [[ ",$WORKLOADS," == *",$1,"* ]]; }
# The --workloads name a measured key belongs to.
flag_of() {
  case "$1" in
    scaling2) echo scaling ;;
    readdir) echo readdir ;;  # not one of the read workloads
    read*) echo read ;;
    write*) echo write ;;
    *) echo "$1" ;;
  esac
}

# Set-up: the file to stat, the directory to list, the file to read.
for t in "${!DIR[@]}"; do
  d="${DIR[$t]}"
  case "$t" in
    lightspeed*) continue ;;  # a fixed tree: /f
    loopback_*) d="$STORE/lb" ;;  # one backing directory for all of them
  esac
  [[ -e $d/f ]] || : >"$d/f"
  if want readdir && [[ ! -d $d/d ]]; then
    mkdir "$d/d" && "$FSOPS" create "$d/d" "$DIR_ENTRIES" >/dev/null
  fi
  # Only the data workloads' targets (DATA) read.
  if (want read) && [[ $t != memfs_u* && $t != memfs_c_* && ! -e $d/r.dat ]]; then
    "$FSOPS" write "$d/r.dat" $((1 << 20)) "$MB" >/dev/null
  fi
done

echo "mount_bench: $(nproc) CPUs, kernel $(uname -r), $ROUNDS rounds, $MB MiB data," \
  "stat $STAT_N, create $FILES, readdir $DIR_ENTRIES x $READDIR_PASSES" \
  "$([[ $QUICK == 1 ]] && echo '(quick)')"
for t in loopback_splice loopback_passthrough; do
  [[ -n ${WHY[$t]:-} ]] && echo "  $t: ${WHY[$t]}"
done
for t in "${!WHY[@]}"; do
  [[ ${WHY[$t]} == n/a* ]] || echo "  $t: ${WHY[$t]}"
done

START=$SECONDS
want stat && measure stat "$ROUNDS" lightspeed memfs_u memfs_u_1t memfs_u_perm memfs_u_spin \
  memfs_u_uring loopback_u tmpfs
want stat_cached && measure stat_cached "$ROUNDS" lightspeed memfs_c loopback_c tmpfs
want stat2 && measure stat2 "$ROUNDS" lightspeed_2t memfs_u loopback_u tmpfs
if want scaling; then
  measure scaling "$ROUNDS" lightspeed lightspeed_2t memfs_u_1t memfs_u
  measure scaling2 "$ROUNDS" lightspeed lightspeed_2t memfs_u_1t memfs_u
fi
want readdir && measure readdir "$ROUNDS" memfs_u memfs_u_nocache memfs_u_noplus loopback_u memfs_c \
  loopback_c tmpfs
want create && measure create "$ROUNDS" memfs_c memfs_c_before memfs_c_noperm memfs_c_spin \
  memfs_c_uring loopback_c memfs_u loopback_u tmpfs
DATA=(memfs_c loopback_c loopback_splice loopback_dio loopback_passthrough tmpfs)
if want read; then
  measure read128k "$ROUNDS" lightspeed "${DATA[@]}"
  measure read1m "$ROUNDS" lightspeed "${DATA[@]}"
fi
if want write; then
  # Writes vary most (the VM hands freed memory back to the host): more rounds.
  measure write128k $((2 * ROUNDS + 1)) "${DATA[@]}" loopback_pt_nokill
  measure write1m $((2 * ROUNDS + 1)) "${DATA[@]}" loopback_pt_nokill
fi

# --- The table -----------------------------------------------------------------
TITLE=(
  [0]="stat uncached|ops/s|lightspeed|stat|lightspeed memfs_u memfs_u_1t memfs_u_perm memfs_u_spin memfs_u_uring loopback_u tmpfs"
  [1]="stat cached (1h)|ops/s|lightspeed|stat_cached|memfs_c loopback_c tmpfs"
  [2]="stat, 2 procs|ops/s|lightspeed_2t|stat2|lightspeed_2t memfs_u loopback_u tmpfs"
  [3]="scaling: stat 1 proc|ops/s|lightspeed|scaling|lightspeed lightspeed_2t memfs_u_1t memfs_u"
  [4]="scaling: stat 2 procs|ops/s|lightspeed_2t|scaling2|lightspeed lightspeed_2t memfs_u_1t memfs_u"
  [5]="readdir ${DIR_ENTRIES}|entries/s|tmpfs|readdir|memfs_u memfs_u_nocache memfs_u_noplus loopback_u memfs_c loopback_c tmpfs"
  [6]="create+write 4K ${FILES}|files/s|tmpfs|create|memfs_c memfs_c_before memfs_c_noperm memfs_c_spin memfs_c_uring loopback_c memfs_u loopback_u tmpfs"
  [7]="read ${MB}M 128K|MiB/s|tmpfs|read128k|lightspeed ${DATA[*]}"
  [8]="read ${MB}M 1M|MiB/s|tmpfs|read1m|lightspeed ${DATA[*]}"
  [9]="write ${MB}M 128K|MiB/s|tmpfs|write128k|${DATA[*]} loopback_pt_nokill"
  [10]="write ${MB}M 1M|MiB/s|tmpfs|write1m|${DATA[*]} loopback_pt_nokill"
)
# paired "KEYS" TARGET REF: the median over rounds of `target`'s figure
# divided by `ref`'s in the same round, for the rounds both have, in every
# workload of KEYS (more than one pools their rounds). Each round runs every
# target within seconds, so this cancels the host's slower and faster
# phases, which move whole rounds: steadier than the ratio of the two
# medians.
paired() {
  local keys="$1" target="$2" ref="$3" key r a b ratios=""
  for key in $keys; do
    for ((r = 1; r <= MAX_ROUND; r++)); do
      a="${ROUND["$key $target $r"]:-}" b="${ROUND["$key $ref $r"]:-}"
      [[ -n $a && -n $b && $b != 0 ]] || continue
      ratios+="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.6f", a / b }') "
    done
  done
  [[ -n $ratios ]] || return 0
  awk -v m="$(median <<<"$ratios")" 'BEGIN { printf "%.3f", m }'
}

# For stat the lightspeed figure of the stat workload is the reference even
# where that workload did not run lightspeed (cached stat).
echo
printf '%-22s %-22s %12s %-9s %8s %8s %8s  %s\n' workload target median unit "x ref" paired \
  "x tmpfs" "runs"
printf '%s\n' "$(printf '%.0s-' $(seq 100))"
rows=0
for line in "${TITLE[@]}"; do
  IFS='|' read -r title unit ref key targets <<<"$line"
  ref_workload="$key"
  [[ $key == stat_cached ]] && ref_workload=stat
  refv="$(median <<<"${RESULT["$ref_workload $ref"]:-}")"
  tmpv="$(median <<<"${RESULT["$key tmpfs"]:-}")"
  for t in $targets; do
    values="${RESULT["$key $t"]:-}"
    if [[ -z $values ]]; then
      want "$(flag_of "$key")" || continue
      reason="${WHY[$t]:-no result}"
      printf '%-22s %-22s %12s %-9s %8s %8s %8s  %s\n' "$title" "$t" "-" "$unit" "" "" "" \
        "$reason"
      continue
    fi
    m="$(median <<<"$values")"
    xr="" xp="" xt=""
    [[ -n $refv && $t != "$ref" ]] && xr="$(awk -v a="$m" -v b="$refv" 'BEGIN { printf "%.3f", a / b }')"
    [[ $ref_workload == "$key" && $t != "$ref" ]] && xp="$(paired "$key" "$t" "$ref")"
    [[ -n $tmpv && $t != tmpfs ]] && xt="$(awk -v a="$m" -v b="$tmpv" 'BEGIN { printf "%.3f", a / b }')"
    printf '%-22s %-22s %12s %-9s %8s %8s %8s  %s\n' "$title" "$t" "$m" "$unit" "$xr" "$xp" "$xt" \
      "$values"
    rows=$((rows + 1))
  done
done
echo
echo "mount_bench: $rows results in $((SECONDS - START)) s (x ref: against lightspeed for stat," \
  "tmpfs otherwise; medians of the runs listed; paired: median of the rounds' own ratios)"
if [[ -s $TMP/fsops.err ]]; then
  echo "mount_bench: fsops errors:"; sort "$TMP/fsops.err" | uniq -c | head -5
fi

# --- Against the targets -------------------------------------------------------
# fusekit's performance targets (docs/PERFORMANCE.md, "Against the issue's
# targets"), each as a paired ratio of this run. Where two workloads measure
# the same comparison (stat and scaling: one caller; stat2 and scaling2: two
# callers), their rounds are pooled: more pairs, nothing else changes.

MET=0 MISSED=0 UNMEASURED=0
# target NAME GOAL "KEYS" REF TARGET...: the best of the TARGETs (alternative
# configurations of one daemon) against GOAL.
target() {
  local name="$1" goal="$2" keys="$3" ref="$4" t x best="" all=""
  shift 4
  for t in "$@"; do
    x="$(paired "$keys" "$t" "$ref")"
    [[ -n $x ]] || continue
    all+="${all:+, }$t $x"
    if [[ -z $best ]] || awk -v a="$x" -v b="$best" 'BEGIN { exit !(a > b) }'; then
      best="$x"
    fi
  done
  local verdict
  if [[ -z $best ]]; then
    verdict="not measured" UNMEASURED=$((UNMEASURED + 1))
  elif awk -v a="$best" -v g="$goal" 'BEGIN { exit !(a >= g) }'; then
    verdict="met" MET=$((MET + 1))
  else
    verdict="MISSED" MISSED=$((MISSED + 1))
  fi
  printf '%-48s >= %-5s %-6s %-7s %s\n' "$name" "$goal" "${best:--}" "$verdict" \
    "${all:+($all x $ref)}"
}

echo
echo "targets (paired ratios; the best of the configurations listed$([[ $QUICK == 1 ]] &&
  echo '; a --quick run says nothing about them'))":
{ want stat || want scaling; } &&
  target "stat, timeouts 0, 1 daemon thread" 0.95 "stat scaling" lightspeed memfs_u_1t
{ want stat2 || want scaling; } &&
  target "stat, timeouts 0, 2 daemon threads, 2 callers" 0.95 "stat2 scaling2" lightspeed_2t \
    memfs_u
want scaling && target "stat, timeouts 0, 2 daemon threads, 1 caller" 0.95 scaling \
  lightspeed_2t memfs_u
if want read; then
  target "read 1 MiB, loopbackfs with passthrough" 0.95 read1m tmpfs loopback_passthrough
  target "read 1 MiB, loopbackfs without passthrough" 0.3 read1m tmpfs loopback_splice \
    loopback_dio
fi
if want write; then
  target "write 1 MiB, loopbackfs with passthrough" 0.9 write1m tmpfs loopback_passthrough
  target "write 1 MiB, loopbackfs without passthrough" 0.5 write1m tmpfs loopback_c \
    loopback_splice loopback_dio
fi
want create && target "create+write 4 KiB, memfs, permission checks on" 0.075 create tmpfs memfs_c
want readdir && target "readdir, memfs timeouts 0, through the daemon" 0.3 readdir tmpfs \
  memfs_u_nocache
echo "mount_bench: targets met $MET, missed $MISSED, not measured $UNMEASURED"
