#!/usr/bin/env bash
# Installs, from Debian 12's packages, exactly what fusekit's build, tests,
# benchmarks and examples need. Idempotent: a second run installs nothing.
set -euo pipefail

packages=(
  bazel-bootstrap        # the build (Bazel 4.2.3, offline)
  g++ pkg-config         # the default toolchain
  clang-14 clang libclang-rt-14-dev  # --config=clang, libFuzzer, sanitizers
  libabsl-dev            # abseil: status, strings, synchronization, flags
  libgtest-dev libgmock-dev libbenchmark-dev
  libarchive-dev         # examples/archivefs: reads .tar, .tar.gz, .zip
  fuse3                  # fusermount3 for unprivileged mounts, /etc/fuse.conf
  kmod                   # modprobe fuse where /dev/fuse is missing
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# /dev/fuse comes from the fuse module; load it if the kernel has it apart.
if [ ! -e /dev/fuse ] && [ "$(id -u)" -eq 0 ]; then
  modprobe fuse 2>/dev/null || echo "setup: /dev/fuse is absent; real-mount tests will be SKIPPED" >&2
fi
echo "setup: ready"
