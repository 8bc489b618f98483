"""The softmax-regression example (examples/softmax_regression.py) trains correctly.

The example is loaded from its path (``examples/`` is not a package). Its training loop is
run on seeded Gaussian blobs with each cross_entropy implementation (the ``impl`` fixture),
and the fast and reference runs must give the same weights. The real digits run needs
scikit-learn and is skipped without it (scikit-learn is not a dependency). No timing asserts.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

from helpers import load_fast

_EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "softmax_regression.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("_example_softmax_regression", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()

N_CLASSES = 4
N_FEATURES = 8
BLOB_PARAMS = dict(lr=0.2, epochs=150, l2=1e-3)


def _blobs(n_per_class, seed):
    """Unit-variance Gaussian blobs around fixed centres: separable-ish (some overlap)."""
    centres = np.random.default_rng(12345).normal(scale=1.0, size=(N_CLASSES, N_FEATURES))
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    X = centres[y] + rng.normal(size=(y.size, N_FEATURES))
    order = rng.permutation(y.size)
    return X[order], y[order]


@pytest.fixture(scope="module")
def blobs():
    X_train, y_train = _blobs(75, seed=1)   # 300 training points
    X_test, y_test = _blobs(50, seed=2)     # 200 held-out points from the same blobs
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)  # standardise as the example does
    return (X_train - mean) / std, y_train, (X_test - mean) / std, y_test


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blobs_loss_decreases_and_generalises(impl, blobs, dtype):
    X_train, y_train, X_test, y_test = blobs
    ce = impl.cross_entropy
    W, b, losses = example.train_softmax_regression(
        X_train, y_train, N_CLASSES, dtype=dtype, cross_entropy=ce, **BLOB_PARAMS)

    assert W.shape == (N_FEATURES, N_CLASSES) and W.dtype == dtype
    assert b.shape == (N_CLASSES,) and b.dtype == dtype
    assert losses.shape == (BLOB_PARAMS["epochs"],)
    assert np.all(np.isfinite(losses))
    assert losses[0] == pytest.approx(np.log(N_CLASSES), rel=1e-5)  # all-zero start
    assert losses[-1] < 0.5 * losses[0]
    # Monotone-ish: momentum may wiggle, but every 10-epoch checkpoint improves on the last.
    checkpoints = losses[::10]
    assert np.all(np.diff(checkpoints) <= 1e-6), checkpoints

    pred = example.predict(W, b, X_test)
    assert pred.shape == y_test.shape
    assert np.mean(pred == y_test) >= 0.9
    assert np.mean(example.predict(W, b, X_train) == y_train) >= 0.9


def test_blobs_plain_gradient_descent(reference, blobs):
    X_train, y_train, X_test, y_test = blobs
    W, b, losses = example.train_softmax_regression(
        X_train, y_train, N_CLASSES, lr=0.5, epochs=150, dtype=np.float64, momentum=0.0,
        cross_entropy=reference.cross_entropy)
    # Without momentum and with a small enough step the loss decreases at every step.
    assert np.all(np.diff(losses) <= 1e-12)
    assert losses[-1] < 0.5 * losses[0]
    assert np.mean(example.predict(W, b, X_test) == y_test) >= 0.9


def test_gradient_matches_finite_differences(reference, blobs):
    """One step of the example's chain rule (X^T G + l2 W, G.sum(0)) is the true gradient."""
    X, y, _, _ = blobs
    X, y = X[:40], y[:40]
    l2 = 0.1
    ce = reference.cross_entropy
    rng = np.random.default_rng(0)
    W = rng.normal(size=(N_FEATURES, N_CLASSES))
    b = rng.normal(size=N_CLASSES)

    def objective(W, b):
        return float(ce(X @ W + b, y)) + 0.5 * l2 * float(np.sum(W * W))

    # A one-epoch run with lr=1, momentum=0 from zero is W = -grad at 0; compare at 0 too.
    W1, b1, _ = example.train_softmax_regression(
        X, y, N_CLASSES, lr=1.0, epochs=1, l2=l2, dtype=np.float64, momentum=0.0,
        cross_entropy=ce)
    h = 1e-6
    zeros_W, zeros_b = np.zeros_like(W), np.zeros_like(b)
    for (i, j) in [(0, 0), (3, 2), (N_FEATURES - 1, N_CLASSES - 1)]:
        E = np.zeros_like(W)
        E[i, j] = h
        fd = (objective(zeros_W + E, zeros_b) - objective(zeros_W - E, zeros_b)) / (2 * h)
        assert -W1[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    for j in range(N_CLASSES):
        e = np.zeros_like(b)
        e[j] = h
        fd = (objective(zeros_W, zeros_b + e) - objective(zeros_W, zeros_b - e)) / (2 * h)
        assert -b1[j] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    # And the objective the example records is the one differentiated above.
    _, _, losses = example.train_softmax_regression(
        X, y, N_CLASSES, lr=0.0, epochs=1, l2=l2, dtype=np.float64, cross_entropy=ce)
    assert losses[0] == pytest.approx(objective(zeros_W, zeros_b), rel=1e-12)


def test_fast_and_reference_give_the_same_weights(fast, reference, blobs):
    X_train, y_train, _, _ = blobs
    runs = [example.train_softmax_regression(X_train, y_train, N_CLASSES, dtype=np.float64,
                                             cross_entropy=module.cross_entropy,
                                             **BLOB_PARAMS)
            for module in (fast, reference)]
    (W_fast, b_fast, loss_fast), (W_ref, b_ref, loss_ref) = runs
    scale = np.max(np.abs(W_ref))
    np.testing.assert_allclose(W_fast, W_ref, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(b_fast, b_ref, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(loss_fast, loss_ref, rtol=1e-6)


def test_default_cross_entropy_is_resolved(blobs):
    """Without ``cross_entropy=`` the example picks the fast one if present, else the reference."""
    X_train, y_train, _, _ = blobs
    ce, name = example.resolve_cross_entropy()
    fast, _ = load_fast()
    if fast is not None:
        assert ce is fast.cross_entropy and "reference" not in name
    W, b, losses = example.train_softmax_regression(
        X_train, y_train, N_CLASSES, lr=0.5, epochs=5, dtype=np.float64)
    W2, b2, losses2 = example.train_softmax_regression(
        X_train, y_train, N_CLASSES, lr=0.5, epochs=5, dtype=np.float64, cross_entropy=ce)
    np.testing.assert_array_equal(W, W2)
    np.testing.assert_array_equal(losses, losses2)


def test_digits_reach_95_percent(impl):
    """The example's own digits configuration (needs scikit-learn; about a second)."""
    pytest.importorskip("sklearn")
    ce = impl.cross_entropy
    X_train, X_test, y_train, y_test = example.load_digits_split()
    with example._single_threaded_blas():  # tiny matrices: threaded BLAS only adds overhead
        W, b, losses = example.train_softmax_regression(
            X_train, y_train, 10, cross_entropy=ce, **example.DIGITS_PARAMS)
    assert losses[-1] < 0.1 * losses[0]
    assert np.mean(example.predict(W, b, X_test) == y_test) >= 0.95


def test_main_runs(capsys):
    """``python examples/softmax_regression.py`` exits 0, with or without scikit-learn."""
    assert example.main() == 0
    out = capsys.readouterr().out
    try:
        import sklearn  # noqa: F401
    except ImportError:
        assert "scikit-learn" in out
    else:
        assert "test acc" in out and "LogisticRegression" in out
