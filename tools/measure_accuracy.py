"""Measure csoftmax's accuracy on every dispatch path against a longdouble computation.

    python tools/measure_accuracy.py

Prints, per instruction set and dtype, the worst relative error of softmax and logsumexp over
outputs whose exact value is a normal number, and the worst error of log_softmax relative to
max(|result|, 1), over several
logit distributions (with -inf entries) and row lengths; and the same for the textbook NumPy
reference, for comparison.
"""
import numpy as np

import csoftmax

DISTS = {
    "N(0,1)": lambda rng, s: rng.standard_normal(s),
    "N(0,10)": lambda rng, s: 10 * rng.standard_normal(s),
    "U(-100,100)": lambda rng, s: rng.uniform(-100, 100, s),
    "U(-1e4,1e4)": lambda rng, s: rng.uniform(-1e4, 1e4, s),
}
SHAPES = [(512, 7), (64, 33), (16, 1000), (2, 30576), (1, 2 ** 20)]


def truth(x):
    """softmax, log_softmax, logsumexp in longdouble; log(sum) as log1p of everything but one
    max, so that sums within longdouble's eps of 1 keep their relative accuracy."""
    L = x.astype(np.longdouble)
    m = L.max(axis=-1, keepdims=True)
    e = np.exp(L - m)
    rest = e.copy()
    np.put_along_axis(rest, np.argmax(L, axis=-1)[..., None], 0, axis=-1)
    log_s = np.log1p(rest.sum(axis=-1, keepdims=True))
    return e / (1 + rest.sum(axis=-1, keepdims=True)), (L - m) - log_s, (m + log_s)[..., 0]


def worst(impl, dtype, rng):
    tiny = np.finfo(dtype).tiny
    errs = [0.0, 0.0, 0.0]
    for shape in SHAPES:
        for make in DISTS.values():
            x = make(rng, shape).astype(dtype)
            x.flat[:: 17] = -np.inf
            sm, lsm, lse = truth(x)
            got = (impl.softmax(x), impl.log_softmax(x), impl.logsumexp(x))
            keep = sm >= tiny
            errs[0] = max(errs[0], float(np.max(np.abs(got[0][keep] - sm[keep]) / sm[keep])))
            # log_softmax: in units of the magnitudes involved, max(|result|, 1) (terms below the
            # smallest normal relative to the max are flushed, so a result near 0 keeps an
            # absolute, not a relative, error)
            fin = np.isfinite(lsm)
            errs[1] = max(errs[1], float(np.max(np.abs(got[1][fin] - lsm[fin])
                                                / np.maximum(np.abs(lsm[fin]), 1))))
            ok = np.abs(lse) >= tiny
            errs[2] = max(errs[2], float(np.max(np.abs(got[2][ok] - lse[ok]) / np.abs(lse[ok]),
                                                initial=0)))
    return errs


def main():
    rng = np.random.default_rng(0)
    print(f"{'path':10} {'dtype':8} {'softmax rel':>12} {'log_softmax':>16} {'logsumexp rel':>14}")
    start = csoftmax.get_isa()
    try:
        for isa in csoftmax.available_isas():
            csoftmax._set_isa(isa)
            for dtype in (np.float32, np.float64):
                e = worst(csoftmax, dtype, rng)
                print(f"{isa:10} {np.dtype(dtype).name:8} {e[0]:12.3g} {e[1]:16.3g} {e[2]:14.3g}")
    finally:
        csoftmax._set_isa(start)
    for dtype in (np.float32, np.float64):
        e = worst(csoftmax.reference, dtype, rng)
        print(f"{'reference':10} {np.dtype(dtype).name:8} {e[0]:12.3g} {e[1]:16.3g} {e[2]:14.3g}")


if __name__ == "__main__":
    main()
