"""``python -m csoftmax.bench.decoding [--quick]``: the decoding rows of issue 13.

For each shape (float32, one thread, temperature 0.8): ``sample`` with top_k=50 and top_p=0.95,
``sample`` with top_p=0.95 only, and ``top_k_softmax`` with k=20, each timed in the same
interleaved run as ``csoftmax.softmax`` on the same input, the NumPy way written the usual way
and PyTorch (when installed). Each row gives the median times, the ratios and the issue's target
for them. csoftmax's results are checked against ``csoftmax.reference`` before timing.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import csoftmax

from .timing import QUICK_POLICY, TimingPolicy, measure_many

SHAPES = ((1, 128256), (8, 128256), (64, 32000))
T, TOP_K, TOP_P, K = 0.8, 50, 0.95, 20


def numpy_sample(x, rng, top_k=TOP_K):
    """Softmax, argpartition and argsort of the top k (or of the row), cumsum, searchsorted."""
    z = x / T
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    if top_k:
        idx = np.argpartition(-p, top_k - 1, axis=-1)[:, :top_k]
        idx = np.take_along_axis(idx, np.argsort(-np.take_along_axis(p, idx, -1), -1), -1)
    else:
        idx = np.argsort(-p, axis=-1, kind="stable")
    q = np.take_along_axis(p, idx, -1)
    q = q / q.sum(axis=-1, keepdims=True)
    c = np.cumsum(q, axis=-1)
    q = np.where(c - q < TOP_P, q, 0)
    c = np.cumsum(q / q.sum(axis=-1, keepdims=True), axis=-1)
    u = rng.random(x.shape[0])
    j = np.minimum([np.searchsorted(ci, ui, side="right") for ci, ui in zip(c, u)],
                   x.shape[1] - 1)
    return idx[np.arange(x.shape[0]), j]


def numpy_top_k(x):
    """argpartition of the k largest, their order, and a softmax of the whole row."""
    z = x / T
    idx = np.argpartition(-z, K - 1, axis=-1)[:, :K]
    idx = np.take_along_axis(idx, np.argsort(-np.take_along_axis(z, idx, -1), -1), -1)
    m = z.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
    return np.take_along_axis(z, idx, -1) - lse, idx


def torch_calls(x):
    try:
        import torch
    except ImportError:
        return None, None, None
    torch.set_num_threads(1)
    t = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(0)

    def sample(top_k=TOP_K):
        z = t / T
        v, i = torch.topk(z, top_k) if top_k else torch.sort(z, descending=True)
        p = torch.softmax(v, -1)
        c = torch.cumsum(p, -1)
        p = torch.where(c - p < TOP_P, p, torch.zeros((), dtype=p.dtype))
        return i.gather(-1, torch.multinomial(p, 1, generator=gen))

    return (sample, lambda: sample(None),
            lambda: torch.topk(torch.log_softmax(t / T, -1), K))


def check(x):
    """csoftmax against the reference on this input (same seed, same indices)."""
    ref = csoftmax.reference
    for kw in (dict(top_k=TOP_K, top_p=TOP_P), dict(top_p=TOP_P)):
        a = csoftmax.sample(x, temperature=T, random_state=1, **kw)
        b = ref.sample(x, temperature=T, random_state=1, **kw)
        if (a != b).sum() > 1:
            raise AssertionError(f"sample {kw} differs from the reference")
    if not (csoftmax.top_k_softmax(x, K, temperature=T)[1]
            == ref.top_k_softmax(x, K, temperature=T)[1]).all():
        raise AssertionError("top_k_softmax differs from the reference")


def rows(shape, policy):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    check(x)
    out = np.empty_like(x)
    rng = np.random.default_rng(0)
    softmax = lambda: csoftmax.softmax(x, out=out)   # noqa: E731
    t_s, t_p, t_k = torch_calls(x)
    cases = [
        ("sample", lambda: csoftmax.sample(x, temperature=T, top_k=TOP_K, top_p=TOP_P,
                                           random_state=rng),
         lambda: numpy_sample(x, rng), t_s, (2, 10, 3)),
        ("sample top_p only", lambda: csoftmax.sample(x, temperature=T, top_p=TOP_P,
                                                      random_state=rng),
         lambda: numpy_sample(x, rng, None), t_p, (3, None, None)),
        (f"top_k_softmax k={K}", lambda: csoftmax.top_k_softmax(x, K, temperature=T, log=True),
         lambda: numpy_top_k(x), t_k, (1.2, 5, 2)),
    ]
    for name, fast, numpy_way, torch_way, (t_sm, t_np, t_torch) in cases:
        calls = [fast, softmax, numpy_way] + ([torch_way] if torch_way else [])
        med = [t.median for t in measure_many(calls, policy)]
        cells = [f"{name:<20}", f"{med[0] * 1e6:9.1f} us",
                 f"{med[0] / med[1]:5.2f}x softmax (<= {t_sm}x)",
                 f"NumPy {med[2] / med[0]:6.1f}x" + (f" (>= {t_np}x)" if t_np else "")]
        if torch_way:
            cells.append(f"PyTorch {med[3] / med[0]:5.1f}x" + (f" (>= {t_torch}x)" if t_torch
                                                                   else ""))
        else:
            cells.append("PyTorch not installed")
        yield cells


HEADERS = ["case", "time", "vs softmax (target)", "NumPy's time / ours (target)",
           "PyTorch's time / ours (target)"]


def table_body(policy):
    """Every shape's rows, for the benchmark command's decoding section."""
    return [[f"{shape_name(shape)} {cells[0].strip()}"] + [c.strip() for c in cells[1:]]
            for shape in SHAPES for cells in rows(shape, policy)]


def shape_name(shape):
    return "x".join(str(d) for d in shape)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m csoftmax.bench.decoding", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short timings")
    args = p.parse_args(argv)
    policy = QUICK_POLICY if args.quick else TimingPolicy(budget_s=0.3)
    csoftmax.set_num_threads(1)
    print(f"csoftmax {csoftmax.__version__} ({csoftmax.get_isa()}), float32, one thread, "
          f"temperature={T}, top_k={TOP_K}, top_p={TOP_P}; median times, ratios in one run")
    for shape in SHAPES:
        print(f"shape {shape}:")
        for cells in rows(shape, policy):
            print("  " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
