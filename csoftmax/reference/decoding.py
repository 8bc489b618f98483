"""Reference (pure NumPy, float64) of the decoding functions: top-k probabilities and sampling.

Each row is handled on its own with the textbook steps (softmax, stable argsort, cumsum,
searchsorted), so the code reads as the specification; csoftmax's C kernels must agree with it
up to rounding, and draw the same index from the same uniform.
"""
import numpy as np

from .._decoding_args import (as_rows, check_k, check_temperature, decoding_input, from_rows,
                             raise_bad_row, sampling_options, uniforms)


def _rows(logits, axis):
    x, dtype, ax = decoding_input(logits, axis)
    batch_shape = x.shape[:ax] + x.shape[ax + 1:]
    return as_rows(x, ax).astype(np.float64), dtype, ax, batch_shape


def _check_row(row, r, batch_shape):
    if np.isnan(row).any() or (row == np.inf).any():
        raise_bad_row(r, batch_shape, no_finite=False)
    if not np.isfinite(row).any():
        raise_bad_row(r, batch_shape, no_finite=True)


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def top_k_softmax(logits, k, axis=-1, *, temperature=1.0, log=False):
    """The `k` largest entries of ``softmax(logits / temperature)`` along `axis` and their indices.

    The softmax is normalized over the whole row (not over the k). Entries are ranked by their
    logits, largest first, equal logits by lower index first: entries whose probabilities round
    to the same value (``[0, 0, 1e-30]`` gives indices ``[2, 0]``) keep the order of their
    logits. ``log=True`` gives log-probabilities ("top logprobs"). `values`
    (the input's float dtype; float16/bfloat16 stay so, integers give float64) and `indices`
    (int64) have the input's shape with `axis` of length `k`; ``0 <= k <= logits.shape[axis]``.
    A row with NaN or +inf, or with no finite entry, raises ValueError naming the row.

    >>> import numpy as np
    >>> from csoftmax import reference as ref
    >>> v, i = ref.top_k_softmax(np.log([[1.0, 4.0, 2.0, 1.0, 2.0]]), 3)
    >>> v, i
    (array([[0.4, 0.2, 0.2]]), array([[1, 2, 4]]))
    >>> ref.top_k_softmax(np.log([[1.0, 4.0, 2.0, 1.0, 2.0]]), 1, log=True)[0]
    array([[-0.91629073]])
    """
    rows, dtype, ax, batch_shape = _rows(logits, axis)
    k = check_k(k, rows.shape[1])
    t = check_temperature(temperature, allow_zero=False)
    values = np.empty((rows.shape[0], k))
    indices = np.empty((rows.shape[0], k), dtype=np.int64)
    for r, row in enumerate(rows):
        if not row.size:      # so k == 0: nothing to return or check
            continue
        _check_row(row, r, batch_shape)
        z = row / t
        m = z.max()
        ls = z - m - np.log(np.exp(z - m).sum())
        order = np.argsort(-row, kind="stable")[:k]   # by the exact logits, not the rounded ls
        indices[r] = order
        values[r] = ls[order] if log else np.exp(ls[order])
    with np.errstate(over="ignore"):     # log-probabilities below the dtype's range are -inf
        values = values.astype(dtype)
    return from_rows(values, batch_shape, ax), from_rows(indices, batch_shape, ax)


def sample(logits, *, axis=-1, temperature=1.0, top_k=None, top_p=None, min_p=None,
           random_state=None):
    """Draw one index per row along `axis` (int64, the input's shape without `axis`).

    Each step applies to what the previous kept:

    1. ``temperature == 0``: the row's argmax (lowest index among ties); the other options are
       ignored. Otherwise ``z = logits / temperature`` (temperature > 0).
    2. `top_k` (int >= 1): keep the entries whose z is >= the k-th largest z (ties at the
       boundary are kept).
    3. `top_p` (0 < top_p <= 1): with p the softmax of the kept z, keep entry i when the total
       probability of the kept entries strictly more probable than i is < top_p (so at least one
       is kept, and tied entries are kept or dropped together).
    4. `min_p` (0 <= min_p <= 1): keep the entries with p_i >= min_p * max p.
    5. Draw one uniform u in [0, 1) per row from ``numpy.random.default_rng(random_state)``
       (`random_state`: None, an int seed, or a ``numpy.random.Generator``, which is advanced),
       and return the first kept index, in increasing index order, at which the cumulative sum
       of the renormalized kept probabilities exceeds u.

    One uniform is drawn per row, in row order (C order over the other axes), even for greedy
    rows, so the same random_state gives the same indices whatever the thread count or build.
    (If rounding leaves the cumulative sum <= u, the last kept index of positive probability is
    returned.) Rows with NaN or +inf, or with no finite entry, raise ValueError naming the row;
    bad option values raise ValueError. This reference computes in float64.

    >>> import numpy as np
    >>> from csoftmax import reference as ref
    >>> x = np.log([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    >>> ref.sample(x, temperature=0)
    array([3, 0])
    >>> ref.sample(x, top_k=1, random_state=0), ref.sample(x, top_p=0.5, random_state=1)
    (array([3, 0]), array([3, 1]))
    """
    rows, _, ax, batch_shape = _rows(logits, axis)
    t, top_k, top_p, min_p = sampling_options(temperature, top_k, top_p, min_p, rows.shape[1])
    u = uniforms(random_state, rows.shape[0])
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        _check_row(row, r, batch_shape)
        out[r] = _sample_row(row, u[r], t, top_k, top_p, min_p)
    return out.reshape(batch_shape)


def _sample_row(row, u, t, top_k, top_p, min_p):
    if t == 0:
        return int(np.argmax(row))            # the first maximum
    z = row / t
    keep = np.ones(z.size, dtype=bool)
    if top_k is not None:                     # step 2
        keep &= z >= np.sort(z)[-top_k]
    p = np.where(keep, _softmax(np.where(keep, z, -np.inf)), 0.0)
    if top_p is not None:                     # step 3
        desc = np.sort(p[keep])[::-1]
        mass = np.concatenate([[0.0], np.cumsum(desc)])
        above = mass[np.searchsorted(-desc, -p, side="left")]   # total of the strictly larger
        keep &= above < top_p
    if min_p is not None:                     # step 4
        keep &= p >= min_p * p.max()
    q = np.where(keep, p, 0.0)                # step 5
    cum = np.cumsum(q / q.sum())
    i = int(np.searchsorted(cum, u, side="right"))
    return i if i < z.size else int(np.flatnonzero(q > 0)[-1])
