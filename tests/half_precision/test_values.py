"""float16 inputs to the softmax family, for every implementation: hand-checked values, results
computed in float32 and rounded once (to the largest finite value or to inf, silently)."""

import numpy as np
import pytest

# The special cases are documented as silent: any RuntimeWarning is a bug.
pytestmark = pytest.mark.filterwarnings("error")

INF = np.inf


def test_float16_input(impl):
    x = np.array([[0.0, 1.0, 2.0, -60000.0], [65504.0, 65504.0, 0.0, -INF]], dtype=np.float16)
    sm, ls, lse = impl.softmax(x), impl.log_softmax(x), impl.logsumexp(x)
    assert sm.dtype == ls.dtype == lse.dtype == np.float16
    x64 = x.astype(np.float64)
    m = x64.max(axis=1, keepdims=True)
    e = np.exp(x64 - m)
    f16_tol = dict(rtol=float(np.finfo(np.float16).eps), atol=0)
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), **f16_tol)
    np.testing.assert_allclose(ls, (x64 - m) - np.log(e.sum(axis=1, keepdims=True)), **f16_tol)
    np.testing.assert_allclose(lse, (m + np.log(e.sum(axis=1, keepdims=True)))[:, 0], **f16_tol)
    assert isinstance(impl.logsumexp(x[0]), np.float16)


def test_float16_result_rounds_to_largest_finite(impl):
    # logsumexp([65504, 65504]) = 65504.69 is computed in float32 and then rounds to
    # float16's largest finite value, not to inf.
    assert impl.logsumexp(np.array([65504, 65504], dtype=np.float16)) == np.float16(65504)


def test_float16_results_overflow_to_inf_silently(impl):
    # -6e4 - 6e4 is computed in float32; rounding it to float16 gives -inf, without a warning.
    x = np.array([6e4, -6e4], dtype=np.float16)
    np.testing.assert_array_equal(impl.log_softmax(x), [0, -INF])
    np.testing.assert_array_equal(impl.softmax(x), [1, 0])
    out = np.empty(2, dtype=np.float16)
    impl.log_softmax(x, out=out)
    np.testing.assert_array_equal(out, [0, -INF])
