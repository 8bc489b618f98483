"""Softmax regression on scikit-learn's 8x8 digits, trained with ``csoftmax.cross_entropy``.

The model is the classic multinomial logistic regression ``p(y | x) = softmax(W x + b)``,
fitted by full-batch gradient descent with heavy-ball momentum on the mean cross-entropy
(plus an optional L2 penalty ``0.5 * l2 * ||W||^2``; the bias is not penalised). One fused
call per step gives both the loss and ``G = d loss / d logits``; the chain rule does the rest::

    logits = X @ W + b                                     # (n, C)
    loss, G = cross_entropy(logits, y, return_grad=True)   # G: (n, C), already divided by n
    dW = X.T @ G + l2 * W                                  # (d, C)
    db = G.sum(axis=0)                                     # (C,)

Run it from the repository root::

    python examples/softmax_regression.py

It loads the digits data set bundled with scikit-learn (1797 images, 64 pixels, 10 classes;
nothing is downloaded), standardises the pixels with the training-set statistics, uses a fixed
seeded stratified 75/25 split, prints the loss every 50 epochs, the final train/test accuracy
and the training time, and compares with scikit-learn's ``LogisticRegression`` (multinomial,
L-BFGS) fitted to the same objective on the same split. It takes a few seconds (mostly imports).

scikit-learn is only needed for the data set and the comparison; without it the script says
so and exits with status 0. The fast ``csoftmax.cross_entropy`` is used when the compiled
module provides it, else the pure-NumPy ``csoftmax.reference.cross_entropy`` (same API).

The reusable pieces are :func:`train_softmax_regression` and :func:`predict`.
"""

import importlib
import sys
import time

import numpy as np


def resolve_cross_entropy():
    """Return ``(cross_entropy, description)``: the fast csoftmax one if present, else the reference."""
    try:
        import csoftmax
    except ImportError as exc:  # compiled extension not built: use the pure-NumPy reference
        fast, reason = None, f"csoftmax not importable ({exc})"
    else:
        fast, reason = getattr(csoftmax, "cross_entropy", None), "csoftmax has no cross_entropy yet"
        if fast is not None:
            return fast, "csoftmax.cross_entropy (C)"
    return reference_cross_entropy(), f"csoftmax.reference.cross_entropy (NumPy; {reason})"


def reference_cross_entropy():
    """The pure-NumPy reference ``cross_entropy`` (from ``csoftmax.reference`` once re-exported)."""
    try:
        return importlib.import_module("csoftmax.reference").cross_entropy
    except (ImportError, AttributeError):
        return importlib.import_module("csoftmax.reference.losses").cross_entropy


def train_softmax_regression(X, y, n_classes, *, lr, epochs, l2=0.0, dtype=np.float32,
                             cross_entropy=None, momentum=0.9):
    """Fit ``softmax(X @ W + b)`` to integer labels by full-batch gradient descent.

    Minimises ``mean_i CE(softmax(X_i W + b), y_i) + 0.5 * l2 * ||W||_F^2`` from ``W = 0,
    b = 0`` with heavy-ball momentum (``momentum=0`` is plain gradient descent). Deterministic.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Features (ideally standardised); converted to ``dtype``.
    y : array_like of int, shape (n,)
        Class labels in ``[0, n_classes)``.
    n_classes : int
        Number of classes ``C``.
    lr : float
        Step size.
    epochs : int
        Number of full-batch gradient steps.
    l2 : float, optional
        L2 penalty on ``W`` (not on ``b``).
    dtype : numpy dtype, optional
        Precision of the parameters and of the loss/gradient computation (float32 or float64).
    cross_entropy : callable, optional
        A function with the API of ``csoftmax.cross_entropy``; default: the fast one if the
        compiled module has it, else ``csoftmax.reference.cross_entropy``.
    momentum : float, optional
        Heavy-ball coefficient ``beta``: ``v = beta * v - lr * grad; theta += v``.

    Returns
    -------
    W : ndarray, shape (d, C), dtype ``dtype``
    b : ndarray, shape (C,), dtype ``dtype``
    losses : ndarray, shape (epochs,), float64
        The objective (cross-entropy + penalty) at the parameters *before* each step, so
        ``losses[0] == log(C)`` (all-zero start).
    """
    if cross_entropy is None:
        cross_entropy, _ = resolve_cross_entropy()
    dtype = np.dtype(dtype)
    X = np.ascontiguousarray(X, dtype=dtype)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"expected X of shape (n, d) and y of shape (n,), got {X.shape} and {y.shape}")
    y = y.astype(np.intp, copy=False)
    n_features = X.shape[1]

    W = np.zeros((n_features, n_classes), dtype=dtype)
    b = np.zeros(n_classes, dtype=dtype)
    vW = np.zeros_like(W)
    vb = np.zeros_like(b)
    lr, l2, momentum = dtype.type(lr), dtype.type(l2), dtype.type(momentum)
    losses = np.empty(epochs, dtype=np.float64)

    for epoch in range(epochs):
        logits = X @ W
        logits += b
        loss, grad = cross_entropy(logits, y, return_grad=True)  # grad = dloss/dlogits
        gW = X.T @ grad
        gb = grad.sum(axis=0)
        if l2:
            loss = float(loss) + 0.5 * float(l2) * float(np.vdot(W, W))
            gW += l2 * W
        losses[epoch] = float(loss)
        vW *= momentum
        vW -= lr * gW
        vb *= momentum
        vb -= lr * gb
        W += vW
        b += vb
    return W, b, losses


