"""Helpers shared by the test modules (the fixtures are in conftest.py).

* The fast module: ``fast_module()`` is the one place that decides what a missing compiled
  extension means: a skip, or a failure when ``CSOFTMAX_REQUIRE_FAST=1`` (CI sets it, so a
  broken build cannot pass as "reference only"). Importing this module also makes the pure-NumPy
  submodules importable while the extension is not built.
* Fast against reference: ``check_all`` / ``assert_matches`` (the softmax family, up to
  rounding, special values exactly), ``assert_identical`` (bit for bit), ``check_same_bits`` (a
  call on other layouts of its arguments) and ``assert_near_reference`` (a check of sense).
* Test inputs from one generator: ``draw`` (seeded values of any shape and dtype, 0-d and 0-size
  included), ``in_layout`` / ``LAYOUTS`` (the same values in another memory layout: Fortran order,
  strided, negative strides, offset, misaligned, byte-swapped, read-only), the dtype lists
  ``FLOATS``, ``INTS`` and ``half_dtypes()`` (bfloat16 when ml_dtypes is installed), and the
  hand-built rows that several areas share (``long_row``, ``grouped_rows``).
* Independent float64 oracles for the losses, written straight from PyTorch's documented
  formulas with SciPy's ``log_softmax`` and sharing no code with the implementations under
  test, and ``softmax_oracle``; ``numeric_grad`` (finite differences), ``max_rel_diff`` and ``no_warnings``.
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


# ----------------------------------------------------------------------------------- inputs


FLOATS = (np.float32, np.float64)
INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32)


def half_dtypes():
    """float16, and bfloat16 when ml_dtypes is installed (imported only when asked for)."""
    try:
        import ml_dtypes
    except ImportError:
        return [np.dtype(np.float16)]
    return [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]


def draw(shape, dtype=np.float64, *, seed=0, scale=1.0):
    """Seeded standard normal values times ``scale``, rounded to ``dtype`` (integer dtypes
    truncate them); any shape, ``()`` and 0-size ones included."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _steps(layout, ndim):
    """Per-axis steps of a layout that places the values in a larger (or reversed) buffer."""
    def one(axis, step):
        steps = [1] * ndim
        if ndim:
            steps[axis] = step
        return steps
    return {
        "strided": [2] * ndim,              # every other element along every axis
        "step2_last": one(-1, 2),           # the reduced axis spaced out
        "step2_middle": one(min(1, ndim - 1), 2),
        "step3_first": one(0, 3),           # rows spaced out
        "reversed": [-1] * ndim,            # negative strides on every axis
        "reversed_last": one(-1, -1),
        "reversed_middle": one(min(1, ndim - 1), -1),   # outer axes no longer evenly spaced
        "reversed_first": one(0, -1),
        "reversed_step2": [-2] * ndim,
    }.get(layout)


def _buffer(shape, dtype, byte_offset):
    """An array of ``shape`` whose data starts ``byte_offset`` bytes into a fresh buffer."""
    dtype = np.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    raw = np.zeros(size + dtype.itemsize + byte_offset, np.uint8)
    return raw[byte_offset:byte_offset + size].view(dtype).reshape(shape)


def in_layout(a, layout, *, misaligned=False):
    """``a``'s values (same shape and dtype) laid out in memory as ``layout`` (one of ``LAYOUTS``);
    with ``misaligned``, the data starts one byte off the element alignment."""
    a = np.asarray(a)
    shift = 1 if misaligned else 0
    steps = _steps(layout, a.ndim)
    if steps is not None:
        full = _buffer(tuple(abs(s) * d for s, d in zip(steps, a.shape)), a.dtype, shift)
        view = full[tuple(slice(None, None, s) for s in steps) + (...,)]   # (...,): 0-d stays an array
    elif layout == "padded":        # each axis starts one element into a larger buffer
        full = _buffer(tuple(d + 1 for d in a.shape), a.dtype, shift)
        view = full[(slice(1, None),) * a.ndim + (...,)]
    elif layout == "offset":        # C order, one element into its buffer
        view = _buffer((a.size + 1,), a.dtype, shift)[1:].reshape(a.shape)
    elif layout in ("C", "readonly"):
        view = _buffer(a.shape, a.dtype, shift)
    elif layout == "byteswapped":   # the same values in the other byte order
        view = _buffer(a.shape, a.dtype.newbyteorder(), shift)
    elif layout == "F":
        view = _buffer(a.shape[::-1], a.dtype, shift).T
    elif layout == "swapped_last_two":   # a C array with its last two axes swapped, viewed back
        view = _buffer(a.shape[:-2] + a.shape[:-3:-1], a.dtype, shift).swapaxes(-1, -2)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    view[...] = a
    if layout == "readonly":
        view.flags.writeable = False
    assert view.shape == a.shape and (view.flags.aligned != misaligned or a.size == 0)
    return view


