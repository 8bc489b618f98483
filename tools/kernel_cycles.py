"""Per instruction-set build: the float32 softmax hot loops' vector instructions per vector (from
the disassembly) and ns / core cycles per element of the kernels called from C (no Python): the
plain rows (float32, float64), the fused block path (float32 with a scale and a bias row) and the
float16 half kernels where the build has them, each also with FTZ and DAZ set in MXCSR (the
harness calls the table's entries directly, so their own environment is the caller's: a ratio
above ~1.05 there is a subnormal the kernel lets through, an Intel microcode assist).

    python tools/kernel_cycles.py [--shapes 64x1000,4096x1000,...] [--isas avx512,avx2]

Each build of src/dispatch/csm_kernels.c is compiled here with setup.py's flags, linked with
tools/kernel_cycles.c and run on this CPU (builds it cannot run, by the installed csoftmax's
available_isas(), are only disassembled). Loops are
found from backward jumps in softmax's entry point and named by a source line of theirs (MARKERS,
read through the debug line table); counts include everything the loop issues (spills too).
"Vectors" are what one iteration handles (MARKERS).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from kernel_flags import build_settings, include_dirs   # setup.py's settings (tools/)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = "64x1000,256x1000,4096x1000,8x128256,16384x10,16384x32,4096x100,2048x257"


def run(cmd):
    subprocess.run(cmd, check=True)


# The hot loops: a line of theirs in the source (update the text when the kernel changes; the
# line above it counts too, for the loop's own `for`), and the vectors one iteration handles.
MARKERS = {"max": ("csm_rows.h", "m0 = CSM_FN(vmax)(CSM_FN(vload)(x + i), m0);", 2),
           "exp": ("csm_rows.h", "acc0 += e0;", 2),   # the smallest copy: c = 0
           "scale": ("csm_rows.h", "CSM_FN(vload)(out + i) * inv);", 1)}


def marker_lines():
    found = {}
    for loop, (header, text, _) in MARKERS.items():
        with open(os.path.join(ROOT, "src", "softmax", header)) as f:
            for number, line in enumerate(f, 1):
                if text in line:
                    found[loop] = {(header, number - 1), (header, number)}
                    break
    return found


def functions(obj):
    """{symbol: [(address, mnemonic, operands, (header, line))]} from objdump -l."""
    text = subprocess.run(["objdump", "-d", "-l", "--no-show-raw-insn", obj], check=True,
                          capture_output=True, text=True).stdout
    funcs, cur, where = {}, None, None
    for line in text.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        m = re.match(r"^(/\S+):(\d+)", line)
        if m:
            where = (os.path.basename(m.group(1)), int(m.group(2)))
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m and cur is not None:
            cur.append((int(m.group(1), 16), m.group(2), m.group(3), where))
    return funcs


def loops(insns):
    """Bodies of the loops closed by a backward jump, smallest first."""
    out = []
    for i, (addr, mnem, ops, _) in enumerate(insns):
        if mnem.startswith("j"):
            m = re.match(r"([0-9a-f]+)", ops)
            if m and int(m.group(1), 16) <= addr:
                target = int(m.group(1), 16)
                out.append([ins for ins in insns[:i + 1] if ins[0] >= target])
    return sorted(out, key=len)


def is_vector(mnem, ops):
    return bool(re.search(r"[xyz]mm", ops)) or mnem.startswith("k")


def hot_loops(obj, isa):
    """{loop: (vector instructions per iteration, vectors per iteration)}, float32 softmax: the
    smallest loop on softmax's path holding a marker line and a vector instruction."""
    funcs = functions(obj)
    # softmax's path for rows under 128 KB: its entry point and what gcc keeps out of line
    path = ("csm_softmax_rows_entry", "csm_softmax_row_", "csm_row_max")
    names = [k for p in path for k in funcs if k.startswith(p) and f"_f32_{isa}" in k]
    found = {}
    for loop, where in marker_lines().items():
        for name in names:
            body = next((b for b in loops(funcs[name])
                         if any(is_vector(m, o) for _, m, o, _ in b)
                         and any(ins[3] in where for ins in b)), None)
            if body is not None:
                found[loop] = (sum(is_vector(m, o) for _, m, o, _ in body), MARKERS[loop][2])
                break
    return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--isas", help="comma-separated subset (default: every build setup.py makes)")
    args = ap.parse_args(argv)
    kernel_flags, isas = build_settings()
    wanted = args.isas.split(",") if args.isas else [name for name, _, _ in isas]
    import csoftmax   # the installed build knows which instruction sets this CPU runs
    runnable = set(csoftmax.available_isas())
    shapes = [s.split("x") for s in args.shapes.split(",")]
    loop_rows, time_rows = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, vec_bytes, flags in isas:
            if name not in wanted:
                continue
            obj, exe = os.path.join(tmp, f"k_{name}.o"), os.path.join(tmp, f"h_{name}")
            defs = [f"-DCSM_ISA={name}", f"-DCSM_VEC_BYTES={vec_bytes}", *("-I" + d for d in include_dirs())]
            run(["gcc", "-c", "-g", *kernel_flags, *flags, *defs,
                 os.path.join(ROOT, "src", "dispatch", "csm_kernels.c"), "-o", obj])
            for loop, (n, vectors) in sorted(hot_loops(obj, name).items()):
                loop_rows.append((name, loop, n, vectors, n / vectors))
            if name not in runnable:
                print(f"# {name}: this CPU cannot run it (disassembly only)", file=sys.stderr)
                continue
            run(["gcc", "-O2", *defs, os.path.join(ROOT, "tools", "kernel_cycles.c"), obj, "-lm",
                 "-o", exe])
            out = subprocess.run([exe, *[v for s in shapes for v in s]], check=True,
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                if line.startswith("#"):
                    print(line)
                    continue
                op, dt, path, rows, n, ns, cyc, ns_ftz = line.split("\t")
                time_rows.setdefault((op, dt, path, f"{rows}x{n}"), {})[name] = (
                    float(ns), float(cyc), float(ns) / float(ns_ftz))
    print("\nfloat32 softmax hot loops: vector instructions per iteration / vectors per iteration\n")
    print("| build | loop | instructions | vectors | per vector |\n|---|---|---:|---:|---:|")
    for name, loop, n, vectors, per in loop_rows:
        print(f"| {name} | {loop} | {n} | {vectors} | {per:.1f} |")
    built = [name for name, _, _ in isas if name in wanted and name in runnable]
    print("\nns per element (core cycles per element) [time with FTZ+DAZ off / on], called from C, "
          "in a loop over the same input\n")
    print("| op | dtype | path | shape | " + " | ".join(built) + " |")
    print("|---|---|---|---|" + "---:|" * len(built))
    for (op, dt, path, shape), cells in time_rows.items():
        print(f"| {op} | {dt} | {path} | {shape} | " + " | ".join(
            f"{cells[b][0]:.3f} ({cells[b][1]:.2f}) [{cells[b][2]:.2f}]" if b in cells else ""
            for b in built) + " |")


if __name__ == "__main__":
    main()
