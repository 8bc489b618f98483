"""Cross-check cross_entropy, nll_loss and binary_cross_entropy against PyTorch.

Optional: skipped unless ``torch`` is importable. Values and autograd
gradients are compared for float32 and float64 over every option
combination; failures report the maximum relative difference.

Deliberate differences, not exercised here: a probability target of 0 at a
``-inf`` logit gives PyTorch NaN (0 * -inf) but a finite loss here, and
PyTorch's ``cross_entropy([[0., -37.]], [0])`` is 0 where ours is 8.5e-17.
"""

import itertools

import numpy as np
import pytest

from helpers import max_rel_diff

torch = pytest.importorskip("torch")
F = torch.nn.functional

# atol covers tiny values where torch is the less accurate side, e.g. its
# BCE at x = -30, t = 0 is 9.237e-14 against the exact log1p(exp(-30)) =
# 9.358e-14 (an absolute error of ~eps * |x|).
TOL = {np.float32: dict(rtol=2e-5, atol=1e-6),
       np.float64: dict(rtol=1e-12, atol=1e-14)}


def _check(name, got, want, dtype):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    np.testing.assert_allclose(
        got, want, **TOL[dtype],
        err_msg=f"{name}: max relative difference vs torch "
                f"{max_rel_diff(got, want):.3g}")


def _torch_value_and_grad(fn, x, *args, **kw):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    loss = fn(xt, *args, **kw)
    loss.sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


CE_GRID = list(itertools.product(
    [np.float32, np.float64],
    [False, True],                 # weighted
    [-100, 1],                     # ignore_index
    ["mean", "sum", "none"],
    [0.0, 0.25],                   # label_smoothing
    ["index", "prob"],
    [2, 3],                        # logits ndim (class axis 1, like torch)
))


@pytest.mark.parametrize(
    "case", CE_GRID,
    ids=lambda c: (f"{c[0].__name__}-{'w' if c[1] else 'now'}-ign{c[2]}-"
                   f"{c[3]}-ls{c[4]}-{c[5]}-{c[6]}d"))
def test_cross_entropy_vs_torch(impl, case):
    ce = impl.cross_entropy
    dtype, weighted, ignore_index, reduction, eps, kind, ndim = case
    rng = np.random.default_rng(11)
    shape = (6, 5) if ndim == 2 else (3, 5, 4)
    x = rng.normal(scale=3.0, size=shape).astype(dtype)
    batch = (shape[0],) + shape[2:]
    if kind == "index":
        t = rng.integers(0, shape[1], size=batch)
        t.reshape(-1)[:2] = [1, ignore_index]
    else:
        t = np.moveaxis(rng.dirichlet(np.ones(shape[1]), size=batch), -1,
                        1).astype(dtype)
    w = rng.uniform(0.5, 2.0, shape[1]).astype(dtype) if weighted else None
    if kind == "prob" and ignore_index >= 0:
        # PyTorch refuses a non-negative ignore_index for soft targets.
        with pytest.raises(RuntimeError, match="ignore_index"):
            F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t),
                            ignore_index=ignore_index)
        with pytest.raises(ValueError, match="ignore_index"):
            ce(x, t, axis=1, ignore_index=ignore_index)
        return
    loss, grad = ce(x, t, axis=1, weight=w, ignore_index=ignore_index,
                    reduction=reduction, label_smoothing=eps,
                    return_grad=True)
    tl, tg = _torch_value_and_grad(
        F.cross_entropy, x, torch.from_numpy(t),
        weight=None if w is None else torch.from_numpy(w),
        ignore_index=ignore_index, reduction=reduction, label_smoothing=eps)
    _check("loss", loss, tl, dtype)
    _check("grad", grad, tg, dtype)


SPECIAL = {
    "empty-index": (np.zeros((0, 3)), np.zeros(0, np.int64)),
    "empty-prob": (np.zeros((0, 3)), np.zeros((0, 3))),
    "all-ignored": (np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0]]),
                    np.array([-100, -100])),
    "minus-inf-logit": (np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, 0.0]]),
                        np.array([0, 2])),
}


@pytest.mark.parametrize("case", list(SPECIAL))
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_special_cases_vs_torch(impl, case, eps, reduction):
    ce = impl.cross_entropy
    x, t = SPECIAL[case]
    loss, grad = ce(x, t, reduction=reduction, label_smoothing=eps,
                    return_grad=True)
    tl, tg = _torch_value_and_grad(F.cross_entropy, x, torch.from_numpy(t),
                                   reduction=reduction, label_smoothing=eps)
    _check("loss", loss, tl, np.float64)
    _check("grad", grad, tg, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_vs_torch(impl, dtype, reduction):
    nll = impl.nll_loss
    rng = np.random.default_rng(12)
    lp = np.log(rng.dirichlet(np.ones(4), size=7)).astype(dtype)
    t = rng.integers(0, 4, size=7)
    t[0] = -100
    w = rng.uniform(0.5, 2.0, 4).astype(dtype)
    got = nll(lp, t, weight=w, reduction=reduction)
    want = F.nll_loss(torch.from_numpy(lp), torch.from_numpy(t),
                      weight=torch.from_numpy(w), reduction=reduction)
    _check("nll", got, want.numpy(), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [None, "full", "row"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_vs_torch(impl, dtype, weighted, reduction):
    bce = impl.binary_cross_entropy
    rng = np.random.default_rng(13)
    x = rng.normal(scale=4.0, size=(6, 5)).astype(dtype)
    x[0, :4] = [1e4, -1e4, 30.0, -30.0]
    t = rng.uniform(size=(6, 5)).astype(dtype)
    t[0, :4] = [1.0, 0.0, 1.0, 0.0]
    w = {None: None,
         "full": rng.uniform(0.5, 2.0, (6, 5)),
         "row": rng.uniform(0.5, 2.0, 5)}[weighted]
    w = None if w is None else w.astype(dtype)
    loss, grad = bce(x, t, weight=w, reduction=reduction, return_grad=True)
    tl, tg = _torch_value_and_grad(
        F.binary_cross_entropy_with_logits, x, torch.from_numpy(t),
        weight=None if w is None else torch.from_numpy(w),
        reduction=reduction)
    _check("loss", loss, tl, dtype)
    _check("grad", grad, tg, dtype)
