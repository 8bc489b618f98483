"""csoftmax.dask on a real engine: Dask's threaded scheduler and a dask.distributed LocalCluster of
two worker processes on loopback (started here, once for the module). Every result is compared
with the one-machine csoftmax function on the computed array, special values exactly, for
chunkings that split the reduced axis in 1, 2 and 7 chunks, unevenly and with 0-size chunks."""

import numpy as np
import pytest

from helpers import (assert_matches, assert_not_imported, draw, fast_module, max_rel_diff,
                     run_doctests)

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
csoftmax = fast_module()
import csoftmax.dask as csd  # noqa: E402

N, C = 23, 61
# chunks along the reduced axis: 1, 2 and 7 chunks, uneven ones with 0-size chunks
SPLITS = {"1": (C,), "2": (30, 31), "7": (9, 9, 9, 9, 9, 9, 7), "0-size": (0, 20, 0, 41, 0)}


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as lc:
        with distributed.Client(lc, set_as_default=False) as client:
            yield client


@pytest.fixture(params=["threads", "cluster"])
def compute(request):
    """dask.compute on the threaded scheduler or the LocalCluster"""
    if request.param == "threads":
        return lambda *xs: dask.compute(*xs, scheduler="threads")
    client = request.getfixturevalue("cluster")
    return lambda *xs: dask.compute(*xs, scheduler=client.get)


def logits(dtype, seed=0):
    """Rows of every kind: NaN, +inf, -inf entries, all -inf, a tiny tail, huge values."""
    x = draw((N, C), dtype, seed=seed, scale=4)
    x[1, 40] = np.nan
    x[2, :] = -np.inf
    x[3, 7] = np.inf
    x[4, :35] = -np.inf                       # the max lives in a late chunk only
    x[5, :] = -60.0
    x[5, 50] = 0.0                           # one max, a tiny rest: log_softmax ~ -1e-24
    x[6, :] = np.float32(3e38) if dtype == np.float32 else 1e308
    x[7, 3] = np.nan
    x[7, 4] = np.inf
    x[8, ::2] = -np.inf
    x[9, 20] = 1000.0                        # past the floating-point pivot
    return x


def _check_family(compute, x, chunks, axis=-1):
    xd = da.from_array(x, chunks=chunks)
    names = ("softmax", "log_softmax", "logsumexp")
    got = compute(*[getattr(csd, f)(xd, axis=axis) for f in names],
                  csd.logsumexp(xd, axis=axis, keepdims=True))
    for f, g in zip(names, got):
        assert_matches(f, g, getattr(csoftmax, f)(x, axis=axis), x, axis)
    assert_matches("logsumexp", got[3], csoftmax.logsumexp(x, axis=axis, keepdims=True), x, axis,
                   keepdims=True)
    return got


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("split", SPLITS)
def test_softmax_family_rows_split(compute, dtype, split):
    x = logits(dtype)
    got = _check_family(compute, x, ((10, 13), SPLITS[split]))
    # the documented accuracy: softmax within 1e-6 (float32) of the exact value, as one machine
    exact = csoftmax.softmax(x.astype(np.float64))
    finite = np.isfinite(exact) & (exact > np.finfo(dtype).tiny)
    bound = 1e-6 if dtype == np.float32 else 2e-14
    assert max_rel_diff(got[0][finite], exact[finite]) <= bound
    # relative accuracy near 0, as one machine: log_softmax of the max of row 5, logsumexp
    tiny = csoftmax.log_softmax(x)[5, 50]
    assert tiny != 0 and max_rel_diff(got[1][5, 50], tiny) <= 4 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_other_axes_and_shapes(compute, dtype):
    x = logits(dtype)
    _check_family(compute, x, (7, 20), axis=0)              # the batch axis, 4 chunks
    x3 = x[:20].reshape(4, 5, C)
    _check_family(compute, x3, (3, (2, 3), (30, 31)), axis=1)
    _check_family(compute, x3, (3, 5, (0, 61)), axis=-1)
    empty = np.zeros((0, 5), dtype)
    _check_family(compute, empty, ((0,), (2, 3)))


def test_axis_none_and_ints(compute):
    x = logits(np.float32)[:4, :10]
    xd = da.from_array(x, chunks=(2, 5))
    got = compute(csd.softmax(xd, axis=None), csd.logsumexp(xd, axis=None),
                  csd.logsumexp(xd, axis=None, keepdims=True))
    assert_matches("softmax", got[0], csoftmax.softmax(x, axis=None), x, None)
    assert_matches("logsumexp", got[1][()], csoftmax.logsumexp(x, axis=None), x, None)
    assert got[2].shape == (1, 1)
    xi = np.arange(12).reshape(3, 4)
    y = csd.softmax(da.from_array(xi, chunks=2))
    assert y.dtype == np.float64
    np.testing.assert_allclose(compute(y)[0], csoftmax.softmax(xi), rtol=1e-15)


