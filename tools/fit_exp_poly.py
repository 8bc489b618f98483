"""Fit the polynomials used by the C exp kernels (src/core/csm_exp.h).

exp(r) on r in [-ln2/2, ln2/2] is written 1 + r + r^2 * q(r): the constant and linear terms are
exactly 1, so exp(0) == 1 exactly and the leading terms carry no coefficient error. q is a
Chebyshev fit (near-minimax) of (e^r - 1 - r) / r^2, computed with mpmath at 50 digits, rounded to
the target type, then the rounded polynomial's relative error against exp is measured.

    python tools/fit_exp_poly.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 50
A = mp.log(2) / 2


def q_target(r):
    if abs(r) < mp.mpf("1e-20"):
        return mp.mpf(1) / 2 + r / 6
    return (mp.e ** r - 1 - r) / r ** 2


def report(degree, ftype):
    coeffs = mp.chebyfit(q_target, [-A, A], degree - 1)  # highest power first
    q = [ftype(float(c)) for c in coeffs]
    grid = np.linspace(-float(A), float(A), 200001).astype(ftype)
    approx = ftype(1) + grid + grid * grid * np.polyval(np.array(q, dtype=ftype), grid)
    exact = np.exp(grid.astype(np.longdouble))
    rel = float(np.max(np.abs((approx.astype(np.longdouble) - exact) / exact)))
    print(f"{np.dtype(ftype).name}, exp degree {degree}: max rel err {rel:.3g} "
          f"(~{rel / float(np.finfo(ftype).eps):.2f} eps), q highest power first:")
    for c in q:
        print(f"  {float(c).hex()}  /* {float(c):.17g} */")


if __name__ == "__main__":
    report(6, np.float32)
    report(11, np.float64)
    report(12, np.float64)
