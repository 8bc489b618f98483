"""A/B two builds of csoftmax in one process, interleaved, with an A/A check for the noise.

    python tools/ab_builds.py OLD/csoftmax NEW/csoftmax [--rounds 15] [--cases quick|all|short|every]

Each argument is a built package folder (an editable checkout's ``csoftmax/`` after
``pip install -e .``). Both are copied under other names (``ab_a``, ``ab_b``, and ``ab_a2``, a
second copy of A) and imported side by side; every case's arrays are made once and shared by all
three (so 4K aliasing between input and output is the same for each); every case is then timed
round-robin, one thread, and the report gives per case the median time of A and the medians of
B/A and A2/A. On a shared,
noisy machine only such interleaved ratios mean anything: a B/A outside the A2/A spread is a
change.
"""
import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUICK = [("softmax", (64, 1000)), ("softmax", (4096, 1000)), ("softmax", (16384, 10)),
         ("softmax", (8, 128256)), ("log_softmax", (256, 1000)), ("logsumexp", (256, 1000)),
         ("cross_entropy", (4096, 1000)), ("softmax0", (1000, 4096))]
ALL = QUICK + [("softmax", (32, 32000)), ("log_softmax", (4096, 1000)),
               ("logsumexp", (4096, 1000)), ("cross_entropy", (64, 1000)),
               ("cross_entropy", (16384, 10)), ("cross_entropy", (8, 128256)),
               ("softmax_f64", (4096, 1000)), ("sigmoid", (4096, 1000)),
               ("log_sigmoid", (4096, 1000)), ("binary_cross_entropy", (4096, 1000)),
               ("softmax_backward", (4096, 1000))]
# rows of 32 to a few hundred (classifiers, attention): every op
SHORT = [(op, shape) for shape in ((16384, 32), (4096, 100), (2048, 257), (16384, 128))
         for op in ("softmax", "log_softmax", "logsumexp", "cross_entropy")]
CASES = {"quick": QUICK, "all": ALL, "short": SHORT, "every": ALL + SHORT}


def load(folder, name, tmp):
    dst = Path(tmp) / name
    shutil.copytree(folder, dst, ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    return importlib.import_module(name)


def inputs_for(op, shape, rng):
    """The case's arrays, made once and shared by every build: arrays of their own would sit at
    other addresses, so 4K aliasing between input and output would differ from build to build."""
    x = rng.standard_normal(shape).astype(np.float32) * 4
    if op == "softmax_f64":
        return {"x": x.astype(np.float64)}
    if op == "cross_entropy":
        return {"x": x, "t": rng.integers(0, shape[-1], shape[0])}
    if op == "binary_cross_entropy":
        return {"x": x, "t": rng.uniform(0, 1, shape).astype(np.float32)}
    if op == "softmax_backward":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return {"x": x, "y": e / e.sum(axis=-1, keepdims=True)}
    return {"x": x}


def call_for(mod, op, arrays):
    x = arrays["x"]
    if op == "softmax_f64":
        return lambda: mod.softmax(x)
    if op == "softmax0":
        return lambda: mod.softmax(x, axis=0)
    if op == "cross_entropy":
        return lambda: mod.cross_entropy(x, arrays["t"], return_grad=True)
    if op == "binary_cross_entropy":
        return lambda: mod.binary_cross_entropy(x, arrays["t"], return_grad=True)
    if op == "softmax_backward":
        return lambda: mod.softmax_backward(x, arrays["y"])
    fn = getattr(mod, op)
    return lambda: fn(x)


def best_of(fn, seconds=0.02):
    """Best per-call time over a batch sized to take about `seconds`."""
    fn()
    n, t0 = 1, time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    n = max(1, int(seconds / one))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--cases", choices=sorted(CASES), default="quick")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        mods = {"A": load(args.a, "ab_a", tmp), "B": load(args.b, "ab_b", tmp),
                "A2": load(args.a, "ab_a2", tmp)}
        for m in mods.values():
            m.set_num_threads(1)
        print(f"ISA {mods['A'].get_isa()}, one thread, {args.rounds} rounds, interleaved")
        print(f"{'case':<34} {'A median us':>12} {'B/A':>6} {'range':>13} {'A2/A':>6} {'range':>13}")
        for op, shape in CASES[args.cases]:
            arrays = inputs_for(op, shape, np.random.default_rng(0))
            fns = {k: call_for(m, op, arrays) for k, m in mods.items()}
            times = {k: [] for k in fns}
            for _ in range(args.rounds):
                for k, fn in fns.items():
                    times[k].append(best_of(fn))
            a = statistics.median(times["A"])
            ratios = {k: sorted(t / ta for t, ta in zip(times[k], times["A"])) for k in ("B", "A2")}
            cells = []
            for k in ("B", "A2"):
                r = ratios[k]
                q = len(r) // 4
                cells.append(f"{statistics.median(r):6.3f} {r[q]:6.3f}-{r[-1 - q]:6.3f}")
            print(f"{op + ' ' + 'x'.join(map(str, shape)):<34} {a * 1e6:12.1f} {cells[0]} {cells[1]}")


if __name__ == "__main__":
    main()