def test_half_and_int_inputs(compute):
    """float16 is computed in float32 and returned as float16, as one machine does"""
    x = logits(np.float32)[:6, :20].astype(np.float16)
    x[~np.isfinite(x)] = 1.0
    xd = da.from_array(x, chunks=(3, 7))
    t = np.arange(6)
    got = compute(csd.softmax(xd), csd.log_softmax(xd), csd.logsumexp(xd),
                  *csd.cross_entropy(xd, t, return_grad=True))
    want = (csoftmax.softmax(x), csoftmax.log_softmax(x), csoftmax.logsumexp(x),
            *csoftmax.cross_entropy(x, t, return_grad=True))
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.float16
        np.testing.assert_allclose(np.asarray(g, float), np.asarray(w, float), rtol=2e-3,
                                   atol=1e-4)


def test_split_every_trees(compute):
    x = logits(np.float64)
    xd = da.from_array(x, chunks=(N, 3))                    # 21 chunks: a tree of depth 3
    for k in (2, 3, 30):
        got = compute(csd.softmax(xd, split_every=k), csd.log_softmax(xd, split_every=k))
        assert_matches("softmax", got[0], csoftmax.softmax(x), x)
        assert_matches("log_softmax", got[1], csoftmax.log_softmax(x), x)


def test_lazy_and_never_rechunked():
    x = da.random.default_rng(0).standard_normal((40, 100), chunks=(20, 25))
    y = csd.softmax(x)
    assert isinstance(y, da.Array) and y.chunks == x.chunks
    assert csd.logsumexp(x).chunks == ((20, 20),)
    # x is read twice: by the statistics and by the normalization, and by nothing else
    graph = dict(y.__dask_graph__())
    assert sum(1 for k in graph if k[0] == x.name) == 8
    assert not any("rechunk" in str(k[0]) for k in graph)


def test_core_functions_hand_dask_arrays_over():
    x = logits(np.float32)
    xd = da.from_array(x, chunks=(10, 30))
    for f in ("softmax", "log_softmax", "logsumexp"):
        r = getattr(csoftmax, f)(xd)
        assert isinstance(r, da.Array)
        assert_matches(f, r.compute(scheduler="threads"), getattr(csoftmax, f)(x), x)
    r = csoftmax.logsumexp(xd, axis=0, keepdims=True)
    assert isinstance(r, da.Array) and r.shape == (1, C)
    with pytest.raises(TypeError, match="out="):
        csoftmax.softmax(xd, out=np.empty_like(x))


def test_fused_arguments_with_dask_arrays_are_refused():
    """scale=, bias=, where= and dtype= have no csoftmax.dask counterpart: a clear TypeError, not a
    silent compute of the whole graph."""
    x = logits(np.float32)
    xd = da.from_array(x, chunks=(10, 30))
    for f in ("softmax", "log_softmax", "logsumexp"):
        for kw in (dict(scale=0.5), dict(bias=np.zeros(C, np.float32)), dict(dtype=np.float64),
                   dict(where=np.ones(C, bool))):
            with pytest.raises(TypeError, match="Dask"):
                getattr(csoftmax, f)(xd, **kw)
    with pytest.raises(TypeError, match="Dask"):
        csoftmax.softmax(x, bias=da.zeros(C, chunks=C))


def test_core_does_not_import_dask():
    assert_not_imported("dask", "import numpy as np, csoftmax\n"
                                "csoftmax.softmax([1.0, 2.0]); csoftmax.logsumexp(np.zeros((2, 3)).T)\n"
                                "csoftmax.cross_entropy([[1.0, 2.0]], [0])")


def test_task_threads(compute):
    assert csd.get_task_threads() == 1
    with pytest.raises(ValueError):
        csd.set_task_threads(0)
    if not csoftmax.openmp_available():
        pytest.skip("built without OpenMP")
    try:
        csd.set_task_threads(2)
        probe = da.from_array(np.zeros((2, 1)), chunks=1).map_blocks(
            csd._task(lambda b: np.full(b.shape, csoftmax.get_num_threads())), dtype=int)
    finally:
        csd.set_task_threads(1)
    assert (compute(probe)[0] == 2).all()