def predict(W, b, X):
    """Most probable class for each row of ``X`` (argmax of the logits = argmax of softmax)."""
    X = np.asarray(X, dtype=W.dtype)
    return np.argmax(X @ W + b, axis=1)


def load_digits_split(test_size=0.25, seed=0):
    """Standardised digits train/test split: ``(X_train, X_test, y_train, y_test)``.

    Stratified and seeded; the mean and standard deviation come from the training part only
    (constant pixels, e.g. the always-blank corners, get a scale of 1).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y)
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


# Hyper-parameters of the digits demo (also used by the test suite).
DIGITS_PARAMS = dict(lr=1.0, epochs=300, l2=1e-3, dtype=np.float32)


def main():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("This example needs scikit-learn for the digits data set and the comparison:\n"
              "    pip install scikit-learn\n"
              "Skipping (csoftmax itself does not depend on scikit-learn).")
        return 0
    with _single_threaded_blas():
        return _run_digits()


def _single_threaded_blas():
    """Limit BLAS to one thread: the matrices here are tiny, and a multi-threaded OpenBLAS
    can be ~10x slower on a busy machine. threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _run_digits():
    from sklearn.linear_model import LogisticRegression

    cross_entropy, ce_name = resolve_cross_entropy()
    X_train, X_test, y_train, y_test = load_digits_split()
    n_classes = int(y_train.max()) + 1
    p = DIGITS_PARAMS
    print(f"digits: {X_train.shape[0]} train / {X_test.shape[0]} test samples, "
          f"{X_train.shape[1]} features, {n_classes} classes")
    print(f"loss/gradient: {ce_name}")
    print(f"full-batch GD, momentum 0.9, lr={p['lr']}, epochs={p['epochs']}, l2={p['l2']}, "
          f"{np.dtype(p['dtype']).name}")

    t0 = time.perf_counter()
    W, b, losses = train_softmax_regression(X_train, y_train, n_classes,
                                            cross_entropy=cross_entropy, **p)
    train_time = time.perf_counter() - t0

    print("\nepoch   objective")
    for epoch in list(range(0, p["epochs"], 50)) + [p["epochs"] - 1]:
        print(f"{epoch:5d}   {losses[epoch]:.4f}")

    train_acc = np.mean(predict(W, b, X_train) == y_train)
    test_acc = np.mean(predict(W, b, X_test) == y_test)
    print(f"\ncsoftmax softmax regression: train acc {train_acc:.4f}, test acc {test_acc:.4f}, "
          f"training time {train_time * 1e3:.0f} ms ({p['epochs']} epochs)")

    # The same objective: sklearn minimises 0.5 ||W||^2 + C * sum_i CE_i (intercept not
    # penalised), i.e. mean CE + 0.5 * l2 ||W||^2 with C = 1 / (l2 * n). For more than two
    # classes and the lbfgs solver it fits the multinomial (softmax) model.
    C = 1.0 / (p["l2"] * X_train.shape[0])
    clf = LogisticRegression(C=C, max_iter=2000)
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    sk_time = time.perf_counter() - t0
    sk_train = clf.score(X_train, y_train)
    sk_test = clf.score(X_test, y_test)
    ref_ce = reference_cross_entropy()
    sk_logits = X_train @ clf.coef_.T + clf.intercept_
    sk_obj = float(ref_ce(sk_logits, y_train)) + 0.5 * p["l2"] * float(np.sum(clf.coef_ ** 2))
    print(f"sklearn LogisticRegression (lbfgs, C={C:.3f}): train acc {sk_train:.4f}, "
          f"test acc {sk_test:.4f}, fit time {sk_time * 1e3:.0f} ms")
    print(f"objective at the end: gradient descent {losses[-1]:.5f}, sklearn {sk_obj:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
