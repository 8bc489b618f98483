"""Tests of cross_entropy and nll_loss (run against every implementation).

Values are checked against literals worked out by hand, against an
independent float64 oracle for every option combination, and gradients
against fourth-order central finite differences.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_softmax

from helpers import cross_entropy_oracle, max_rel_diff, no_warnings, numeric_grad

LOG2, LOG3, LOG5 = np.log(2.0), np.log(3.0), np.log(5.0)


# --------------------------------------------------------------------------
# Literal values
# --------------------------------------------------------------------------

def test_tiny_loss_keeps_relative_accuracy(impl):
    ce = impl.cross_entropy
    loss, grad = ce(np.array([[0.0, -37.0]]), np.array([0]), return_grad=True)
    # log1p(exp(-37)); a naive max + log(1 + tiny) would give exactly 0.
    np.testing.assert_allclose(loss, 8.533047625744066e-17, rtol=5e-16)
    # p_0 - 1 = -exp(-37) / (1 + exp(-37)): no 1 - p cancellation either.
    np.testing.assert_allclose(grad, [[-8.533047625744066e-17,
                                       8.533047625744066e-17]], rtol=5e-16)


def test_tiny_loss_float32(impl):
    ce = impl.cross_entropy
    loss = ce(np.array([[0.0, -37.0]], np.float32), np.array([0]))
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss, 8.533047625744066e-17, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_margin_is_exact(impl, dtype):
    ce = impl.cross_entropy
    assert ce(np.array([[1000.0, 0.0]], dtype), np.array([1])) == 1000.0
    assert ce(np.array([[1000.0, 0.0]], dtype), np.array([0])) == 0.0


def test_ties_count_in_log_sum_exp(impl):
    ce = impl.cross_entropy
    np.testing.assert_allclose(ce(np.array([[5.0, 5.0, 5.0]]), [2]), LOG3,
                               rtol=1e-15)
    np.testing.assert_allclose(ce(np.array([[7.0, 7.0]]), [0]), LOG2,
                               rtol=1e-15)


def _hand_example():
    """Two samples, three classes, weight [1, 2, 3], eps = 0.3.

    Sample 1: logits [0, 0, 0], target 1: -logp = log 3 everywhere, so
    nll = 2 log 3, smooth = (1+2+3) log 3 and
    loss1 = 0.7 * 2 log 3 + (0.3/3) * 6 log 3 = 2 log 3.
    Sample 2: logits [0, log 2, log 2], target 2: the exps are [1, 2, 2],
    -logp = [log 5, log 2.5, log 2.5], nll = 3 log 2.5,
    smooth = log 5 + (2 + 3) log 2.5 and
    loss2 = 0.7 * 3 log 2.5 + 0.1 * (log 5 + 5 log 2.5)
          = 2.6 log 2.5 + 0.1 log 5.
    """
    x = np.array([[0.0, 0.0, 0.0], [0.0, LOG2, LOG2]])
    per = np.array([2 * LOG3, 2.6 * np.log(2.5) + 0.1 * LOG5])
    return x, np.array([1, 2]), np.array([1.0, 2.0, 3.0]), 0.3, per


def test_hand_example_index_targets(impl):
    ce = impl.cross_entropy
    x, t, w, eps, per = _hand_example()
    kw = dict(weight=w, label_smoothing=eps)
    np.testing.assert_allclose(ce(x, t, reduction="none", **kw), per,
                               rtol=1e-14)
    np.testing.assert_allclose(ce(x, t, reduction="sum", **kw), per.sum(),
                               rtol=1e-14)
    # "mean" divides by the summed target weights w[1] + w[2] = 5.
    np.testing.assert_allclose(ce(x, t, **kw), per.sum() / 5, rtol=1e-14)


def test_hand_example_probability_targets(impl):
    ce = impl.cross_entropy
    x, t, w, eps, per = _hand_example()
    q = np.eye(3)[t]  # one-hot rows give the same per-sample losses...
    kw = dict(weight=w, label_smoothing=eps)
    np.testing.assert_allclose(ce(x, q, reduction="none", **kw), per,
                               rtol=1e-14)
    # ...but "mean" divides by the number of samples, not the weights.
    np.testing.assert_allclose(ce(x, q, **kw), per.sum() / 2, rtol=1e-14)


def test_hand_example_nll_loss(impl):
    nll = impl.nll_loss
    lp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    w = np.array([2.0, 1.0, 1.0])
    np.testing.assert_allclose(nll(lp, [0, 1], weight=w),
                               (2 * np.log(2) + np.log(1.25)) / 3, rtol=1e-14)
    np.testing.assert_allclose(nll(lp, [0, -100], reduction="none"),
                               [np.log(2), 0.0], rtol=1e-14)


# --------------------------------------------------------------------------
# Every option combination against the oracle and finite differences
# --------------------------------------------------------------------------

SHAPES = {2: (5, 4), 3: (3, 4, 2)}
GRID = list(itertools.product(
    [False, True],             # weighted
    [-100, 1],                 # ignore_index (1 is a real class)
    ["mean", "sum", "none"],   # reduction
    [0.0, 0.2],                # label_smoothing
    ["index", "prob"],         # target kind
    [2, 3],                    # logits ndim
    [0, 1, -1],                # class axis
))


def _grid_id(case):
    w, ign, red, eps, kind, ndim, axis = case
    return (f"{'w' if w else 'now'}-ign{ign}-{red}-ls{eps}-{kind}"
            f"-{ndim}d-ax{axis}")


def _grid_inputs(case, seed=0):
    weighted, ignore_index, _, _, kind, ndim, axis = case
    rng = np.random.default_rng(seed)
    shape = SHAPES[ndim]
    x = rng.normal(scale=2.0, size=shape)
    n_classes = shape[axis]
    batch = tuple(np.delete(np.array(shape), axis % ndim))
    if kind == "index":
        t = rng.integers(0, n_classes, size=batch)
        flat = t.reshape(-1)
        flat[0] = 1            # ignored when ignore_index == 1
        flat[-1] = 0           # never ignored
        if ignore_index == -100:
            flat[1] = -100
    else:
        q = rng.dirichlet(np.ones(n_classes), size=batch)
        t = np.moveaxis(q, -1, axis)
    w = rng.uniform(0.5, 2.0, n_classes) if weighted else None
    return x, t, w


def _kwargs(case, w):
    _, ignore_index, reduction, eps, _, _, axis = case
    return dict(axis=axis, weight=w, ignore_index=ignore_index,
                reduction=reduction, label_smoothing=eps)


@pytest.mark.parametrize("case", GRID, ids=_grid_id)
def test_options_float64_value_and_grad(impl, case):
    ce = impl.cross_entropy
    x, t, w = _grid_inputs(case)
    kw = _kwargs(case, w)
    if t.dtype.kind == "f" and kw["ignore_index"] >= 0:
        with pytest.raises(ValueError, match="ignore_index"):
            ce(x, t, **kw)  # as PyTorch: only for index targets
        return
    loss, grad = ce(x, t, return_grad=True, **kw)
    want = cross_entropy_oracle(x, t, **kw)
    np.testing.assert_allclose(loss, want, rtol=1e-12, atol=1e-300)
    if kw["reduction"] == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == want.shape
    else:
        assert isinstance(loss, np.float64)
    assert grad.shape == x.shape and grad.dtype == np.float64
    fd = numeric_grad(lambda z: np.sum(ce(z, t, **kw)), x)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)
    # The loss call without return_grad agrees with the one with it.
    np.testing.assert_array_equal(ce(x, t, **kw), loss)


@pytest.mark.parametrize("case", GRID, ids=_grid_id)
def test_options_float32(impl, case):
    ce = impl.cross_entropy
    x, t, w = _grid_inputs(case)
    x32 = x.astype(np.float32)
    t32 = t if t.dtype.kind in "iu" else t.astype(np.float32)
    w32 = None if w is None else w.astype(np.float32)
    kw = _kwargs(case, w32)
    if t.dtype.kind == "f" and kw["ignore_index"] >= 0:
        with pytest.raises(ValueError, match="ignore_index"):
            ce(x32, t32, **kw)
        return
    loss, grad = ce(x32, t32, return_grad=True, **kw)
    assert np.asarray(loss).dtype == np.float32 and grad.dtype == np.float32
    kw64 = _kwargs(case, None if w32 is None else w32.astype(np.float64))
    want = cross_entropy_oracle(x32, t32.astype(np.float64)
                                if t32.dtype.kind == "f" else t32, **kw64)
    np.testing.assert_allclose(loss, want, rtol=2e-6, atol=1e-7)
    _, grad64 = ce(x32.astype(np.float64), t32, return_grad=True, **kw64)
    np.testing.assert_allclose(grad, grad64, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------
# Special cases: infinities, empty and fully ignored batches, dtypes
# --------------------------------------------------------------------------

def test_minus_inf_logits(impl):
    ce = impl.cross_entropy
    x = np.array([[0.0, -np.inf, 1.0]])
    with no_warnings():
        loss, grad = ce(x, [0], return_grad=True)
        np.testing.assert_allclose(loss, np.log1p(np.exp(1.0)), rtol=1e-15)
        assert np.all(np.isfinite(grad)) and grad[0, 1] == 0.0
        # 0 * -inf counts as 0 for a probability target of 0.
        loss, grad = ce(x, np.array([[0.5, 0.0, 0.5]]), return_grad=True)
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
        assert grad[0, 1] == 0.0
        # Zero weight on a -inf target class: still a zero contribution.
        loss = ce(x, [1], weight=[1.0, 0.0, 1.0], reduction="sum")
        assert loss == 0.0
        # Mass on the -inf class: infinite loss, finite gradient.
        assert ce(x, [1]) == np.inf
        assert ce(x, np.array([[0.2, 0.3, 0.5]])) == np.inf
        loss, grad = ce(x, [0], label_smoothing=0.1, return_grad=True)
        assert loss == np.inf and np.all(np.isfinite(grad))
        # label_smoothing=1: the target's coefficient is 0, so its -inf log-probability counts as
        # 0 (the reference gave NaN); the smoothing's mass on the -inf class makes the loss inf
        for reduction in ("mean", "sum", "none"):
            loss, grad = ce(x, [1], label_smoothing=1.0, reduction=reduction, return_grad=True)
            assert np.all(loss == np.inf) and np.all(np.isfinite(grad))
        np.testing.assert_allclose(ce(np.array([[0.0, -np.inf, 1.0]]), [1], label_smoothing=1.0,
                                      weight=[1.0, 0.0, 1.0], reduction="sum"),
                                   -(np.log(1 / (1 + np.e)) + np.log(np.e / (1 + np.e))) / 3,
                                   rtol=1e-15)


def test_nan_logits_propagate(impl):
    ce = impl.cross_entropy
    x = np.array([[0.0, np.nan], [0.0, 1.0]])
    loss = ce(x, [0, 0], reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    # An ignored NaN row contributes nothing.
    assert np.isfinite(ce(x, [-100, 0]))


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_empty_batch(impl, kind):
    ce = impl.cross_entropy
    x = np.zeros((0, 3))
    t = np.zeros(0, dtype=np.int64) if kind == "index" else np.zeros((0, 3))
    with no_warnings():
        loss, grad = ce(x, t, return_grad=True)
        assert np.isnan(loss) and grad.shape == (0, 3)
        assert ce(x, t, reduction="sum") == 0.0
        none = ce(x, t, reduction="none")
        assert isinstance(none, np.ndarray) and none.shape == (0,)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_all_ignored(impl, eps):
    ce = impl.cross_entropy
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    t = np.array([-100, -100])
    with no_warnings():
        loss, grad = ce(x, t, label_smoothing=eps, return_grad=True)
        assert np.isnan(loss)
        np.testing.assert_array_equal(grad, 0.0)
        loss, grad = ce(x, t, label_smoothing=eps, reduction="sum",
                        return_grad=True)
        assert loss == 0.0
        np.testing.assert_array_equal(grad, 0.0)
        np.testing.assert_array_equal(
            ce(x, t, label_smoothing=eps, reduction="none"), [0.0, 0.0])


def test_zero_total_weight_mean_is_nan(impl):
    ce = impl.cross_entropy
    x = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    w = np.array([0.0, 0.0, 1.0])
    with no_warnings():
        loss, grad = ce(x, [0, 1, -100], weight=w, return_grad=True)
        assert np.isnan(loss)
        # Like PyTorch: NaN (0/0) for counted samples, 0 for ignored ones.
        assert np.all(np.isnan(grad[:2])) and np.all(grad[2] == 0.0)
        assert ce(x, [0, 1, -100], weight=w, reduction="sum") == 0.0


def test_one_dimensional_logits(impl):
    ce = impl.cross_entropy
    x = np.array([1.0, 2.0, 3.0])
    want = cross_entropy_oracle(x[None], [2])
    np.testing.assert_allclose(ce(x, 2), want, rtol=1e-15)
    np.testing.assert_allclose(ce(x, np.array([0.0, 0.0, 1.0])), want,
                               rtol=1e-15)
    none = ce(x, np.int8(2), reduction="none")
    assert isinstance(none, np.ndarray) and none.shape == ()


@pytest.mark.parametrize("tdtype", [np.float16, np.float32, ">f8", np.longdouble])
def test_probability_target_of_any_float_dtype(impl, tdtype):
    # the target is converted to the logits' dtype, whatever float it is (longdouble too)
    ce = impl.cross_entropy
    x = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    q = np.array([[0.25, 0.5, 0.25], [0.0, 0.0, 1.0]])
    want = ce(x, q, reduction="none", return_grad=True)
    got = ce(x, q.astype(tdtype), reduction="none", return_grad=True)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_dtypes(impl):
    ce = impl.cross_entropy
    x = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = np.array([2, 0])
    ref = ce(x, t, reduction="none")
    loss, grad = ce(x.astype(np.float16), t, return_grad=True)
    assert isinstance(loss, np.float16) and grad.dtype == np.float16
    np.testing.assert_allclose(loss, ref.mean(), rtol=2e-3)
    loss = ce(np.array([[1, 2, 0], [0, -1, 3]]), t)
    assert isinstance(loss, np.float64)
    for tdtype in (np.int8, np.uint8, np.int16, np.int32, np.uint64):
        np.testing.assert_array_equal(
            ce(x, t.astype(tdtype), reduction="none"), ref)


def test_float32_mean_over_many_rows(impl):
    ce = impl.cross_entropy
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1_000_000, 3)).astype(np.float32)
    t = rng.integers(0, 3, size=x.shape[0])
    got = ce(x, t)
    want = ce(x.astype(np.float64), t)
    assert got.dtype == np.float32
    assert abs(float(got) / want - 1) < 1e-6, (float(got), float(want))


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------

def _logits(min_classes=2, max_classes=6, bound=30.0):
    shape = st.tuples(st.integers(1, 5), st.integers(min_classes, max_classes))
    return hnp.arrays(np.float64, shape,
                      elements=st.floats(-bound, bound, allow_nan=False))


@settings(max_examples=40, deadline=None)
@given(x=_logits(), data=st.data())
def test_grad_rows_sum_to_zero(impl, x, data):
    ce = impl.cross_entropy
    n, c = x.shape
    t = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n,
                                    max_size=n)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    _, grad = ce(x, t, reduction=reduction, return_grad=True)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-14)
    q = np.random.default_rng(0).dirichlet(np.ones(c), size=n)
    _, grad = ce(x, q, reduction=reduction, return_grad=True)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(x=_logits(), eps=st.floats(0.0, 1.0), data=st.data())
def test_label_smoothing_equals_soft_target(impl, x, eps, data):
    ce = impl.cross_entropy
    n, c = x.shape
    t = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n,
                                    max_size=n)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    soft = (1 - eps) * np.eye(c)[t] + eps / c
    a, ga = ce(x, t, label_smoothing=eps, reduction=reduction,
               return_grad=True)
    b, gb = ce(x, soft, reduction=reduction, return_grad=True)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(x=_logits(2, 2), data=st.data())
def test_two_class_equals_binary(impl, x, data):
    ce, bce = impl.cross_entropy, impl.binary_cross_entropy
    n = x.shape[0]
    d = x[:, 1] - x[:, 0]
    t = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n,
                                    max_size=n)))
    p = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n,
                                    max_size=n)))
    for target, bt in ((t, t.astype(float)),
                       (np.stack([1 - p, p], axis=1), p)):
        a, ga = ce(x, target, reduction="none", return_grad=True)
        b, gb = bce(d, bt, reduction="none", return_grad=True)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ga[:, 1], gb, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ga[:, 0], -gb, rtol=1e-10, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(x=_logits(1), weighted=st.booleans(), data=st.data())
def test_nll_of_log_softmax_equals_cross_entropy(impl, x, weighted, data):
    ce, nll = impl.cross_entropy, impl.nll_loss
    n, c = x.shape
    t = np.array(data.draw(st.lists(st.integers(-1, c - 1), min_size=n,
                                    max_size=n)))
    w = np.linspace(0.5, 2.0, c) if weighted else None
    for reduction in ("mean", "sum", "none"):
        kw = dict(weight=w, ignore_index=-1, reduction=reduction)
        a = nll(log_softmax(x, axis=1), t, **kw)
        b = ce(x, t, **kw)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        a = nll(np.ascontiguousarray(log_softmax(x, axis=1).T), t, axis=0,
                **kw)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------

X = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]])

BAD_CE = [
    ("target 3", IndexError, "3", (X, [0, 3]), {}),
    ("target -1", IndexError, "-1", (X, [0, -1]), {}),
    ("target huge", IndexError, None, (X, np.array([0, 2**64 - 1], np.uint64)),
     {}),
    ("int target shape", ValueError, None, (X, [0, 1, 2]), {}),
    ("int target 2d", ValueError, None, (X, [[0, 1]]), {}),
    ("prob target shape", ValueError, None, (X, np.ones((2, 2)) / 2), {}),
    ("prob target flat", ValueError, None, (X, np.array([0.0, 1.0])), {}),
    ("ignore_index with prob target", ValueError, "ignore_index",
     (X, np.ones((2, 3)) / 3), dict(ignore_index=0)),
    ("bool target", TypeError, None, (X, np.array([True, False])), {}),
    ("complex target", TypeError, None, (X, np.ones((2, 3), complex)), {}),
    ("smoothing low", ValueError, None, (X, [0, 1]), dict(label_smoothing=-0.1)),
    ("smoothing high", ValueError, None, (X, [0, 1]), dict(label_smoothing=1.5)),
    ("smoothing nan", ValueError, None, (X, [0, 1]),
     dict(label_smoothing=float("nan"))),
    ("reduction", ValueError, None, (X, [0, 1]), dict(reduction="avg")),
    ("reduction None", ValueError, None, (X, [0, 1]), dict(reduction=None)),
    ("weight long", ValueError, None, (X, [0, 1]), dict(weight=np.ones(4))),
    ("weight 2d", ValueError, None, (X, [0, 1]), dict(weight=np.ones((1, 3)))),
    ("weight scalar", ValueError, None, (X, [0, 1]), dict(weight=1.0)),
    ("complex logits", TypeError, None, (X.astype(complex), [0, 1]), {}),
    ("object logits", TypeError, None, (X.astype(object), [0, 1]), {}),
    ("str logits", TypeError, None, (np.array([["a", "b"]]), [0]), {}),
    ("0-d logits", ValueError, None, (np.float64(1.0), 0), {}),
    ("axis", ValueError, None, (X, [0, 1]), dict(axis=2)),
    ("axis 2**63", np.exceptions.AxisError, None, (X, [0, 1]), dict(axis=2**63)),
    ("axis -2**63-1", np.exceptions.AxisError, None, (X, [0, 1]), dict(axis=-2**63 - 1)),
]


@pytest.mark.parametrize("args", BAD_CE, ids=[b[0] for b in BAD_CE])
def test_bad_input_cross_entropy(impl, args):
    ce = impl.cross_entropy
    _, exc, match, pos, kw = args
    with pytest.raises(exc, match=match):
        ce(*pos, **kw)
    with pytest.raises(exc, match=match):
        ce(*pos, return_grad=True, **kw)


# Two arguments wrong at once: each implementation reports the same one (cross_entropy_inputs'
# order), in the same words, whether the fast path checks the call inline or through the bundle
# (float16 logits, an int label_smoothing and a NumPy ignore_index take the bundle).
TWO_BAD = [
    ("reduction and smoothing", ValueError, "reduction", (X, [0, 1]),
     dict(reduction="avg", label_smoothing=2.0)),
    ("smoothing and weight", ValueError, "label_smoothing", (X, [0, 1]),
     dict(label_smoothing=2.0, weight=np.ones(4))),
    ("weight and ignore_index", ValueError, "weight", (X, [0, 1]),
     dict(weight=np.ones(4), ignore_index=1.5)),
    ("ignore_index and target", TypeError, "integer", (X, np.array([True, False])),
     dict(ignore_index=1.5)),
    ("axis and reduction", np.exceptions.AxisError, None, (X, [0, 1]),
     dict(axis=2, reduction="avg")),
    ("float16 logits, weight", ValueError, "weight", (X.astype(np.float16), [0, 1]),
     dict(weight=np.ones(4), label_smoothing=0)),
    ("NumPy ignore_index, probability target", ValueError, "ignore_index",
     (X, np.ones((2, 3)) / 3), dict(ignore_index=np.int64(0))),
]


@pytest.mark.parametrize("args", BAD_CE + TWO_BAD, ids=[b[0] for b in BAD_CE + TWO_BAD])
def test_bad_input_same_error_in_both(fast, reference, args):
    _, exc, match, pos, kw = args
    messages = []
    for ce in (reference.cross_entropy, fast.cross_entropy):
        with pytest.raises(exc, match=match) as info:
            ce(*pos, **kw)
        messages.append(str(info.value))
    assert messages[0] == messages[1]

def test_bad_input_nll_loss(impl):
    nll = impl.nll_loss
    with pytest.raises(IndexError, match="5"):
        nll(X, [0, 5])
    with pytest.raises(TypeError):
        nll(X, np.ones((2, 3)) / 3)
    with pytest.raises(ValueError):
        nll(X, [0, 1, 2])
    with pytest.raises(ValueError):
        nll(X, [0, 1], reduction="total")
    with pytest.raises(ValueError):
        nll(X, [0, 1], weight=np.ones(2))


def test_ignore_index_inside_class_range_is_not_an_error(impl):
    ce = impl.cross_entropy
    # -1 is fine when it is the ignore_index, even though it is negative.
    assert ce(X, [-1, -1], ignore_index=-1, reduction="sum") == 0.0


# --------------------------------------------------------------------------
# Inputs are never modified
# --------------------------------------------------------------------------

def _frozen(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_inputs_unmodified(impl, kind, dtype):
    ce, nll = impl.cross_entropy, impl.nll_loss
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3, 5)).astype(dtype)
    t = (rng.integers(0, 3, size=(4, 5)) if kind == "index"
         else rng.dirichlet(np.ones(3), size=(4, 5)).transpose(0, 2, 1))
    w = rng.uniform(size=3)
    copies = [a.copy() for a in (x, t, w)]
    fx, ft, fw = (_frozen(a) for a in (x, t, w))
    for reduction in ("mean", "sum", "none"):
        ce(fx, ft, axis=1, weight=fw, reduction=reduction,
           label_smoothing=0.1, return_grad=True)
        ce(x, t, axis=1, weight=w, reduction=reduction, return_grad=True)
        if kind == "index":
            nll(fx, ft, axis=1, weight=fw, reduction=reduction)
    for a, c in zip((x, t, w), copies):
        np.testing.assert_array_equal(a, c)


def test_max_rel_diff_helper():
    assert max_rel_diff([1.0, np.nan], [1.0, np.nan]) == 0.0
    assert max_rel_diff([1.0], [2.0]) == 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad_row", [[1.0, np.nan, 0.0], [np.inf, 0.0, 1.0], [np.inf, np.nan, 1.0],
                                     [-np.inf, -np.inf, -np.inf]])
def test_rows_without_softmax_are_nan(impl, dtype, bad_row):
    ce = impl.cross_entropy
    x = np.array([[0.5, -1.0, 2.0], bad_row, [0.0, -np.inf, 1.0]], dtype=dtype)
    for target in ([0, 1, 2], [0, 0, 0]):
        loss, grad = ce(x, target, reduction="none", return_grad=True)
        assert np.isnan(loss[1]) and np.isnan(grad[1]).all()
        assert np.isfinite(loss[0]) and np.isfinite(grad[[0, 2]]).all()
        # ignoring the bad row removes it entirely
        loss, grad = ce(x, [0, -100, 2], reduction="sum", return_grad=True)
        assert np.isfinite(loss) and (grad[1] == 0).all()
    soft = np.full(x.shape, 1 / 3, dtype=dtype)
    loss, grad = ce(x, soft, reduction="none", return_grad=True)
    assert np.isnan(loss[1]) and np.isnan(grad[1]).all() and np.isfinite(loss[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 7, 32, 33])
def test_many_short_rows_match_reference(impl, reference, dtype, n_classes):
    # many rows of few classes take the fast module's one-row-per-lane path (C <= 32)
    ce = impl.cross_entropy
    rng = np.random.default_rng(n_classes)
    x = (rng.standard_normal((77, n_classes)) * 5).astype(dtype)
    x[3] = -np.inf
    x[5, 0] = np.nan
    x[8, -1] = np.inf
    if n_classes > 1:
        x[10, 1:] = -np.inf
    t = rng.integers(0, n_classes, 77)
    t[::9] = -100
    w = rng.uniform(0.5, 2, n_classes).astype(dtype)
    for weight in (None, w):
        for eps in (0.0, 0.2):
            for red in ("none", "sum", "mean"):
                got = ce(x, t, weight=weight, label_smoothing=eps, reduction=red, return_grad=True)
                want = reference.cross_entropy(x, t, weight=weight, label_smoothing=eps,
                                               reduction=red, return_grad=True)
                # the float32 reference is the textbook formula (x - max rounded in float32):
                # compare relative to the scale of the values, not elementwise
                tol = 2e-6 if dtype == np.float32 else 1e-13
                for a, b in zip(got, want):
                    finite = np.abs(np.asarray(b)[np.isfinite(b)])
                    scale = max(float(finite.max(initial=0)), 1.0)
                    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, equal_nan=True)


def test_tiny_losses_in_many_rows(impl):
    ce = impl.cross_entropy
    x = np.tile([[0.0, -37.0]], (40, 1))
    losses, grad = ce(x, np.zeros(40, dtype=int), reduction="none", return_grad=True)
    np.testing.assert_allclose(losses, 8.533047625744066e-17, rtol=1e-14)
    np.testing.assert_allclose(grad[:, 0], -8.533047625744066e-17, rtol=1e-14)
    np.testing.assert_allclose(grad[:, 1], 8.533047625744066e-17, rtol=1e-14)
