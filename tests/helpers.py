"""Helpers shared by the test modules (the fixtures are in conftest.py).

* The fast module: ``fast_module()`` is the one place that decides what a missing compiled
  extension means: a skip, or a failure when ``CSOFTMAX_REQUIRE_FAST=1`` (CI sets it, so a
  broken build cannot pass as "reference only"). Importing this module also makes the pure-NumPy
  submodules importable while the extension is not built.
* Fast against reference: ``check_all`` / ``assert_matches`` (the softmax family, up to
  rounding, special values exactly) and ``assert_identical`` (bit for bit).
* Independent float64 oracles for the losses, written straight from PyTorch's documented
  formulas with SciPy's ``log_softmax`` and sharing no code with the implementations under
  test; ``numeric_grad`` (finite differences), ``max_rel_diff`` and ``no_warnings``.
* ``run_doctests``: a module's docstring examples or a file's, as the test modules run them.
"""

import contextlib
import doctest
import re
import subprocess
import importlib
import importlib.util
import math
import os
import sys
import types
import warnings

import numpy as np
import pytest
from scipy.special import log_softmax

# ------------------------------------------------------------------------------ fast module


def _bare_package_if_unimportable():
    """Make ``csoftmax.reference`` importable even when ``csoftmax/__init__`` is not.

    The package ``__init__`` imports the compiled ``_core``; before it is built, register
    the package directory without running ``__init__`` so the pure-NumPy submodules load.
    Returns the import error (the reason the fast module is unavailable) or None.
    """
    try:
        importlib.import_module("csoftmax")
        return None
    except ImportError as exc:
        spec = importlib.util.find_spec("csoftmax")
        if spec is None or not spec.submodule_search_locations:
            raise
        package = types.ModuleType("csoftmax")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["csoftmax"] = package
        return exc


_PACKAGE_IMPORT_ERROR = _bare_package_if_unimportable()


def load_fast():
    """Return ``(module, None)`` or ``(None, reason)``.

    ``csoftmax._core`` is imported explicitly: a package that fell back to the reference would
    otherwise be tested against itself.
    """
    if _PACKAGE_IMPORT_ERROR is not None:
        return None, f"csoftmax package not importable: {_PACKAGE_IMPORT_ERROR!r}"
    try:
        importlib.import_module("csoftmax._core")
        return importlib.import_module("csoftmax"), None
    except ImportError as exc:
        return None, f"fast csoftmax module not available: {exc!r}"


def fast_module():
    """The fast ``csoftmax`` module. Without it, skip (the test, or the whole module when called
    at module level), or fail when ``CSOFTMAX_REQUIRE_FAST=1``."""
    module, reason = load_fast()
    if module is None:
        if os.environ.get("CSOFTMAX_REQUIRE_FAST") == "1":
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)
    return module


# ------------------------------------------------------------------- fast against reference


FUNCS = ("softmax", "log_softmax", "logsumexp")


def _tolerance(result_dtype):
    """(rtol, eps of the compute dtype, whether the result is float16)."""
    if result_dtype.itemsize == 2:   # float16, or ml_dtypes' bfloat16 (8 significant bits)
        half_eps = 2.0 ** (-10 if result_dtype == np.float16 else -7)
        return 2 * half_eps, float(np.finfo(np.float32).eps), True
    if result_dtype == np.float32:
        return 1e-5, float(np.finfo(np.float32).eps), False
    return 1e-13, float(np.finfo(np.float64).eps), False


def _row_scale(x64, axis, keepdims):
    """max(|x|) over the finite entries of each row: the magnitude rounding errors scale with."""
    finite_abs = np.where(np.isfinite(x64), np.abs(x64), 0.0)
    return np.max(finite_abs, axis=axis, keepdims=keepdims)


def assert_matches(func, got, want, x, axis=-1, keepdims=False):
    """`got` (fast) equals `want` (reference) up to rounding, specials exactly."""
    assert type(got) is type(want), (type(got), type(want))
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
    for name, test in [("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)]:
        bad = test(g) != test(w)
        assert not bad.any(), f"{func}: {name} positions differ at {np.argwhere(bad)[:5].tolist()}"
    x64 = np.asarray(x, dtype=np.float64)
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = x64.size if axis is None else math.prod(x64.shape[a] for a in axes)
    if w.size == 0 or n == 0:  # nothing but the -inf of empty rows, checked above
        return
    rtol, eps, half = _tolerance(w.dtype)
    if func == "softmax":
        # Below the normal range the textbook reference is inexact (subnormals, flushes).
        atol = float(np.finfo(np.float16).smallest_subnormal) if half else float(
            np.finfo(w.dtype).tiny)
        # -inf logits in a row with a finite max give exactly 0.
        exact0 = np.isneginf(x64) & (w == 0)
        assert (g[exact0] == 0).all(), "softmax: nonzero result for -inf logits"
    else:
        scale = _row_scale(x64, axis, keepdims=(func != "logsumexp") or keepdims)
        atol = 16 * eps * np.maximum(np.maximum(scale, math.log(n)), 1.0)
    finite = np.isfinite(w)
    g64, w64 = g.astype(np.float64), w.astype(np.float64)
    bound = np.broadcast_to(atol + rtol * np.abs(w64), w.shape)
    with np.errstate(invalid="ignore"):  # inf - inf at the (already checked) specials
        err = np.abs(g64 - w64)
        excess = np.where(finite, err - bound, -np.inf)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(excess), w.shape))
    assert excess[worst] <= 0, (
        f"{func}: |fast - reference| = {err[worst]:.3g} > {bound[worst]:.3g} at {worst} "
        f"(fast {float(g64[worst])!r}, reference {float(w64[worst])!r})"
    )


