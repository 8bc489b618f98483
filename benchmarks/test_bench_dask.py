"""csoftmax.dask vs the textbook formulas in dask.array, on a LocalCluster of 2 worker processes
(one thread each, loopback), float32 logits generated on the workers with the vocabulary axis
split in 4 (``csoftmax/bench/on_dask.py``; ``python -m csoftmax.bench --dask`` gives the table).
Each round persists the results on the workers under new keys and waits for them.

Only for the shapes of ``DASK_SHAPES`` (others are skipped, so the default suite does not start a
cluster):

    pytest benchmarks/test_bench_dask.py --benchmark-only --bench-shapes 2048x32000 \\
        --bench-dtypes float32          # 16384x32000 (2 GiB) is the issue's case
"""

from __future__ import annotations

import functools

import pytest

dask_array = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import csoftmax.dask as csd  # noqa: E402
from csoftmax.bench import on_dask  # noqa: E402
from csoftmax.bench.runner import parse_shapes  # noqa: E402

IMPLS = ("csoftmax", "dask.array")
DASK_SHAPES = {on_dask.QUICK_SHAPE, on_dask.SHAPE}
BUILD = {
    ("softmax", "csoftmax"): lambda x, t: csd.softmax(x),
    ("softmax", "dask.array"): lambda x, t: on_dask.textbook_softmax(x),
    ("cross_entropy", "csoftmax"): lambda x, t: list(csd.cross_entropy(x, t, return_grad=True)),
    ("cross_entropy", "dask.array"): lambda x, t: list(on_dask.textbook_cross_entropy(x, t)),
}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@functools.lru_cache(maxsize=1)
def _data(c, shape):
    n, cls = shape
    rng = dask_array.random.default_rng(0)
    chunks = (max(1, n // on_dask.ROW_CHUNKS), -(-cls // on_dask.SPLITS))
    x = c.persist(rng.standard_normal(shape, chunks=chunks, dtype="float32") * 3)
    t = c.persist(rng.integers(0, cls, n, chunks=chunks[0]))
    distributed.wait([x, t])
    return x, t


@pytest.mark.parametrize("op", ["softmax", "cross_entropy"])
def test_dask(benchmark, request, impl, shape, dtype, op):
    dims = parse_shapes(shape)[0]
    if dims not in DASK_SHAPES or dtype != "float32":
        pytest.skip(f"csoftmax.dask benchmarks run on float32 {sorted(DASK_SHAPES)} only")
    c = request.getfixturevalue("client")
    x, t = _data(c, dims)
    build = functools.partial(BUILD[(op, impl)], x, t)
    on_dask._timed(c, build, [x, t], 1)   # warm-up
    benchmark.extra_info.update(op=op, impl=impl, shape=list(dims), chunks=list(x.chunksize))
    benchmark.pedantic(on_dask._timed, args=(c, build, [x, t], 1), rounds=3, iterations=1)