@pytest.mark.parametrize("module", ["csoftmax.dask"])
def test_docstring_examples(module):
    import importlib
    result = run_doctests(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


# --------------------------------------------------------------------------- cross-entropy

def _assert_close(got, want, dtype, rtol=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert (np.isnan(got) == np.isnan(want)).all()
    eps = float(np.finfo(dtype).eps)
    finite = want[np.isfinite(want)]
    atol = 16 * eps * (float(np.abs(finite).max()) if finite.size else 1.0)
    np.testing.assert_allclose(got, want, rtol=rtol or 64 * eps, atol=atol, equal_nan=True)


CE_CASES = {
    "plain": {},
    "weight+ignore": dict(weight=np.linspace(0.5, 2.0, C), ignore_index=3),
    "smoothing sum": dict(label_smoothing=0.2, reduction="sum"),
    "all none": dict(weight=np.linspace(2.0, 0.0, C), label_smoothing=0.1, reduction="none"),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("split", ["1", "2", "7", "0-size"])
@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy(compute, dtype, split, case):
    x = logits(dtype)
    t = np.random.default_rng(1).integers(0, C, N)
    t[[4, 5]] = [60, 50]                       # the max of rows with a late or tiny-tail max
    kw = CE_CASES[case]
    t[[10, 11]] = [kw.get("ignore_index", -100), 3]
    xd = da.from_array(x, chunks=((10, 13), SPLITS[split]))
    td = da.from_array(t, chunks=7) if split == "2" else t   # a Dask target, other chunks
    loss, grad = compute(*csd.cross_entropy(xd, td, return_grad=True, **kw))
    want_loss, want_grad = csoftmax.cross_entropy(x, t, return_grad=True, **kw)
    _assert_close(loss, want_loss, dtype, rtol=1e-6 if dtype == np.float32 else 1e-13)
    _assert_close(grad, want_grad, dtype)
    only = compute(csd.cross_entropy(xd, td, **kw))[0]
    _assert_close(only, want_loss, dtype, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_cross_entropy_specials_and_errors(compute):
    x = logits(np.float64)[:12]
    t = np.arange(12) % C
    t[7] = -100                                 # an ignored row with NaN logits: 0 and 0
    xd = da.from_array(x, chunks=(6, 20))
    rows = compute(csd.cross_entropy(xd, t, reduction="none"))[0]
    want = csoftmax.cross_entropy(x, t, reduction="none")
    np.testing.assert_array_equal(np.isnan(rows), np.isnan(want))
    assert rows[7] == 0 and np.isnan(rows[[1, 2, 3]]).all()
    # a class axis that is not last, and a tiny loss that keeps its relative accuracy
    x3 = np.array([[0.0, -37.0], [1.0, 1.0]]).T.copy()       # classes along axis 0
    l3 = compute(csd.cross_entropy(da.from_array(x3, chunks=1), [0, 1], axis=0,
                                   reduction="none"))[0]
    _assert_close(l3, csoftmax.cross_entropy(x3, [0, 1], axis=0, reduction="none"), np.float64)
    assert l3[0] > 0
    # probability targets: the class axis in one chunk
    q = csoftmax.softmax(logits(np.float64, seed=2)[:12])
    q[~np.isfinite(q)] = 0.5
    pl, pg = compute(*csd.cross_entropy(da.from_array(x, chunks=(5, C)), q, return_grad=True,
                                        label_smoothing=0.1))
    wl, wg = csoftmax.cross_entropy(x, q, return_grad=True, label_smoothing=0.1)
    _assert_close(pl, wl, np.float64)
    _assert_close(pg, wg, np.float64)
    # and split across chunks: each row's sum of target coefficients goes to every chunk
    for kw in ({}, dict(weight=np.linspace(2.0, 0.5, C), label_smoothing=0.3, reduction="sum")):
        pl, pg = compute(*csd.cross_entropy(xd, da.from_array(q, chunks=(4, 9)),
                                            return_grad=True, **kw))
        wl, wg = csoftmax.cross_entropy(x, q, return_grad=True, **kw)
        _assert_close(pl, wl, np.float64)
        _assert_close(pg, wg, np.float64)
    with pytest.raises(ValueError, match="ignore_index"):
        csd.cross_entropy(xd, q, ignore_index=0)
    bad = t.copy()
    bad[0] = C
    with pytest.raises(IndexError):
        compute(csd.cross_entropy(xd, bad))
    with pytest.raises(ValueError):
        csd.cross_entropy(xd, t[:5])
    r = csoftmax.cross_entropy(xd, t, return_grad=True)     # the core function hands it over
    assert isinstance(r[0], da.Array) and isinstance(r[1], da.Array)


def test_core_imports_nothing_above_it():
    """_core reaches csoftmax.dask only through the loader the package hands it (issue 22): no
    import of csoftmax.dask, which builds on the package, from the compiled module's sources."""
    import pathlib
    import re
    src = pathlib.Path(csoftmax.__file__).parent
    sources = [p for p in [src / "_core.pyx", *sorted(src.glob("*.pxi"))] if p.exists()]
    if not sources:
        pytest.skip("the Cython sources are not installed beside the package")
    up = re.compile(r"^\s*(from\s+(\.|csoftmax)\s+import\s+.*\bdask\b|import\s+csoftmax\.dask)", re.M)
    assert not [p.name for p in sources if up.search(p.read_text())]
    assert csoftmax.softmax(da.from_array(np.zeros(2), chunks=1)).compute().tolist() == [0.5, 0.5]