LAYOUTS = ("C", "F", "strided", "step2_last", "step2_middle", "step3_first", "reversed",
           "reversed_last", "reversed_middle", "reversed_first", "reversed_step2", "padded",
           "offset", "swapped_last_two", "byteswapped", "readonly")


def misaligned(a):
    """``a`` in C order, its data one byte off the element alignment."""
    return in_layout(a, "C", misaligned=True)


def misaligned_pairs(a, layouts=("C", "F", "step2_last", "reversed")):
    """(aligned, misaligned) copies of ``a`` in each of ``layouts``: the same strides, so the
    same kernel path, and the same bits expected."""
    for layout in layouts:
        pair = in_layout(a, layout), in_layout(a, layout, misaligned=True)
        assert pair[0].strides == pair[1].strides
        yield pair


LONG_ROW_BLOCK_BYTES = 8192   # the long-row kernels' block (src/csm_rows_long.h)
LONG_ROW_KINDS = ("normal", "late_max", "early_max", "ties_across_blocks", "far_apart",
                  "neginf_blocks", "nan_in_neginf_block", "nan_late", "posinf_late", "pivot_late",
                  "pivot_large_negative", "all_neginf")


def long_row_block(dtype):
    """Elements per block of the long-row kernels."""
    return LONG_ROW_BLOCK_BYTES // np.dtype(dtype).itemsize


def long_row(kind, dtype, n, rng):
    """One long row of ``kind`` (one of ``LONG_ROW_KINDS``): what the blocks must merge, put in
    chosen blocks; block b spans [b * B, (b + 1) * B)."""
    B = long_row_block(dtype)
    x = rng.normal(0.0, 3.0, n)
    if kind == "normal":
        pass
    elif kind == "late_max":  # each block's max above the last: the running merge moves
        x += np.arange(n) // B * 5.0
    elif kind == "early_max":
        x[3] = 40.0
    elif kind == "ties_across_blocks":
        x = np.minimum(x, 7.0)
        x[[5, B + 5, 3 * B - 1, n - 1]] = 7.0
    elif kind == "far_apart":  # block maxima hundreds apart: exps flushed or moved by 2^-k
        x += (np.arange(n) // B % 3) * -110.0
    elif kind == "neginf_blocks":
        x[:B] = -np.inf
        x[2 * B:3 * B] = -np.inf
    elif kind == "nan_in_neginf_block":
        x[B:2 * B] = -np.inf
        x[B + 17] = np.nan
    elif kind == "nan_late":
        x[n - 3] = np.nan
    elif kind == "posinf_late":
        x[2 * B + 1] = np.inf
    elif kind == "pivot_late":  # first blocks fit the blocked path, a late one needs the pivot
        x[n - B // 2] = 300.0
    elif kind == "pivot_large_negative":
        x -= 1000.0
    elif kind == "all_neginf":
        x[:] = -np.inf
    else:
        raise AssertionError(kind)
    return x.astype(dtype)


def grouped_rows(n, dtype, nrows=37, seed=0):
    """A batch for the kernels that do rows in groups: ordinary rows mixed with the rows that
    leave a group for the one-row rules (NaN, +inf, all -inf), rows past the floating-point pivot
    (|max| >= 256), ties and tiny tails, at several positions of a group."""
    x = draw((nrows, n), dtype, seed=seed + n, scale=3)
    x[3, n // 2] = np.nan
    x[7, 0] = np.inf
    x[11] = -np.inf
    x[16] += 300       # past the pivot, in a group of rows below it
    x[17] -= 1000      # max far below 0
    x[20, :] = 0       # ties: every element at the max
    x[21, 1 % n] = 50  # one max, the rest ~e-50 below it (logsumexp just above 50)
    x[36] += 4000
    return x


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
        # Below the normal range the textbook reference is inexact (subnormals), and the exps
        # flush to 0 below twice the smallest normal (src/core/csm_exp.h).
        atol = float(np.finfo(np.float16).smallest_subnormal) if half else 2 * float(
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


def check_same_bits(fn, args, other_args, **kwargs):
    """``fn`` on ``other_args`` (the values and strides of ``args``, placed elsewhere: e.g.
    misaligned) gives bit for bit what it gives on ``args``, and leaves them untouched."""
    for a, o in zip(args, other_args):
        assert np.shape(a) == np.shape(o) and np.asarray(a).strides == np.asarray(o).strides
    kept = [np.array(a, copy=True) for a in other_args]
    assert_identical(fn(*other_args, **kwargs), fn(*args, **kwargs))
    for a, k in zip(other_args, kept):
        np.testing.assert_array_equal(a, k)


def assert_near_reference(got, ref):
    """Agreement with the (textbook, less accurate) reference: a check of sense, where the
    layouts are compared bit for bit."""
    tol = 1e-5 if np.asarray(ref).dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


# ---------------------------------------------------------------------- oracles for losses


def softmax_oracle(x):
    """Textbook softmax along the last axis, in float64."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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
