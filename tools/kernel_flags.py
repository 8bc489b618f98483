"""setup.py's kernel build settings for builds outside setuptools (tools/kernel_cycles.py,
tests/c/run.sh): KERNEL_FLAGS and the instruction sets compiled for a target, read from setup.py
with ast, so they are written in one place.

    python3 tools/kernel_flags.py [x86_64|aarch64|other]

prints "KERNEL_FLAGS <flags>", then one "ISA <name> <vector bytes> <flags>" line per build, best
first, for the target (by default this machine's).
"""
import ast
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_settings(names=("KERNEL_FLAGS", "X86_ISAS")):
    """The values of setup.py's top-level assignments `names`, in that order."""
    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in names:
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return tuple(found[name] for name in names)


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else platform.machine().lower()
    flags, x86, arm64 = build_settings(("KERNEL_FLAGS", "X86_ISAS", "ARM64_ISAS"))
    isas = (x86 if target in ("x86_64", "amd64") else arm64 if target in ("aarch64", "arm64")
            else [("baseline", 16, [])])
    print("KERNEL_FLAGS", " ".join(flags))
    for name, vec_bytes, isa_flags in isas:
        print("ISA", name, vec_bytes, " ".join(isa_flags))


if __name__ == "__main__":
    main()
