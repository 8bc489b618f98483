"""``python -m csoftmax.bench --dask``: csoftmax.dask against the textbook formulas written with
dask.array, on a dask.distributed LocalCluster of 2 worker processes (one thread each, loopback).

The logits are float32 standard normal x 3, generated on the workers (``da.random``: nothing is
shipped) in chunks that split the vocabulary axis in ``splits``, and kept there (``persist``).
Each timed run builds the graph, persists its results on the workers and waits for them; the
results are then dropped. Rows: softmax, and the cross-entropy loss with its gradient (mean, int64
labels); csoftmax.dask against ``da.exp(x - x.max(...)) / sum`` and the same cross-entropy
formula in dask.array. The per-element cost is wall time / elements (2 workers) and, beside it,
one-machine csoftmax on one thread (a block of rows drawn alike, NumPy in and out).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

import csoftmax

SHAPE = (16384, 32000)
QUICK_SHAPE = (2048, 32000)
SPLITS = 4
ROW_CHUNKS = 8


def textbook_softmax(x):
    import dask.array as da
    m = x.max(axis=-1, keepdims=True)
    e = da.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def textbook_cross_entropy(x, t):
    """mean cross-entropy and its gradient, the textbook way in dask.array"""
    import dask.array as da
    n, c = x.shape
    z = x - x.max(axis=-1, keepdims=True)
    logp = z - da.log(da.exp(z).sum(axis=-1, keepdims=True))
    onehot = da.arange(c, chunks=x.chunks[-1]) == t[:, None]
    loss = -da.where(onehot, logp, 0).sum() / n
    grad = (da.exp(logp) - onehot) / n
    return loss, grad


def _timed(client, build, keep, repeats):
    """median and all wall times of build() persisted on the workers; each run's keys are new
    (clone: the same graph would find the last run's results), the inputs `keep` are not"""
    from dask.graph_manipulation import clone
    from distributed import wait
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = client.persist(clone(build(), omit=keep))
        wait(out)
        times.append(time.perf_counter() - t0)
        client.cancel(out)
        del out
    return statistics.median(times), times


def run(shape=SHAPE, splits=SPLITS, repeats=3, seed=0, log=print):
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    import csoftmax.dask as csd

    n, c = shape
    chunks = (max(1, n // ROW_CHUNKS), -(-c // splits))
    results = {"shape": shape, "chunks": chunks, "splits": splits, "repeats": repeats, "rows": []}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        rng = da.random.default_rng(seed)
        x = client.persist((rng.standard_normal(shape, chunks=chunks, dtype=np.float32) * 3))
        t = client.persist(rng.integers(0, c, n, chunks=chunks[0]))
        wait([x, t])
        # the results checked against one-machine csoftmax on a block of rows first
        xs = x[:64].compute()
        got = csd.softmax(x)[:64].compute()
        ok = np.allclose(got, csoftmax.softmax(xs), rtol=1e-6, atol=0)
        loss, grad = csd.cross_entropy(x[:64], t[:64], return_grad=True)
        want = csoftmax.cross_entropy(xs, t[:64].compute(), return_grad=True)
        ok &= bool(np.isclose(loss.compute(), want[0], rtol=1e-6))
        ok &= np.allclose(grad.compute(), want[1], rtol=1e-5, atol=1e-12)
        results["checked"] = bool(ok)
        cases = [("softmax", "csoftmax.dask", lambda: csd.softmax(x)),
                 ("softmax", "dask.array textbook", lambda: textbook_softmax(x)),
                 ("cross_entropy", "csoftmax.dask",
                  lambda: list(csd.cross_entropy(x, t, return_grad=True))),
                 ("cross_entropy", "dask.array textbook",
                  lambda: list(textbook_cross_entropy(x, t)))]
        for op, impl, build in cases:
            _timed(client, build, [x, t], 1)                 # warm-up: imports, worker memory
            med, times = _timed(client, build, [x, t], repeats)
            log(f"{op:14s} {impl:20s} {med:8.3f} s  ({', '.join(f'{s:.3f}' for s in times)})")
            results["rows"].append({"op": op, "impl": impl, "seconds": med, "samples": times})
    # one machine, one thread: a row block of the same size per element
    block = np.random.default_rng(seed).standard_normal((max(1, n // ROW_CHUNKS), c),
                                                        dtype=np.float32) * 3
    labels = np.random.default_rng(seed).integers(0, c, block.shape[0])
    with csoftmax.num_threads(1):
        one = {"softmax": lambda: csoftmax.softmax(block),
               "cross_entropy": lambda: csoftmax.cross_entropy(block, labels, return_grad=True)}
        for op, f in one.items():
            f()
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
            results.setdefault("one_machine_ns", {})[op] = statistics.median(ts) / block.size * 1e9
    return results


def render(results, markdown=False):
    n, c = results["shape"]
    elems = n * c
    rows = {(r["op"], r["impl"]): r["seconds"] for r in results["rows"]}
    head = ["op", "csoftmax.dask s", "dask.array textbook s", "speedup", "csoftmax.dask ns/elem",
            "ns/elem per worker", "one machine, 1 thread ns/elem"]
    lines = []
    for op in ("softmax", "cross_entropy"):
        ours, theirs = rows[(op, "csoftmax.dask")], rows[(op, "dask.array textbook")]
        lines.append([op + (" (loss + grad)" if op == "cross_entropy" else ""), f"{ours:.3f}",
                      f"{theirs:.3f}", f"{theirs / ours:.2f}x", f"{ours / elems * 1e9:.3f}",
                      f"{2 * ours / elems * 1e9:.3f}",
                      f"{results['one_machine_ns'][op]:.3f}"])
    title = (f"csoftmax.dask on a LocalCluster of 2 workers (1 thread each): float32 ({n}, {c}), "
             f"chunks {results['chunks']} ({results['splits']} along the vocabulary), median of "
             f"{results['repeats']}; results checked: {results['checked']}")
    if markdown:
        out = [f"### {title}", "", "| " + " | ".join(head) + " |",
               "|:---|" + "---:|" * (len(head) - 1)]
        out += ["| " + " | ".join(r) + " |" for r in lines]
    else:
        widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
        out = [title, "  ".join(h.ljust(w) for h, w in zip(head, widths))]
        out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in lines]
    return "\n".join(out) + "\n"


def main(args) -> int:
    import sys
    try:
        import dask.array  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        print(f"error: --dask needs the dask extra (pip install 'csoftmax[dask]'): {exc}",
              file=sys.stderr)
        return 2
    shape = QUICK_SHAPE if args.quick else SHAPE
    if args.shapes:
        shape = args.shape_list[0]
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr))
    results = run(shape, repeats=2 if args.quick else 3, seed=args.seed, log=log)
    print(render(results, args.markdown))
    return 0 if results["checked"] else 1
