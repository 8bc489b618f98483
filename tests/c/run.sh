#!/usr/bin/env bash
# Builds the C test program (tests/c/*.c: test_kernels.c's main, harness.c, a test_<family>.c per
# family) against the C sources directly, as setup.py builds the extension:
# src/dispatch/csm_kernels.c once per instruction set with setup.py's KERNEL_FLAGS and the set's
# flags, src/dispatch/csm_dispatch.c with the list of those sets, src/dispatch/csm_planner.c and
# src/output_cache/csm_pool.c, all with OpenMP and setup.py's include folders (read from setup.py
# by tools/kernel_flags.py); then runs it (extra arguments go to the program).
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

# "INCLUDES <-I flags>", "KERNEL_FLAGS <flags>", "ISA <name> <vector bytes> <flags>" per set,
# best first, "ISA_LIST <macro>"
settings=$(python3 tools/kernel_flags.py "$target")
includes=$(sed -n 's/^INCLUDES //p' <<< "$settings")
kernel_flags=$(sed -n 's/^KERNEL_FLAGS //p' <<< "$settings")
list=$(sed -n 's/^ISA_LIST //p' <<< "$settings")
objects=()
names=""
while read -r tag name vec_bytes flags; do
    [ "$tag" = ISA ] || continue
    # shellcheck disable=SC2086  # the flags are words
    $cc -c src/dispatch/csm_kernels.c $includes -DCSM_ISA="$name" -DCSM_VEC_BYTES="$vec_bytes" \
        $kernel_flags $flags -o "$out/kernels_$name.o"
    objects+=("$out/kernels_$name.o")
    names+=" $name"
done <<< "$settings"
# the rest as the extension compiles it (setup.py: -O2, OpenMP)
# shellcheck disable=SC2086  # the include flags are words
$cc -c -O2 -fopenmp $includes "-DCSM_ISA_LIST=$list" src/dispatch/csm_dispatch.c \
    -o "$out/dispatch.o"
# shellcheck disable=SC2086
$cc -c -O2 -fopenmp $includes src/dispatch/csm_planner.c -o "$out/planner.o"
# shellcheck disable=SC2086
$cc -c -O2 -fopenmp $includes src/output_cache/csm_pool.c -o "$out/pool.o"
# the test program: main (test_kernels.c), the shared harness, one file per family
tests=()
for src in tests/c/*.c; do
    obj="$out/$(basename "$src" .c).o"
    # shellcheck disable=SC2086
    $cc -c -O2 -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra $includes "$src" -o "$obj"
    tests+=("$obj")
done
# shellcheck disable=SC2086  # LINK is words
$cc -fopenmp "${tests[@]}" "$out/dispatch.o" "$out/planner.o" "$out/pool.o" "${objects[@]}" \
    ${LINK:-} -lm \
    -o "$out/test_kernels"
echo "-- built $out/test_kernels for $target:$names"
# shellcheck disable=SC2086  # RUNNER is words
${RUNNER:-} "$out/test_kernels" "$@"
