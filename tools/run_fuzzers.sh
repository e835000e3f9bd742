#!/usr/bin/env bash
# Builds fusekit's libFuzzer targets (clang, ASan + UBSan: --config=fuzz) and
# runs each for a fixed time over a scratch copy of its seed corpus; the
# checked-in corpus (fuzz/corpus/) is never modified.
#
#   tools/run_fuzzers.sh                 # every fuzzer, 60 s each
#   FUZZ_SECONDS=600 tools/run_fuzzers.sh session
#
# Environment:
#   FUZZ_SECONDS   seconds per fuzzer (default 60)
#   FUZZ_WORKDIR   where the scratch corpora and crash files go (default: a
#                  new directory under $TMPDIR or /tmp; removed after a clean
#                  run unless FUZZ_KEEP=1)
#   FUZZ_KEEP=1    keep the scratch directory after a clean run (e.g. to
#                  merge new corpus entries by hand)
#
# Exits non-zero if a fuzzer finds a crash (or a leak, timeout, out-of-memory,
# sanitizer report) and prints the path of each input that triggers one;
# reproduce with `<fuzzer binary> <path>`, or add the file to
# fuzz/corpus/<name>/ so the regression tests keep it.
set -euo pipefail

cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
if [ "$#" -gt 0 ]; then
  fuzzers=("$@")
else
  fuzzers=(decoder session tree)
fi

# A separate output directory for the instrumented build, so it does not
# overwrite (and later force a rebuild of) the ordinary gcc outputs.
bazel_flags=(--config=fuzz --platform_suffix=fuzz --copt=-gline-tables-only)
targets=()
for name in "${fuzzers[@]}"; do targets+=("//fuzz:${name}_fuzzer"); done

bazel build "${bazel_flags[@]}" "${targets[@]}"
bin="$(bazel info "${bazel_flags[@]}" bazel-bin 2>/dev/null)"

if [ -n "${FUZZ_WORKDIR:-}" ]; then
  work="$FUZZ_WORKDIR"
  mkdir -p "$work"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/fusekit-fuzz.XXXXXX")"
fi

# Every sanitizer report is fatal, so libFuzzer saves the input behind it.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"

failed=0
summary=()
for name in "${fuzzers[@]}"; do
  binary="$bin/fuzz/${name}_fuzzer"
  seeds="fuzz/corpus/$name"
  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts"
  log="$work/$name/fuzz.log"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "$seeds" ]; then cp -R "$seeds/." "$corpus/"; fi

  echo "=== $name: ${seconds}s, corpus copy in $corpus"
  rc=0
  "$binary" -max_total_time="$seconds" -max_len=70000 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?

  # libFuzzer's last status line: "#N DONE cov: C ft: F corp: ... exec/s: E ..."
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  execs="$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}' || true)"
  rate="$(grep -E '^stat::average_exec_per_sec' "$log" | tail -n 1 | awk '{print $2}' || true)"
  cov="$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, features \2, corpus \3/p' \
    <<<"$last")"

  crashes=()
  while IFS= read -r -d '' f; do crashes+=("$f"); done \
    < <(find "$artifacts" -type f -print0)
  if [ "$rc" -ne 0 ] || [ "${#crashes[@]}" -gt 0 ]; then
    failed=1
    echo "!!! $name FAILED (exit $rc); log: $log"
    grep -E 'ERROR: |runtime error|invariant violated|SUMMARY' "$log" | head -n 5 || true
    for f in "${crashes[@]}"; do echo "!!! crashing input: $f"; done
    summary+=("$name: FAILED (exit $rc) after ${execs:-?} execs; see $log")
  else
    echo "$name: ok, ${execs:-?} execs, ${rate:-?} exec/s, ${cov:-?}"
    summary+=("$name: ok, ${execs:-?} execs in ${seconds}s (${rate:-?} exec/s), ${cov:-?}")
  fi
done

echo
echo "=== fuzz summary"
for line in "${summary[@]}"; do echo "  $line"; done

if [ "$failed" -ne 0 ]; then
  echo "scratch directory kept: $work"
  exit 1
fi
if [ "${FUZZ_KEEP:-0}" = 1 ] || [ -n "${FUZZ_WORKDIR:-}" ]; then
  echo "scratch directory kept: $work"
else
  rm -rf "$work"
fi
