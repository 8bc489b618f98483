"""The fused-call section of the benchmark (issue 12): attention-style softmax with a scale and a
causal mask (as a -inf bias or a boolean ``where=``), and float16 / bfloat16 input, each timed
against what it is compared with in the same process, next to its target.

Every fused result is checked against ``csoftmax.reference`` before it is timed (a mismatch makes
the command fail, as in the main tables).
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

import csoftmax
from csoftmax import reference

from .runner import format_us, shape_label

#: (batch, heads, queries, keys): the issue's attention case; --quick uses fewer batches.
ATTENTION_SHAPE = (8, 16, 512, 512)
QUICK_ATTENTION_SHAPE = (1, 16, 512, 512)
HALF_SHAPES = ((64, 1000), (8, 128256))


class Case:
    """One timed call; `versus` names the case it is compared with (the ratio is this case's
    time over that one's) and `target` what the issue asks of that ratio."""

    def __init__(self, label: str, call: Callable[[], object], versus: Optional[str] = None,
                 target: str = "") -> None:
        self.label, self.call, self.versus, self.target = label, call, versus, target


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _half_dtypes():
    dtypes = [("float16", np.dtype(np.float16))]
    try:
        import ml_dtypes
    except ImportError:
        return dtypes
    return dtypes + [("bfloat16", np.dtype(ml_dtypes.bfloat16))]


def _check(got, want, what: str) -> None:
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    ok = np.array_equal(np.isnan(g), np.isnan(w)) and np.allclose(g, w, rtol=2e-2, atol=1e-6,
                                                                   equal_nan=True)
    if not ok:
        raise AssertionError(f"csoftmax {what}: result differs from csoftmax.reference")


def attention_cases(shape: Sequence[int], threads: int, seed: int = 0) -> List[Case]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32) * 3
    q, k = shape[-2:]
    scale = np.float32(1 / np.sqrt(64))
    causal = np.triu(np.full((q, k), -np.inf, np.float32), 1)
    keep = np.tril(np.ones((q, k), bool))
    out = np.empty_like(x)
    tag = shape_label(shape)
    _check(csoftmax.softmax(x[:1, :2], scale=scale, bias=causal),
           reference.softmax(x[:1, :2], scale=scale, bias=causal), "softmax(scale, bias)")
    _check(csoftmax.softmax(x[:1, :2], where=keep), reference.softmax(x[:1, :2], where=keep),
           "softmax(where)")
    plain = f"csoftmax: softmax(x, out=o) {tag}"
    fused = "csoftmax: softmax(x, scale=s, bias=causal, out=o)"
    cases = [
        Case(plain, lambda: csoftmax.softmax(x, out=out)),
        Case(fused, lambda: csoftmax.softmax(x, scale=scale, bias=causal, out=out), plain,
             target="<= 1.15x plain"),
        Case("csoftmax: softmax(x, where=causal bool, out=o)",
             lambda: csoftmax.softmax(x, where=keep, out=out), plain, target="<= 1.15x plain"),
        Case("numpy: reference softmax(x, scale=s, bias=causal, out=o)",
             lambda: reference.softmax(x, scale=scale, bias=causal, out=out), fused,
             target=">= 3x"),
    ]
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
        t, m = torch.from_numpy(x), torch.from_numpy(causal)
        cases.append(Case("torch: softmax(x * s + mask, -1)", lambda: torch.softmax(t * scale + m, -1),
                          fused, target=">= 2x"))
    return cases


def half_cases(shapes: Sequence[Tuple[int, ...]], threads: int, seed: int = 0) -> List[Case]:
    rng = np.random.default_rng(seed)
    torch = _torch()
    cases = []
    for shape in shapes:
        x32 = rng.standard_normal(shape, dtype=np.float32) * 3
        tag = shape_label(shape)
        base = f"csoftmax: float32 softmax {tag}"
        cases.append(Case(base, lambda x32=x32: csoftmax.softmax(x32)))
        for name, dtype in _half_dtypes():
            h = x32.astype(dtype)
            _check(csoftmax.softmax(h), reference.softmax(h), f"{name} softmax")
            ours = f"csoftmax: {name} softmax {tag}"
            cases.append(Case(ours, lambda h=h: csoftmax.softmax(h), base, target="<= 0.85x float32"))
            if torch is not None:
                torch.set_num_threads(threads)
                th = torch.from_numpy(h.view(np.uint16)).view(getattr(torch, name))
                cases.append(Case(f"torch: softmax({name} tensor, -1, dtype=float32) {tag}",
                                  lambda th=th: torch.softmax(th, -1, dtype=torch.float32), ours,
                                  target=">= 2x"))
    return cases


def table_rows(cases: Sequence[Case], timings) -> List[List[str]]:
    """case | µs | compared with | ratio (this case's time / that one's) | target."""
    median = {case.label: t.median for case, (_, t) in zip(cases, timings)}
    body = []
    for case in cases:
        mine = median[case.label]
        if case.versus is None:
            body.append([case.label, format_us(mine), "", "", ""])
            continue
        body.append([case.label, format_us(mine), case.versus, f"{mine / median[case.versus]:.2f}x",
                     case.target])
    return body


HEADERS = ["case", "µs", "compared with", "ratio", "target"]
TITLE = ("fused calls (issue 12), float32 unless said; ratio = this case's time / the compared "
         "case's (for a peer: csoftmax's speedup)")
