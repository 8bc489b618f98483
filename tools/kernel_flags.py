"""setup.py's kernel build settings for builds outside setuptools (tools/kernel_cycles.py,
tests/c/run.sh): the include folders (SRC_DIRS), KERNEL_FLAGS and the instruction sets compiled
for a target, read from setup.py with ast, so they are written in one place.

    python3 tools/kernel_flags.py [x86_64|aarch64|other]

prints "INCLUDES <-I flags, relative to the checkout>", "KERNEL_FLAGS <flags>", then one
"ISA <name> <vector bytes> <flags>" line per build, best first, for the target (by default this
machine's), then "ISA_LIST <CSM_ISA_LIST for csm_dispatch.c>".
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


def include_dirs():
    """setup.py's SRC_DIRS (the folders of src/), as absolute paths."""
    (dirs,) = build_settings(("SRC_DIRS",))
    return [os.path.join(ROOT, d) for d in dirs]


def isa_list_macro(isas):
    """setup.py's isa_list_macro (CSM_ISA_LIST for csm_dispatch.c), taken from its source."""
    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "isa_list_macro")
    namespace = {}
    exec(compile(ast.Module(body=[node], type_ignores=[]), "setup.py", "exec"), namespace)
    return namespace["isa_list_macro"](isas)


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else platform.machine().lower()
    flags, x86, arm64, dirs = build_settings(("KERNEL_FLAGS", "X86_ISAS", "ARM64_ISAS", "SRC_DIRS"))
    isas = (x86 if target in ("x86_64", "amd64") else arm64 if target in ("aarch64", "arm64")
            else [("baseline", 16, [])])
    print("INCLUDES", " ".join("-I" + d for d in dirs))
    print("KERNEL_FLAGS", " ".join(flags))
    for name, vec_bytes, isa_flags in isas:
        print("ISA", name, vec_bytes, " ".join(isa_flags))
    print("ISA_LIST", isa_list_macro(isas))


if __name__ == "__main__":
    main()
