#!/usr/bin/env bash
# Builds tests/c/test_kernels.c against the C sources directly, as setup.py builds the extension:
# src/csm_kernels.c once per instruction set with setup.py's KERNEL_FLAGS and the set's flags (read
# from setup.py by tools/kernel_flags.py), src/csm_dispatch.c with the list of those sets,
# src/csm_planner.c and src/csm_pool.c, all with OpenMP; then runs it (extra arguments go to the
# program).
#
#   tests/c/run.sh [--quick]                  # natively
#   CC=aarch64-linux-gnu-gcc TARGET=aarch64 LINK=-static RUNNER=qemu-aarch64 tests/c/run.sh
#
# CC: the compiler (gcc); TARGET: the machine the sets are chosen for (this one's); LINK: extra
# link flags; RUNNER: a command the program runs under (an emulator); OUT: the build directory
# (a temporary one, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/../.."

cc=${CC:-gcc}
target=${TARGET:-$(uname -m)}
out=${OUT:-}
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# "KERNEL_FLAGS <flags>", "ISA <name> <vector bytes> <flags>" per set, best first, "ISA_LIST <macro>"
settings=$(python3 tools/kernel_flags.py "$target")
kernel_flags=$(sed -n 's/^KERNEL_FLAGS //p' <<< "$settings")
list=$(sed -n 's/^ISA_LIST //p' <<< "$settings")
objects=()
names=""
while read -r tag name vec_bytes flags; do
    [ "$tag" = ISA ] || continue
    # shellcheck disable=SC2086  # the flags are words
    $cc -c src/csm_kernels.c -Isrc -DCSM_ISA="$name" -DCSM_VEC_BYTES="$vec_bytes" \
        $kernel_flags $flags -o "$out/kernels_$name.o"
    objects+=("$out/kernels_$name.o")
    names+=" $name"
done <<< "$settings"
# the rest as the extension compiles it (setup.py: -O2, OpenMP)
$cc -c -O2 -fopenmp -Isrc "-DCSM_ISA_LIST=$list" src/csm_dispatch.c -o "$out/dispatch.o"
$cc -c -O2 -fopenmp -Isrc src/csm_planner.c -o "$out/planner.o"
$cc -c -O2 -fopenmp -Isrc src/csm_pool.c -o "$out/pool.o"
$cc -c -O2 -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Isrc tests/c/test_kernels.c -o "$out/test.o"
# shellcheck disable=SC2086  # LINK is words
$cc -fopenmp "$out/test.o" "$out/dispatch.o" "$out/planner.o" "$out/pool.o" "${objects[@]}" ${LINK:-} -lm \
    -o "$out/test_kernels"
echo "-- built $out/test_kernels for $target:$names"
# shellcheck disable=SC2086  # RUNNER is words
${RUNNER:-} "$out/test_kernels" "$@"
