"""The command ``python -m csoftmax.bench [options]``: its options, the rows to run, ``main``.

Prints, per operation, a table of median times for csoftmax, the NumPy
reference, SciPy, PyTorch, ONNX Runtime, oneDNN and JAX (whichever are installed),
csoftmax's speedup over each and over the fastest of them, its throughput and
its time relative to a plain memory copy; then extra sections (float64,
axis=0, each ISA path, per-call overhead).  Every result is checked against ``csoftmax.reference`` before it
is timed.  Progress goes to stderr, the report to stdout.

Exit status: 0 on success, 1 if a csoftmax result was wrong or raised,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

import csoftmax

from . import decoding, fused, report
from .environment import environment, header_lines
from .peers import OPS, PEER_ORDER, load_peers
from .plot import PlotUnavailable, plot_speedups, require_matplotlib
from .runner import Progress, RowSpec, Runner, parse_shapes, shape_label
from .timing import QUICK_POLICY, TimingPolicy

#: 8x16x128x128: attention scores (batch, heads, queries, keys), reduced over the keys.
DEFAULT_SHAPES = (
    "1x10,64x1000,256x1000,4096x1000,32x32000,8x128256,16384x10,16384x32,4096x100,2048x257,8x16x128x128,65536x1024"
)
QUICK_SHAPES = "1x10,64x1000,4096x1000,8x128256,16384x10,4096x100"
#: Inputs at least this large get a preallocated out= under --out auto: a
#: fresh 256 MiB result costs more in page faults than the softmax itself.
OUT_AUTO_BYTES = 64 << 20
#: The extra sections' case (matches a row of the default table).
EXTRA_SHAPE = (4096, 1000)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m csoftmax.bench",
        description="Benchmark csoftmax against NumPy, SciPy, PyTorch, ONNX Runtime, oneDNN and JAX.",
        epilog="Peers that are not installed are listed as such and skipped.",
    )
    p.add_argument("--quick", action="store_true", help="few shapes, short timings (< 60 s; for CI)")
    p.add_argument(
        "--shapes", help="comma-separated shapes such as 64x1000 or 8x16x128x128, reduced over the last axis"
        f" (default: {DEFAULT_SHAPES})"
    )
    p.add_argument("--dtypes", default="float32", help="comma-separated: float32,float64 (default: float32)")
    p.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of {','.join(OPS)}")
    p.add_argument("--impls", help=f"comma-separated subset of {','.join(PEER_ORDER)} (csoftmax always runs)")
    p.add_argument(
        "--threads", type=int, default=1, help="threads for csoftmax, PyTorch, ONNX Runtime, JAX (default 1)"
    )
    p.add_argument(
        "--out",
        choices=("auto", "always", "never"),
        default="auto",
        help="preallocate out= (auto: inputs >= 64 MiB only)",
    )
    p.add_argument("--no-extras", action="store_true", help="skip the float64 / axis / ISA / per-call sections")
    p.add_argument("--json", metavar="FILE", help="write every raw number (all samples) to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of speedups (needs matplotlib)")
    p.add_argument("--markdown", action="store_true", help="emit the report as Markdown (for the README)")
    p.add_argument("--seed", type=int, default=0, help="input random seed (default 0)")
    p.add_argument("--max-time", type=float, default=270.0,
                   help="after this many seconds, time remaining cells minimally")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--dask", action="store_true",
                   help="instead: csoftmax.dask against dask.array on a 2-worker LocalCluster "
                   "(16384x32000 float32, or the first of --shapes; needs the dask extra)")
    args = p.parse_args(argv)
    try:
        args.shape_list = parse_shapes(args.shapes or (QUICK_SHAPES if args.quick else DEFAULT_SHAPES))
    except ValueError as exc:
        p.error(str(exc))
    args.dtype_list = _choices(p, "--dtypes", args.dtypes, ("float32", "float64"))
    args.op_list = _choices(p, "--ops", args.ops, OPS)
    args.impl_list = _choices(p, "--impls", args.impls, PEER_ORDER) if args.impls else None
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def _choices(p: argparse.ArgumentParser, flag: str, text: str, allowed: Sequence[str]) -> List[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        p.error(f"{flag}: unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(allowed)}")
    return items


def plan(args: argparse.Namespace) -> List[RowSpec]:
    """Every row to measure, in run order."""
    specs = []
    itemsize = {"float32": 4, "float64": 8}
    # Shape outermost so one input array serves every operation in turn.
    for dtype in args.dtype_list:
        for shape in args.shape_list:
            nbytes = int(np.prod(shape)) * itemsize[dtype]
            use_out = args.out == "always" or (args.out == "auto" and nbytes >= OUT_AUTO_BYTES)
            for op in args.op_list:
                if op == "cross_entropy" and len(shape) != 2:
                    continue  # (N, C) logits only
                specs.append(RowSpec("main", op, dtype, shape, use_out=use_out))
    if args.no_extras or "softmax" not in args.op_list:
        return specs
    specs.append(RowSpec("float64", "softmax", "float64", EXTRA_SHAPE))
    rows, cols = EXTRA_SHAPE
    specs.append(RowSpec("axis", "softmax", "float32", (rows, cols), -1, label=f"{rows}x{cols} axis=-1"))
    specs.append(RowSpec("axis", "softmax", "float32", (cols, rows), 0, label=f"{cols}x{rows} axis=0"))
    specs.append(RowSpec("isa", "softmax", "float32", EXTRA_SHAPE, isas=list(csoftmax.available_isas())))
    return specs


def whole_call_variants(peers) -> List[Tuple[str, object]]:
    """Softmax of a (1, 10) array, NumPy in to NumPy out, and the floors."""
    x = np.random.default_rng(0).standard_normal((1, 10), dtype=np.float32) * 3
    out = np.empty_like(x)
    calls = [c for peer in peers for c in peer.whole_calls(x, out)]
    calls += [
        ("floor: np.empty_like(x)", functools.partial(np.empty_like, x)),
        ("floor: np.copyto(o, x)", functools.partial(np.copyto, out, x)),
        ("floor: no-op builtin call (timing loop)", functools.partial(int)),
    ]
    return calls


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.dask:
        from . import on_dask
        return on_dask.main(args)
    started = time.monotonic()
    if args.plot:
        try:
            require_matplotlib()
        except PlotUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    peers, missing = load_peers(args.threads, only=args.impl_list)
    policy = QUICK_POLICY if args.quick else TimingPolicy()
    policy_note = (
        f"median of {policy.min_samples}-{policy.max_samples} samples of >= {policy.target_sample_s * 1e3:g} ms"
        f" each, after warm-up; inputs: standard normal x 3, seed {args.seed}"
    )
    # Set even for 1 thread: csoftmax's own default may be every core.
    with csoftmax.num_threads(args.threads):
        env = environment(peers, missing, args.threads)
        env_lines = header_lines(env, args.threads, policy_note)
        specs = plan(args)
        calls_wanted = not args.no_extras and "softmax" in args.op_list
        variants = whole_call_variants(peers) if calls_wanted else []
        if not specs and not variants:
            print("nothing to measure with these options", file=sys.stderr)
            return 0
        fused_cases = []
        if calls_wanted:   # the fused-call section: extras, like the whole-call one
            shape = fused.QUICK_ATTENTION_SHAPE if args.quick else fused.ATTENTION_SHAPE
            fused_cases = (fused.attention_cases(shape, args.threads, args.seed)
                           + fused.half_cases(fused.HALF_SHAPES, args.threads, args.seed))
        total = sum(Runner.cells_per_row(s, peers) for s in specs) + len(variants) + len(fused_cases)
        progress = Progress(total, enabled=not args.quiet)
        runner = Runner(peers, policy, progress, args.seed, deadline=started + args.max_time)
        rows = [runner.run_row(spec) for spec in specs]
        calls = runner.run_calls("whole-call", variants) if variants else []
        fused_timings = runner.run_calls("fused", [(c.label, c.call) for c in fused_cases])
    if runner.deadline_hit:
        env_lines.append(f"NOTE: --max-time {args.max_time:g} s reached: late cells used 3 samples")
    fused_body = fused.table_rows(fused_cases, fused_timings) if fused_cases else []
    print(report.render(args, env_lines, rows, calls, env, fused_body))
    if calls_wanted and not args.quick:   # issue 13's rows (about 30 s; --quick leaves them out)
        with csoftmax.num_threads(1):
            print(report.render_table(
                "decoding (issue 13), float32, one thread, temperature 0.8, top_k 50, top_p 0.95; "
                "ratios in one interleaved run", decoding.HEADERS,
                decoding.table_body(TimingPolicy(budget_s=0.3)), args.markdown))
    settings = {k: v for k, v in vars(args).items() if k not in ("shape_list",)}
    settings["shapes"] = [shape_label(s) for s in args.shape_list]
    settings["policy"] = dataclasses.asdict(policy)
    if args.json:
        report.to_json(args.json, env, settings, rows, calls + fused_timings)
    if args.plot:
        try:
            plot_speedups(args.plot, [r for r in rows if r.spec.section == "main"], "csoftmax speedup over peers")
        except PlotUnavailable as exc:
            print(f"no plot: {exc}", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"done in {elapsed:.1f} s", file=sys.stderr)
    failures = [
        f"{r.spec.op} {r.spec.dtype} {r.spec.label} {name}: {c.status} {c.note}"
        for r in rows
        for name, c in r.cells.items()
        if (name == "csoftmax" or r.spec.isas) and c.status in ("WRONG", "error")
    ]
    if failures:
        print("csoftmax FAILED the correctness check in:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0