def bitwise_copy(x):
    return np.array(x, copy=True)


def assert_unchanged(x, before):
    assert x.dtype == before.dtype
    assert np.ascontiguousarray(x).tobytes() == np.ascontiguousarray(before).tobytes(), (
        "input was modified"
    )


def check_all(fast, reference, x, axis=-1):
    """Compare all three functions (and logsumexp's keepdims) on `x`; `x` must stay intact."""
    before = bitwise_copy(x)
    for func in FUNCS:
        got = getattr(fast, func)(x, axis=axis)
        assert_unchanged(x, before)
        want = getattr(reference, func)(x, axis=axis)
        assert_matches(func, got, want, x, axis)
    got = fast.logsumexp(x, axis=axis, keepdims=True)
    assert_unchanged(x, before)
    assert_matches("logsumexp", got, reference.logsumexp(x, axis=axis, keepdims=True), x, axis,
                   keepdims=True)


def assert_identical(got, want):
    """``got`` equals ``want`` bit for bit and in dtype (arrays, scalars or tuples of them)."""
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------- oracles for losses


def cross_entropy_oracle(logits, target, *, axis=-1, weight=None,
                         ignore_index=-100, reduction="mean",
                         label_smoothing=0.0):
    """Textbook cross-entropy (float64) following ``torch.nn.functional``.

    Index targets: ``(1 - eps) * w[t] * -logp[t] + eps / C * sum_c w[c] *
    -logp[c]``, mean over ``sum w[t]`` of non-ignored samples. Probability
    targets: ``-sum_c w[c] * ((1 - eps) q[c] + eps / C) * logp[c]``, mean
    over the number of samples.
    """
    x = np.asarray(logits, dtype=np.float64)
    lp = np.moveaxis(log_softmax(x, axis=axis), axis, -1)
    n_classes = lp.shape[-1]
    w = np.ones(n_classes) if weight is None else np.asarray(weight, float)
    eps = label_smoothing
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        keep = t != ignore_index
        tt = np.where(keep, t, 0)
        nll = -np.take_along_axis(lp, tt[..., None], axis=-1)[..., 0] * w[tt]
        smooth = -(lp * w).sum(axis=-1)
        per = np.where(keep, (1 - eps) * nll + eps / n_classes * smooth, 0.0)
        denom = (w[tt] * keep).sum()
    else:
        q = np.moveaxis(t.astype(np.float64), axis, -1)
        q = (1 - eps) * q + eps / n_classes
        per = -(lp * w * q).sum(axis=-1)
        denom = per.size
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / denom if denom != 0 else np.nan


def binary_cross_entropy_oracle(logits, target, weight=None,
                                reduction="mean"):
    """Textbook BCE from logits, float64, for moderate logits."""
    x = np.asarray(logits, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    per = -(t * np.log(1 / (1 + np.exp(-x)))
            + (1 - t) * np.log(1 / (1 + np.exp(x))))
    if weight is not None:
        per = per * weight
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" else per.mean()


def numeric_grad(f, x, h=1e-3):
    """Fourth-order central difference of scalar ``f`` at float64 ``x``.

    Truncation error is O(h**4) (~1e-12 for smooth losses at h = 1e-3),
    rounding error ~1e-16 * |f| / h.
    """
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        def at(step, idx=idx):
            xs = x.copy()
            xs[idx] += step
            return float(f(xs))
        g[idx] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
    return g


def max_rel_diff(a, b):
    """Largest ``|a - b| / max(|b|, tiny)`` (0 where both are equal)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(all="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.where(same, 0.0, rel)))


@contextlib.contextmanager
def no_warnings():
    """Turn every warning (e.g. a RuntimeWarning from NumPy) into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def assert_not_imported(module, code):
    """Run ``code`` in a fresh interpreter and check that it never imported ``module`` (an optional
    dependency that csoftmax must not pull in by itself)."""
    check = f"\nassert not any(m == {module!r} or m.startswith({module + '.'!r}) for m in sys.modules)\n"
    subprocess.run([sys.executable, "-c", "import sys\n" + code + check], check=True)


# ------------------------------------------------------------------------------- doctests

# NumPy 2's scalar reprs, as the examples show them: np.float64(1.0), np.int64(3), np.True_.
_NUMPY2_SCALAR = re.compile(r"np\.(?:float|int|uint|complex|longdouble|clongdouble)\d*\(([^()]*)\)"
                            r"|np\.(True|False)_")


class _Numpy1Checker(doctest.OutputChecker):
    """Under NumPy 1 (>= 1.25 is supported), which prints scalars bare (1.0, True), reads the
    examples' NumPy 2 scalar reprs as that; the values are still compared."""

    def check_output(self, want, got, optionflags):
        want = _NUMPY2_SCALAR.sub(lambda m: m[1] if m[1] is not None else m[2], want)
        return super().check_output(want, got, optionflags)


def run_doctests(module=None, path=None):
    """Run a module's docstring examples, or a file's, as doctest.testmod / testfile do, with
    NORMALIZE_WHITESPACE; returns doctest's (failed, attempted)."""
    numpy1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"
    runner = doctest.DocTestRunner(checker=_Numpy1Checker() if numpy1 else None,
                                   optionflags=doctest.NORMALIZE_WHITESPACE)
    if path is None:
        tests = doctest.DocTestFinder().find(module)
    else:
        with open(path, encoding="utf-8") as f:
            tests = [doctest.DocTestParser().get_doctest(f.read(), {"__name__": "__main__"},
                                                         os.path.basename(path), path, 0)]
    for test in tests:
        runner.run(test)
    return runner.summarize(verbose=False)
