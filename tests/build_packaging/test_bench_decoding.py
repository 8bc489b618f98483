"""The decoding benchmark's NumPy baselines compute what csoftmax does (so its ratios compare
like with like). The usual way walks the kept entries by probability, not by index, so its
draws are checked to fall in the kept set rather than to equal csoftmax's."""
import numpy as np

from csoftmax import reference as ref
from csoftmax.bench import decoding
from helpers import draw


def test_numpy_baselines_agree_with_reference():
    x = draw((6, 1000), np.float32, seed=2)
    top = ref.top_k_softmax(x, decoding.TOP_K)[1]
    for seed in range(5):
        got = decoding.numpy_sample(x, np.random.default_rng(seed))
        assert all(g in row for g, row in zip(got, top))
    x1 = np.array([[0.0, 8.0, 1.0, 8.5]], np.float32)    # top_p keeps entries 1 and 3 only
    assert {int(decoding.numpy_sample(x1, np.random.default_rng(s), None)[0])
            for s in range(30)} == {1, 3}
    v, i = decoding.numpy_top_k(x)
    vr, ir = ref.top_k_softmax(x, decoding.K, temperature=decoding.T, log=True)
    np.testing.assert_array_equal(i, ir)
    np.testing.assert_allclose(v, vr, rtol=1e-4)
